"""What a year of a generated practice's record holds: the figures issue 17 opened with, read from the
DuckDB file alone, so a version before and after a change can be set side by side.

    python benchmarks/record_shape.py out/sw/synthgp.duckdb            # the last full year of data
    python benchmarks/record_shape.py out/sw/synthgp.duckdb --year 2019

England's figures for comparison (docs/calibration.md has their sources): about 5.2-5.8
consultations per patient a year, about 20 prescription items.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

QUERIES = {
    "registered patients (person-years in the year)": """
        SELECT sum(greatest(0, datediff('day', greatest(regstartdate, $y0), least(coalesce(regenddate, $y1),
               coalesce(cprd_ddate, $y1), $y1)) + 1)) / 365.25 FROM patient""",
    "consultations per person-year": "SELECT (SELECT count(*) FROM cons) / $py",
    "consultations in children under five": """
        SELECT count(*) FROM cons JOIN patient USING (patid) WHERE year(consdate) - yob < 5""",
    "share of consultations with a coded entry": """
        SELECT avg((consid IN (SELECT consid FROM observation WHERE consid IS NOT NULL))::INT) FROM cons""",
    "share of consultations on a Sunday": "SELECT avg((dayofweek(consdate) = 0)::INT) FROM cons",
    "share of consultations on a Saturday": "SELECT avg((dayofweek(consdate) = 6)::INT) FROM cons",
    "prescription items per person-year": "SELECT (SELECT count(*) FROM iss) / $py",
    "share of items issued on a weekend": "SELECT avg((dayofweek(issuedate) IN (0, 6))::INT) FROM iss",
    "distinct SNOMED CT concepts observed": """
        SELECT count(DISTINCT d.snomedctconceptid) FROM obs JOIN medical_dictionary d USING (medcodeid)""",
    "observations per person-year": "SELECT (SELECT count(*) FROM obs) / $py",
    "share of BP readings entered by a GP": """
        SELECT avg((j.description = 'General Medical Practitioner')::INT)
        FROM obs o JOIN medical_dictionary d USING (medcodeid) JOIN staff s USING (staffid)
        JOIN lookup_JobCat j USING (jobcatid) WHERE d.cluster = 'BP'""",
    "share of BP readings at a GP's consultation": """
        SELECT avg((j.description = 'General Medical Practitioner')::INT)
        FROM obs o JOIN medical_dictionary d USING (medcodeid) JOIN consultation c USING (consid)
        JOIN staff s ON s.staffid = c.staffid JOIN lookup_JobCat j USING (jobcatid) WHERE d.cluster = 'BP'""",
    "patients with 5+ BMIs whose BMI never changes": """
        SELECT count(*) FILTER (WHERE k = 1) || ' of ' || count(*) FROM (
            SELECT patid, count(DISTINCT value) AS k FROM observation JOIN medical_dictionary USING (medcodeid)
            WHERE cluster = 'BMI' GROUP BY patid HAVING count(*) >= 5)""",
    "same-day duplicate values (patient, code, day; BP aside)": """
        SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM obs JOIN medical_dictionary USING (medcodeid)
            WHERE value IS NOT NULL AND cluster <> 'BP' GROUP BY patid, medcodeid, obsdate HAVING count(*) > 1)""",
    "vaccinations recorded (clusters FLU, COVIDVAC, IMM*)": """
        SELECT count(*) FROM obs JOIN medical_dictionary USING (medcodeid)
        WHERE cluster IN ('FLU', 'COVIDVAC') OR cluster LIKE 'IMM%'""",
}


def shape(db: Path, year: int | None = None) -> dict[str, object]:
    """The figures of QUERIES for `year` (default: the last full year of consultations)."""
    con = duckdb.connect(str(db), read_only=True)
    if year is None:
        last = con.sql("SELECT max(consdate) FROM consultation").fetchall()[0][0]
        year = last.year if (last.month, last.day) == (12, 31) else last.year - 1
    y0, y1 = f"{year}-01-01", f"{year}-12-31"
    for name, table, day in (("cons", "consultation", "consdate"), ("obs", "observation", "obsdate"),
                             ("iss", "drug_issue", "issuedate")):
        con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {table} WHERE {day} BETWEEN DATE '{y0}' AND DATE '{y1}'")
    out: dict[str, object] = {"year": year}
    params = {"y0": y0, "y1": y1}
    for name, sql in QUERIES.items():
        args = {k: v for k, v in {**params, "py": out.get("registered patients (person-years in the year)")}.items()
                if f"${k}" in sql}
        out[name] = con.execute(sql, args).fetchall()[0][0]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path, help="a generated practice's synthgp.duckdb")
    ap.add_argument("--year", type=int, help="calendar year (default: the last full year)")
    a = ap.parse_args(argv)
    if not a.db.is_file():
        print(f"no such DuckDB file: {a.db} (give OUT/synthgp.duckdb of `synthgp generate`)", file=sys.stderr)
        return 2
    for name, value in shape(a.db, a.year).items():
        print(f"{name:<62} {value:.3f}" if isinstance(value, float) else f"{name:<62} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
