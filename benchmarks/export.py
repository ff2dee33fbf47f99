"""Export benchmark: each output format written from one generated practice's DuckDB file.

Generates N patients once (DuckDB only), then, each in a fresh process (so peak memory is its own),
writes every format with `synthgp export` and prints seconds, items written (rows, resources or
bundles) per second, peak memory, and the ratio of its time to a plain Parquet write of the record
tables the formats read (the baseline, run in the same process just before).

    python benchmarks/export.py                  # 100,000 patients
    python benchmarks/export.py --patients 20000
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
    out = pathlib.Path(sys.argv[2])
    m = engine.generate(scenario.load(), engine.RunOptions(n_patients=int(sys.argv[1]), seed=1, out=out,
                        formats=("duckdb",), progress=False))
    print(json.dumps({"seconds": m["seconds"]}))
""")

CHILD = textwrap.dedent("""
    import json, resource, sys, time, pathlib, shutil
    import duckdb
    from synthgp.simulate import run as engine
    from synthgp.formats import FOLDERS
    out, fmt = pathlib.Path(sys.argv[1]), sys.argv[2]
    con = duckdb.connect(str(out / engine.DB_NAME), read_only=True)
    con.execute(f"SET memory_limit = '{engine.DUCKDB_MEMORY_LIMIT}'")
    tables = ["patient", "patient_identity", "consultation", "observation", "problem", "referral", "drug_issue"]
    base_dir = out / ".bench-parquet"
    base_dir.mkdir(exist_ok=True)
    t = time.perf_counter()
    for name in tables:
        con.execute(f"COPY {name} TO '{base_dir / name}.parquet' (FORMAT parquet)")
    base = time.perf_counter() - t
    rows = sum(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] for name in tables)
    con.close()
    shutil.rmtree(base_dir)
    t = time.perf_counter()
    engine.export(out, (fmt,), overwrite=True)
    secs = time.perf_counter() - t
    folder = out / FOLDERS[fmt]
    if fmt == "fhir":
        items = sum(o["count"] for o in json.loads((folder / "export.json").read_text())["output"])
    elif fmt == "fhir-bundles":
        items = sum(1 for _ in folder.glob("*/*.json"))
    elif fmt == "csv":
        items = sum(sum(1 for _ in p.open()) - 1 for p in folder.glob("*.csv"))
    else:
        items = rows
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"base": base, "rows": rows, "secs": secs, "items": items, "mb": size / 1e6, "rss_mb": rss}))
""")

UNITS = {"fhir": "resources", "fhir-bundles": "bundles", "csv": "CSV rows"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--formats", default="parquet,aurum,csv,fhir,fhir-bundles")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        g = run_child(GENERATE, a.patients, out)
        print(f"{a.patients:,} patients generated in {g['seconds']:.1f} s (DuckDB only)\n")
        print(f"{'format':>13} {'seconds':>8} {'items':>12} {'unit':>10} {'items/s':>10} {'MB on disk':>10} "
              f"{'peak MB':>8} {'vs plain Parquet':>16}")
        for fmt in a.formats.split(","):
            m = run_child(CHILD, out, fmt)
            print(f"{fmt:>13} {m['secs']:>8.1f} {m['items']:>12,} {UNITS.get(fmt, 'rows'):>10} "
                  f"{m['items'] / m['secs']:>10,.0f} {m['mb']:>10,.0f} {m['rss_mb']:>8.0f} "
                  f"{m['secs'] / m['base']:>15.1f}x")
        print(f"\nbaseline: plain Parquet of the {m['rows']:,} record rows the formats read, {m['base']:.2f} s")


if __name__ == "__main__":
    main()
