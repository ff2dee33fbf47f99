"""The output of a run: the DuckDB file holds every table, and the same seed gives the same output whatever
the workers, the block size or the Dask cluster."""

from pathlib import Path

import duckdb
import pytest

from tests.conftest import generate
from tests.golden import digest


def test_duckdb_holds_every_table_with_docs(small):
    from synthgp.core import schema

    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert {t.name for t in schema.ALL_TABLES} <= tables
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'person_truth'").fetchone()[0]
    assert comment.startswith("[truth]")


def _digest(out: Path) -> dict[str, str]:
    """sha256 of every DuckDB table (its columns, and its rows in stored order) and of every file the run wrote
    (tests/golden/digest.py): every table of the schema and every Aurum file, and the dictionaries and lookups
    besides, hashed inside DuckDB."""
    return digest.digests(out)


@pytest.fixture(scope="module")
def one_block(tmp_path_factory) -> dict[str, str]:
    """Digests of 7,000 patients, seed 9, simulated in one block in this process (the default workers and
    block size): what every other way of running the same seed must give."""
    return _digest(generate(tmp_path_factory.mktemp("one") / "one", 7_000, seed=9, block_size=50_000))


def test_same_seed_same_output_whatever_the_workers_and_block_size(one_block, tmp_path):
    # One block, two uneven blocks over two processes, and four uneven blocks: every
    # per-person draw must be keyed by the person, never by where they fall.
    two = generate(tmp_path / "two", 7_000, seed=9, workers=2, block_size=5_000)
    small_blocks = generate(tmp_path / "three", 7_000, seed=9, block_size=2_048)
    d1 = one_block
    assert d1 == _digest(two)
    assert d1 == _digest(small_blocks)
    other = generate(tmp_path / "four", 7_000, seed=10, formats=("duckdb",), care=False)  # the population is enough
    assert _digest(other)["table/patient"] != d1["table/patient"]


def test_an_existing_dask_cluster_gives_the_same_output(one_block, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = generate(tmp_path / "remote", 7_000, seed=9, scheduler=cluster.scheduler_address, block_size=5_000)
    assert _digest(remote) == one_block  # the same seed in one block, in this process


def test_local_cluster_workers_keep_glibc_dynamic_mmap_threshold():
    """Dask's default MALLOC_TRIM_THRESHOLD_ makes numpy blocks page-fault heavily (see engine.local_cluster);
    our workers must not carry it, but must keep Dask's one-thread limits for BLAS/OpenMP."""
    import os

    from dask.distributed import Client

    from synthgp.simulate.blocks import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        env = next(iter(client.run(lambda: dict(os.environ)).values()))
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert env.get("OMP_NUM_THREADS") == "1"
