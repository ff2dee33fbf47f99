"""Full-record benchmark: patients with ten years of records, from scratch to DuckDB and Aurum files.

Prints wall time, patients per second, rows written and peak memory, for 1 and 2 workers, each in
a fresh subprocess. The baseline is the population alone (no care pathway) in the same process,
so the ratio shows what the ten years of care cost.

    python benchmarks/simulate.py              # 100,000 patients
    python benchmarks/simulate.py --patients 20000
"""

from __future__ import annotations

import argparse
import textwrap

from _runner import run_child

CHILD = textwrap.dedent("""
    import json, resource, sys, time, tempfile, pathlib
    import numpy as np
    from synthgp.simulate import run as engine
    from synthgp.population import people, plan as population
    from synthgp.core import scenario
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    sc = scenario.load()
    t = time.perf_counter()
    plan = population.make_plan(sc, 1, n)
    for lo in range(0, n, engine.DEFAULT_BLOCK_SIZE):
        people.simulate_people(plan, lo, min(n, lo + engine.DEFAULT_BLOCK_SIZE))
    base = time.perf_counter() - t
    out = pathlib.Path(tempfile.mkdtemp()) / "out"
    t = time.perf_counter()
    m = engine.generate(sc, engine.RunOptions(n_patients=n, seed=1, out=out, workers=workers, progress=False))
    full = time.perf_counter() - t
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"base": base, "full": full, "rss_mb": rss / 1024, "rows": sum(m["tables"].values()),
                      "obs": m["tables"]["observation"], "issues": m["tables"]["drug_issue"]}))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    a = ap.parse_args()
    print(f"{'patients':>9} {'workers':>7} {'seconds':>8} {'patients/s':>10} {'rows':>11} {'observations':>12} "
          f"{'issues':>10} {'peak MB':>8} {'vs population only':>18}")
    for workers in (1, 2):
        m = run_child(CHILD, a.patients, workers)
        print(f"{a.patients:>9,} {workers:>7} {m['full']:>8.1f} {a.patients / m['full']:>10,.0f} {m['rows']:>11,} "
              f"{m['obs']:>12,} {m['issues']:>10,} {m['rss_mb']:>8.0f} {m['full'] / m['base']:>17.0f}x")


if __name__ == "__main__":
    main()
