"""Simulating the blocks and staging their tables as Parquet, in process or on Dask workers.

Each block is simulated independently (block.block_tables is a pure function of the plan and its
patient range) and its tables are written to `stage/<table>/<block>.parquet`, so the output does not
depend on how many workers ran or in what order blocks finished.

- In process, a second thread makes block i into tables and stages them while block i+1 is simulated
  (sorting, gathering and writing Parquet run in numpy and Arrow, mostly without the GIL); at most
  one block waits, so memory stays at two blocks. The last block, with nothing left to simulate,
  is made into tables and written by both threads.
- On a local Dask cluster each worker stages its own blocks and sends back only row counts: the
  tables never travel through the client.
- On an existing cluster (`--scheduler`), whose workers may not see this machine's disk, workers send
  their tables back and the client stages them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthgp.population.plan import Plan
from synthgp.simulate import block

Blocks = list[tuple[int, int]]


def blocks_of(n: int, size: int) -> Blocks:
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def stage_path(stage: Path, table: str, i: int) -> Path:
    return Path(stage) / table / f"{i:06d}.parquet"


def write_block(tables: dict[str, pa.Table], stage: Path, i: int, pool: Executor | None = None) -> dict[str, int]:
    """Stage one block's tables (in `pool`'s threads, if given); returns their row counts."""
    # read once, by DuckDB, which sorts as it loads: no dictionaries or statistics to build (a
    # quarter less time than Parquet's defaults, for files a half larger)
    def write(name: str) -> None:
        pq.write_table(tables[name], stage_path(stage, name, i), compression="lz4", use_dictionary=False,
                       write_statistics=False)

    for _ in (pool.map(write, tables) if pool is not None else map(write, tables)):
        pass
    return {name: tbl.num_rows for name, tbl in tables.items()}


def simulate_and_stage(plan: Plan, lo: int, hi: int, stage: str, i: int) -> dict[str, int]:
    """A worker's task: simulate patients lo..hi-1 and stage their tables."""
    return write_block(block.block_tables(plan, lo, hi), Path(stage), i)


def local_cluster(workers: int):
    """A Dask LocalCluster of `workers` single-threaded processes, tuned for numpy-heavy blocks."""
    import dask
    from dask.distributed import LocalCluster

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it turns off glibc's dynamic
    # mmap threshold, so every numpy temporary over 128 KiB is mapped and unmapped afresh: a
    # 50,000-patient block took 33 s in a worker against 21 s in process, with 25 times the page
    # faults. Without it the worker takes 23 s and two workers beat one. Dask's nannies also copy
    # the variable into this process's environment (so any later spawn inherits it): it is held
    # out of the environment while our workers start, then put back as it was.
    # Nor do our workers run Dask's statistical profiler (every thread's stack sampled each 10 ms, for
    # a dashboard we do not start) or its GIL monitor: both take the GIL from the block (6% of it).
    key = "MALLOC_TRIM_THRESHOLD_"
    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items() if k != key}
    held = os.environ.pop(key, None)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ, "distributed.worker.profile.enabled": False,
                              "distributed.admin.system-monitor.gil.enabled": False}):
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=None, silence_logs=40)
    finally:
        if held is not None:
            os.environ[key] = held


def stage_blocks(plan: Plan, blocks: Blocks, stage: Path, workers: int = 1, scheduler: str | None = None,
                 done: Callable[[int], None] = lambda i: None) -> dict[str, int]:
    """Simulate and stage every block; `done(i)` as each is staged. Returns total rows per table."""
    totals: dict[str, int] = {}

    def add(counts: dict[str, int], i: int) -> None:
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
        done(i)

    if workers == 1 and scheduler is None:
        _in_process(plan, blocks, stage, add)
    else:
        _on_dask(plan, blocks, stage, workers, scheduler, add)
    return totals


def _in_process(plan: Plan, blocks: Blocks, stage: Path, add: Callable[[dict[str, int], int], None]) -> None:
    # one thread makes tables while the next block is simulated; the last block has nothing to overlap,
    # so its tables and files are made by two threads (Arrow and the log's sort release the GIL)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="synthgp-stage") as pool:
        pending: tuple[Future, int] | None = None
        for i, (lo, hi) in enumerate(blocks):
            simulated = block.simulate_block(plan, lo, hi)
            if pending is not None:
                add(pending[0].result(), pending[1])
            if i < len(blocks) - 1:
                pending = (pool.submit(_finish_and_write, plan, simulated, stage, i), i)
            else:
                pending = None
                add(_finish_and_write(plan, simulated, stage, i, pool), i)
            del simulated
        if pending is not None:
            add(pending[0].result(), pending[1])


def _finish_and_write(plan: Plan, simulated: block.Simulated, stage: Path, i: int, pool: Executor | None = None) -> dict[str, int]:
    return write_block(block.tables_of(plan, simulated, pool), stage, i, pool)


def _on_dask(plan: Plan, blocks: Blocks, stage: Path, workers: int, scheduler: str | None,
             add: Callable[[dict[str, int], int], None]) -> None:
    from dask.distributed import Client, as_completed

    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = local_cluster(workers)
        client = Client(cluster)
    try:
        plan_f = client.scatter(plan, broadcast=True)
        window = 2 * max(1, len(client.scheduler_info()["workers"]))
        pending = iter(enumerate(blocks))
        ac = as_completed()

        def submit() -> None:
            nxt = next(pending, None)
            if nxt is not None:
                i, (lo, hi) = nxt
                if scheduler:  # remote workers may not see this disk: tables come back
                    f = client.submit(block.block_tables, plan_f, lo, hi, pure=False)
                else:
                    f = client.submit(simulate_and_stage, plan_f, lo, hi, str(stage), i, pure=False)
                f.block = i
                ac.add(f)

        for _ in range(window):
            submit()
        for f in ac:
            result = f.result()
            f.release()
            add(write_block(result, stage, f.block) if scheduler else result, f.block)
            submit()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
