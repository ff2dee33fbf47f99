"""Parquet output: every table, partitioned by practice, reads back complete."""

import duckdb

from synthgp.cli import main
from synthgp.core import schema


def test_every_table_round_trips_through_partitioned_parquet(small):
    assert main(["export", str(small), "--format", "parquet", "--overwrite"]) == 0
    db = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    mem = duckdb.connect()
    pracids = {r[0] for r in db.execute("SELECT pracid FROM practice").fetchall()}
    for t in schema.ALL_TABLES:
        folder = small / "parquet" / t.name
        if db.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]:
            assert {p.name for p in folder.iterdir()} <= {f"pracid={p}" for p in pracids}
        glob = (folder / "*" / "*.parquet").as_posix()
        back = mem.execute(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true)").fetchone()[0]
        assert back == db.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0], t.name
    # one practice's observations read alone, and they are that practice's
    p = min(pracids)
    one = mem.execute(f"""SELECT count(*), min(patid % 100000), max(patid % 100000) FROM read_parquet(
        '{(small / "parquet" / "observation" / f"pracid={p}" / "*.parquet").as_posix()}')""").fetchone()
    assert one[0] > 0 and one[1] == one[2] == p
    assert (small / "parquet" / "reference" / "medical_dictionary.parquet").is_file()
