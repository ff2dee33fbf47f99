"""Population benchmark (no care pathways): patients per second and peak memory, 100,000 and 1,000,000 patients.

Each configuration runs in a fresh subprocess, so peak memory (max RSS, including Dask workers)
is that run's own. The baseline is the simulation alone (block tables built in memory and
dropped), run in the same process as the full generate, so the ratio shows what output costs.

    python benchmarks/population.py            # 100k and 1M, 1 and 2 workers
    python benchmarks/population.py --quick    # 100k only
"""

from __future__ import annotations

import argparse
import textwrap

from _runner import run_child

CHILD = textwrap.dedent("""
    import atexit, json, resource, shutil, sys, time, tempfile, pathlib
    from synthgp.simulate import block, run as engine
    from synthgp.population import plan as population
    from synthgp.record import tables as record
    from synthgp.core import scenario
    n, workers = int(sys.argv[1]), int(sys.argv[2])
    sc = scenario.load()
    t = time.perf_counter()
    plan = population.make_plan(sc, 1, n, care=False)
    for lo in range(0, n, engine.DEFAULT_BLOCK_SIZE):
        block.block_tables(plan, lo, min(n, lo + engine.DEFAULT_BLOCK_SIZE))
    sim = time.perf_counter() - t
    tmp = pathlib.Path(tempfile.mkdtemp())
    atexit.register(shutil.rmtree, tmp, True)
    out = tmp / "out"
    t = time.perf_counter()
    engine.generate(sc, engine.RunOptions(n_patients=n, seed=1, out=out, workers=workers, progress=False, care=False))
    full = time.perf_counter() - t
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"sim": sim, "full": full, "rss_mb": rss / 1024, "bytes": size}))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    sizes = [100_000] if a.quick else [100_000, 1_000_000]
    print(f"{'patients':>10} {'workers':>7} {'simulate s':>10} {'generate s':>10} {'patients/s':>11} "
          f"{'gen/sim':>7} {'peak MB':>8} {'output MB':>9}")
    for n in sizes:
        for workers in (1, 2):
            m = run_child(CHILD, n, workers)
            print(f"{n:>10,} {workers:>7} {m['sim']:>10.2f} {m['full']:>10.2f} {n / m['full']:>11,.0f} "
                  f"{m['full'] / m['sim']:>7.2f} {m['rss_mb']:>8.0f} {m['bytes'] / 1e6:>9.0f}")


if __name__ == "__main__":
    main()
