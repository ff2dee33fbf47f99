"""Everyday care from the record alone: consultations per person-year (overall, by year, by age band
and sex), who was seen and how, the share of consultations with a coded entry, antibiotic and all
prescription items per person-year (all items, and the shares of three BNF chapters), and the weekday pattern.

Person-years are each patient's registered, living days in the period (from birth or registration to
leaving, death or the period's end); a consultation is a contact with a clinician (face to face,
telephone, clinic, home visit, video: not results, letters or administration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import reference

BANDS = (0, 5, 15, 25, 45, 65, 75, 85)  # data/consultations.toml [rates] ages
BAND_LABELS = ("0-4", "5-14", "15-24", "25-44", "45-64", "65-74", "75-84", "85+")
CLINICAL = (1, 2, 3, 6, 7)  # conssourceid: face to face, telephone, clinic, home visit, video
FACE_TO_FACE = (1, 3)  # in the surgery (home visits apart, as NHS Digital counts them)
YEARS = (2014, 2017, 2019, 2020, 2024)  # the years the figures ask of (calendar years)
PARTS = {"consultations_by_age_female": BAND_LABELS, "consultations_by_age_male": BAND_LABELS}
CHAPTERS = {"cardiovascular": "02", "cns": "04", "endocrine": "06"}  # BNF chapters with a published share of items


def _lookup(name: str, description: str) -> int:
    rows = reference.toml("aurum_lookups.toml")[name]["rows"]
    return next(i for i, d in rows if d == description)


def antibiotic_products() -> str:
    """prodcodeids of systemic antibacterials (BNF section 5.1) in data/medicines.toml, for SQL IN (...)."""
    meds = reference.toml("medicines.toml")
    ids = [lv["prodcodeid"] for v in meds.values() if isinstance(v, dict) and str(v.get("bnf", "")).startswith("0501")
           for lv in v["levels"]]
    return ", ".join(str(i) for i in ids) or "NULL"


def _person_years(con: duckdb.DuckDBPyConnection, lo: dt.date, hi: dt.date) -> None:
    """A temporary table py(patid, gender, age, years): registered, living time in [lo, hi], age at its middle."""
    con.execute("""CREATE OR REPLACE TEMP TABLE py AS
        SELECT p.patid, p.gender, (date_diff('day', t.date_of_birth, s) + date_diff('day', s, e) / 2) / 365.25 AS age,
               (date_diff('day', s, e) + 1) / 365.25 AS years
        FROM (SELECT p.patid, p.gender, greatest(p.regstartdate, t.date_of_birth, ?::DATE) AS s,
                     least(coalesce(p.regenddate, ?::DATE), coalesce(p.cprd_ddate, ?::DATE), ?::DATE) AS e
              FROM patient p JOIN person_truth t USING (patid)) p
        JOIN person_truth t USING (patid) WHERE e >= s""", [lo, hi, hi, hi])


def _rates_of_year(con: duckdb.DuckDBPyConnection, year: int) -> tuple[float, dict[str, list[float]]]:
    lo, hi = dt.date(year, 1, 1), dt.date(year, 12, 31)
    _person_years(con, lo, hi)
    band = "CASE " + " ".join(f"WHEN age < {b} THEN {i - 1}" for i, b in enumerate(BANDS) if i) + f" ELSE {len(BANDS) - 1} END"
    rows = con.execute(f"""
        WITH c AS (SELECT patid, count(*) AS n FROM consultation
                   WHERE consdate BETWEEN ?::DATE AND ?::DATE AND conssourceid IN {CLINICAL} GROUP BY 1)
        SELECT py.gender, {band} AS b, sum(coalesce(c.n, 0)), sum(py.years)
        FROM py LEFT JOIN c USING (patid) GROUP BY ALL""", [lo, hi]).fetchall()
    total_n, total_y = sum(r[2] for r in rows), sum(r[3] for r in rows)
    by = {"female": [float("nan")] * len(BANDS), "male": [float("nan")] * len(BANDS)}
    for g, b, n, y in rows:
        if g in (1, 2) and y > 0:
            by["male" if g == 1 else "female"][b] = n / y
    return (total_n / total_y if total_y else float("nan")), by


def measure(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The figures of data/calibration.toml's consultation block, for the whole calendar years of the record
    (the burn-in's history included) up to `end`."""
    if not con.execute("SELECT count(*) FROM consultation").fetchone()[0]:
        return {}
    q = lambda sql, *a: con.execute(sql, list(a)).fetchall()  # noqa: E731
    first = q("SELECT min(consdate) FROM consultation")[0][0]
    years = [y for y in YEARS if dt.date(y, 1, 1) >= first and dt.date(y, 12, 31) <= end]
    out: dict[str, Any] = {"consultations_per_person_year": {}, "gp_share": {}, "face_to_face_share": {},
                           "antibiotic_items_per_person_year": {}, "items_per_person_year": {}, "acute_items_share": {},
                           **{f"{name}_items_share": {} for name in CHAPTERS}}
    gp = _lookup("JobCat", "General Medical Practitioner")
    for y in years:
        rate, by = _rates_of_year(con, y)
        out["consultations_per_person_year"][str(y)] = rate
        if y == 2014:
            out["consultations_by_age_female"], out["consultations_by_age_male"] = by["female"], by["male"]
        lo, hi = dt.date(y, 1, 1), dt.date(y, 12, 31)
        shares = q(f"""SELECT avg((s.jobcatid = {gp})::INT), avg((c.conssourceid IN {FACE_TO_FACE})::INT)
                       FROM consultation c JOIN staff s USING (staffid)
                       WHERE c.consdate BETWEEN ?::DATE AND ?::DATE AND c.conssourceid IN {CLINICAL}""", lo, hi)[0]
        out["gp_share"][str(y)], out["face_to_face_share"][str(y)] = shares
        pyears = q("SELECT sum(years) FROM py")[0][0]
        abx = q(f"SELECT count(*) FROM drug_issue WHERE issuedate BETWEEN ?::DATE AND ?::DATE "
                f"AND prodcodeid IN ({antibiotic_products()})", lo, hi)[0][0]
        out["antibiotic_items_per_person_year"][str(y)] = abx / pyears
        by_chapter = dict(q("""SELECT substr(p.bnfchapter, 1, 2), count(*) FROM drug_issue i JOIN product_dictionary p
                               USING (prodcodeid) WHERE i.issuedate BETWEEN ?::DATE AND ?::DATE GROUP BY 1""", lo, hi))
        items = sum(by_chapter.values())
        out["items_per_person_year"][str(y)] = items / pyears
        # acute: an issue whose drug record was issued once (a repeat's record carries all its issues)
        acute = q("""WITH once AS (SELECT drugrecid FROM drug_issue GROUP BY 1 HAVING count(*) = 1)
                     SELECT count(*) FROM drug_issue i SEMI JOIN once USING (drugrecid)
                     WHERE i.issuedate BETWEEN ?::DATE AND ?::DATE""", lo, hi)[0][0]
        out["acute_items_share"][str(y)] = acute / items if items else float("nan")
        for name, chapter in CHAPTERS.items():
            out[f"{name}_items_share"][str(y)] = by_chapter.get(chapter, 0) / items if items else float("nan")
    last = (dt.date(end.year, 1, 1), dt.date(end.year, 12, 31)) if end.month == 12 and end.day == 31 else (
        end - dt.timedelta(days=364), end)
    out["consultations_coded_share"] = q(f"""
        SELECT avg((EXISTS (SELECT 1 FROM observation o WHERE o.consid = c.consid AND o.patid = c.patid))::INT)
        FROM consultation c WHERE c.consdate BETWEEN ?::DATE AND ?::DATE AND c.conssourceid IN {CLINICAL}""", *last)[0][0]
    out["consultations_sunday_share"] = q(
        f"SELECT avg((dayofweek(consdate) = 0)::INT) FROM consultation WHERE conssourceid IN {CLINICAL}")[0][0]
    out["consultations_saturday_share"] = q(
        f"SELECT avg((dayofweek(consdate) = 6)::INT) FROM consultation WHERE conssourceid IN {CLINICAL}")[0][0]
    return {k: v for k, v in out.items() if v != {}}
