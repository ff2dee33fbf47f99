"""Digests of a whole small practice: every DuckDB table (rows in stored order) and every file of
every text format. A refactor must leave them unchanged; a deliberate change to the output
updates them in its own commit, saying what changed:

    python -m tests.golden.digest --update      # rewrite tests/golden/digests.json
    python -m tests.golden.digest               # print what differs from it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import duckdb

HERE = Path(__file__).parent
GOLDEN = HERE / "digests.json"
PATIENTS, SEED = 3_000, 17
# text formats whose bytes are ours alone (Parquet carries the writer's version in its metadata)
FORMATS = ("duckdb", "aurum", "cprd-cvd", "cprd-covid", "fhir", "fhir-bundles", "csv")
VOLATILE = {"manifest.json", "fhir/export.json"}  # carry the time of the run


def generate(out: Path) -> Path:
    from synthgp.core import scenario
    from synthgp.simulate import run as engine

    engine.generate(scenario.load(), engine.RunOptions(n_patients=PATIENTS, seed=SEED, out=out, formats=FORMATS,
                                                        progress=False, block_size=1_000))
    return out


def digests(out: Path) -> dict[str, str]:
    """sha256 of each table's rows (text, in stored order) and of each exported file's bytes."""
    d: dict[str, str] = {}
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        for t in tables:
            cols = con.execute(f"SELECT column_name || ' ' || data_type FROM duckdb_columns() WHERE table_name = '{t}' "
                               "ORDER BY column_index").fetchall()
            h = hashlib.sha256("\n".join(c[0] for c in cols).encode())
            for (chunk,) in con.execute(f'SELECT string_agg(x::VARCHAR, chr(10) ORDER BY rowid) FROM "{t}" x '
                                        "GROUP BY rowid // 50000 ORDER BY rowid // 50000").fetchall():
                h.update(chunk.encode())
            d[f"table/{t}"] = h.hexdigest()
    finally:
        con.close()
    bundles = hashlib.sha256()  # one digest for the thousands of per-patient bundle files
    for f in sorted(out.rglob("*")):
        rel = f.relative_to(out).as_posix()
        if not f.is_file() or rel in VOLATILE or rel.startswith("synthgp.duckdb") or f.suffix == ".parquet":
            continue
        h = hashlib.sha256(f.read_bytes()).hexdigest()
        if rel.startswith("fhir-bundles/"):
            bundles.update(f"{rel} {h}\n".encode())
        else:
            d[f"file/{rel}"] = h
    d["files/fhir-bundles"] = bundles.hexdigest()
    return d


def compare(now: dict[str, str], golden: dict[str, str]) -> list[str]:
    return ([f"changed: {k}" for k in sorted(now.keys() & golden.keys()) if now[k] != golden[k]]
            + [f"new: {k}" for k in sorted(now.keys() - golden.keys())]
            + [f"gone: {k}" for k in sorted(golden.keys() - now.keys())])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="rewrite the golden digests")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = digests(generate(Path(tmp) / "out"))
    if a.update:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(now)} digests to {GOLDEN}")
        return
    diff = compare(now, json.loads(GOLDEN.read_text()))
    print("\n".join(diff) or "identical")
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
