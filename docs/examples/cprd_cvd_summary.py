"""Worked example: flatten a generated practice to the regulator's cardiovascular table and summarise it.

    synthgp generate --patients 20000 --seed 17 --out practice20k
    synthgp export practice20k --format cprd-cvd
    python docs/examples/cprd_cvd_summary.py practice20k

Prints, per column, the share missing and the mean (or, for a text code, each level's share), then outcome rates by
QRISK3 band: the table a researcher would look at before fitting a model to it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb


def summarise(out: Path) -> str:
    table = Path(out) / "cprd_cvd" / "cprd_cvd.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{table.as_posix()}')")
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    lines = [f"{n:,} adults aged 25-84 at baseline", "", f"{'column':<15} {'missing':>8} {'mean':>9}"]
    for (col,) in con.execute("SELECT column_name FROM (DESCRIBE t)").fetchall():
        if col == "patid":
            continue
        kind = con.execute(f"SELECT column_type FROM (DESCRIBE t) WHERE column_name = '{col}'").fetchone()[0]
        if kind == "VARCHAR":  # a text code (gender): the share of each level
            missing, = con.execute(f'SELECT avg(("{col}" IS NULL)::INT) FROM t').fetchone()
            shares = con.execute(f'SELECT "{col}", count(*) / (SELECT count(*) FROM t) FROM t GROUP BY 1 ORDER BY 1').fetchall()
            lines.append(f"{col:<15} {missing:>8.1%}  " + " ".join(f"{v} {s:.3f}" for v, s in shares))
            continue
        missing, mean = con.execute(f'SELECT avg(("{col}" IS NULL)::INT), avg("{col}") FROM t').fetchone()
        lines.append(f"{col:<15} {missing:>8.1%} {mean:>9.3f}")
    lines += ["", f"{'QRISK3 band':<12} {'n':>7} {'stroke':>7} {'MI':>6} {'death':>6} {'follow-up':>9}"]
    for band, cnt, stroke, mi, death, fu in con.execute("""
            SELECT CASE WHEN qrisk3 < 10 THEN '<10%' WHEN qrisk3 < 20 THEN '10-20%' ELSE '20%+' END AS b,
                   count(*), avg(stroke_followup), avg(mi), avg(death), avg(followup_years)
            FROM t GROUP BY 1 ORDER BY min(qrisk3)""").fetchall():
        lines.append(f"{band:<12} {cnt:>7,} {stroke:>7.1%} {mi:>6.1%} {death:>6.1%} {fu:>8.1f}y")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1] if len(sys.argv) > 1 else "practice")))
