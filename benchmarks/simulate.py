"""Full-record benchmark, this checkout beside a baseline commit, in the same run.

For each version and worker count, in a fresh subprocess each: the simulation stage (every block
simulated and its tables staged as Parquet, in process or on a local Dask cluster, as `generate`
does it in that version) and then the whole run (`generate` to DuckDB and Aurum). Prints patients/s and rows/s of the simulation stage,
the whole run's seconds and peak memory (the largest of the process and its workers), and the
speed-up of this checkout over the baseline. The baseline is checked out from git into a temporary
worktree; by default it is the commit before the practice engine (BASELINE).

    python benchmarks/simulate.py                         # 100,000 patients, 1 and 2 workers
    python benchmarks/simulate.py --patients 20000 --against HEAD~3
    python benchmarks/simulate.py --no-baseline           # this checkout only
    python benchmarks/simulate.py --repeat 3              # the fastest of three runs each, interleaved
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

from _runner import run_child

BASELINE = "c903adc"  # the commit before the engine work (one hypertension function)
ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import atexit, json, resource, shutil, sys, time, tempfile, pathlib
    import pyarrow.parquet as pq
    n, workers, stage_only = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
    tmp = pathlib.Path(tempfile.mkdtemp())
    atexit.register(shutil.rmtree, tmp, True)  # a 100,000-patient run leaves about a gigabyte
    stage = tmp / "stage"
    try:
        from synthgp.core import schema, scenario
        from synthgp.population.plan import make_plan
        from synthgp.simulate import blocks, run as engine
        def simulation_stage(plan, o):
            todo = blocks.blocks_of(n, o.block_size)
            return sum(blocks.stage_blocks(plan, todo, stage, workers).values())
    except ImportError:  # the layout before the engine: blocks came back to the client, which staged them
        from synthgp import engine, schema, scenario
        from synthgp.population import make_plan
        def simulation_stage(plan, o):
            rows = 0
            for i, tables in engine._run_blocks(plan, engine._blocks(n, o.block_size), o):
                for name, tbl in tables.items():
                    pq.write_table(tbl, engine._stage_path(stage, name, i), compression="lz4")
                    rows += tbl.num_rows
            return rows
    for t in schema.BLOCK_TABLES:
        (stage / t.name).mkdir(parents=True)
    sc = scenario.load()
    o = engine.RunOptions(n_patients=n, seed=1, out=tmp / "out", workers=workers, progress=False)
    plan = make_plan(sc, 1, n)
    t = time.perf_counter()
    rows = simulation_stage(plan, o)
    stage_s = time.perf_counter() - t
    whole = None
    if not stage_only:
        t = time.perf_counter()
        engine.generate(sc, o)
        whole = time.perf_counter() - t
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"stage": stage_s, "rows": rows, "whole": whole, "rss_mb": rss / 1024}))
""")


def checkout(ref: str) -> Path:
    """A temporary git worktree of `ref`; its src/ goes on PYTHONPATH for the baseline runs."""
    where = Path(tempfile.mkdtemp(prefix="synthgp-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(where), ref], check=True)
    return where


def _fastest(runs: list[dict]) -> dict:
    """The fastest stage and whole run of several runs of one configuration, with the largest peak."""
    best = min(runs, key=lambda m: m["stage"])
    wholes = [m["whole"] for m in runs if m["whole"] is not None]
    return {**best, "whole": min(wholes) if wholes else None, "rss_mb": max(m["rss_mb"] for m in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--against", default=BASELINE, help="git commit to compare with (default: %(default)s)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--stage-only", action="store_true", help="skip the whole-run timing")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration, interleaved; the "
                    "fastest of each is shown (a shared machine only ever adds time)")
    a = ap.parse_args()
    if a.repeat < 1:
        ap.error(f"--repeat must be at least 1 (got {a.repeat})")
    base = None if a.no_baseline else checkout(a.against)
    versions = [("this checkout", str(ROOT / "src"))] + ([(f"baseline {a.against}", str(base / "src"))] if base else [])
    print(f"{'version':<22} {'workers':>7} {'stage s':>8} {'patients/s':>10} {'rows/s':>10} {'rows':>11} "
          f"{'whole s':>8} {'peak MB':>8}")
    try:
        results = {}
        for workers in (1, 2):
            runs: dict[str, list[dict]] = {name: [] for name, _ in versions}
            for _ in range(a.repeat):
                for name, src in versions:
                    env = {**os.environ, "PYTHONPATH": src}
                    runs[name].append(run_child(CHILD, a.patients, workers, int(a.stage_only), env=env))
            for name, _ in versions:
                m = results[name, workers] = _fastest(runs[name])
                whole = f"{m['whole']:>8.1f}" if m["whole"] is not None else f"{'-':>8}"
                print(f"{name:<22} {workers:>7} {m['stage']:>8.1f} {a.patients / m['stage']:>10,.0f} "
                      f"{m['rows'] / m['stage']:>10,.0f} {m['rows']:>11,} {whole} {m['rss_mb']:>8.0f}")
        if base:
            for workers in (1, 2):
                new, old = results["this checkout", workers], results[f"baseline {a.against}", workers]
                print(f"speed-up of the simulation stage, {workers} worker{'s' * (workers > 1)}: "
                      f"{old['stage'] / new['stage']:.2f}x")
    finally:
        if base:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
