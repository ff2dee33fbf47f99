"""Evaluation benchmark: `synthgp evaluate` on one generated practice, and `synthgp compare` of it
against a second practice, each in a fresh process (so peak memory is its own).

Prints wall seconds per stage, patients per second and peak memory. The baseline is reading the
record's row count in the same child (the cost of opening the file), so the ratio says what the
checks add.

    python benchmarks/evaluate.py                  # 100,000 patients (generated first, about a minute)
    python benchmarks/evaluate.py --patients 20000
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

from _runner import run_child

GENERATE = textwrap.dedent("""
    import json, sys, pathlib
    from synthgp.simulate import run as engine
    from synthgp.core import scenario
    m = engine.generate(scenario.load(), engine.RunOptions(n_patients=int(sys.argv[1]), seed=int(sys.argv[3]),
                        out=pathlib.Path(sys.argv[2]), progress=False))
    print(json.dumps({"seconds": m["seconds"]}))
""")

EVALUATE = textwrap.dedent("""
    import json, resource, sys, time, pathlib
    import duckdb
    t0 = time.perf_counter()
    con = duckdb.connect(sys.argv[1] + "/synthgp.duckdb", read_only=True)
    rows = con.execute("SELECT (SELECT count(*) FROM observation) + (SELECT count(*) FROM drug_issue)").fetchone()[0]
    con.close()
    base = time.perf_counter() - t0
    from synthgp.evaluate import practice as evaluate
    t0 = time.perf_counter()
    html, data = evaluate.write_report(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs, "baseline": base, "rows": rows, "stages": data["timings_s"],
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

COMPARE = textwrap.dedent("""
    import json, resource, sys, time, pathlib
    from synthgp.evaluate import compare
    t0 = time.perf_counter()
    html, data = compare.write_report(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]))
    print(json.dumps({"seconds": time.perf_counter() - t0, "stages": data["timings_s"],
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    n = ap.parse_args().patients
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        g = run_child(GENERATE, n, a, 1)
        run_child(GENERATE, n, b, 2)
        print(f"generated 2 x {n:,} patients ({g['seconds']:.1f} s each)\n")
        e = run_child(EVALUATE, a, Path(tmp) / "ev")
        c = run_child(COMPARE, a, b, Path(tmp) / "cmp")
    print(f"{'command':>9} {'seconds':>8} {'patients/s':>11} {'peak MB':>8}  stages (s)")
    for name, r in (("evaluate", e), ("compare", c)):
        stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
        print(f"{name:>9} {r['seconds']:8.1f} {n / r['seconds']:11,.0f} {r['peak_mb']:8.0f}  {stages}")
    print(f"\nbaseline: opening the file and counting {e['rows']:,} record rows took {e['baseline']:.2f} s; "
          f"evaluate is {e['seconds'] / e['baseline']:.0f}x that")


if __name__ == "__main__":
    main()
