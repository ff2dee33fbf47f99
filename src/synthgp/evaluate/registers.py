"""QOF register prevalence and multimorbidity, computed from the record alone (never the truth).

A patient is on a register when the record holds a diagnosis code of the register's clusters (data/codes.csv
`cluster`), at any date up to the end; QOF's denominators are the list on the end date, of the register's ages
(diabetes 17+, CKD, depression and epilepsy 18+, osteoporosis 50+, rheumatoid arthritis 16+; all ages otherwise).
Multimorbidity counts the registers (hypertension included) a patient is on.

The obesity register (QOF OB002) is the one register kept from a value, not a diagnosis: patients aged 18+ on the list
whose latest BMI recorded in the 12 months up to the end date is 30 or more. It is not counted in multimorbidity
(Barnett 2012's 40 conditions do not include obesity).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import codes
from synthgp.evaluate.sampling import share

# register -> (code clusters, youngest age counted in the denominator)
REGISTERS: dict[str, tuple[tuple[str, ...], int]] = {
    "hypertension": (("HYP",), 0), "diabetes": (("DM",), 17), "asthma": (("AST",), 0), "copd": (("COPD",), 0),
    "chd": (("CHD", "MI"), 0), "stroke_tia": (("STROKE", "TIA"), 0), "af": (("AF",), 0), "heart_failure": (("HF",), 0),
    "pad": (("PAD",), 0), "ckd": (("CKD",), 18), "depression": (("DEPR",), 18), "dementia": (("DEM",), 0),
    "smi": (("SMI",), 0), "epilepsy": (("EPIL",), 18), "cancer": (("CAN",), 0), "learning_disability": (("LD",), 0),
    "osteoporosis": (("OST",), 50), "rheumatoid_arthritis": (("RA",), 16), "hypothyroidism": (("THY",), 0),
}
OBESITY_AGE, OBESITY_BMI = 18, 30.0  # QOF OB002: aged 18+, BMI >= 30 in the preceding 12 months
OBESITY_YEARS = {"2016-17": "2017-03-31", "2022-23": "2023-03-31"}  # QOF years a figure is published for: their last day
BANDS = ((0, 25, "0-24"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 65, "55-64"),
         (65, 75, "65-74"), (75, 200, "75+"))


def _flags_sql() -> str:
    """One row per patient on the list at the end: age, and a 0/1 column per register."""
    cases = ",\n  ".join(
        f"max((m.cluster IN ({', '.join(repr(c) for c in cl)}))::INT) AS {name}" for name, (cl, _) in REGISTERS.items())
    return f"""
WITH cur AS (
  SELECT p.patid, date_diff('year', t.date_of_birth, pr.lcd) - (strftime(t.date_of_birth, '%m%d') > strftime(pr.lcd, '%m%d'))::INT AS age
  FROM patient p JOIN patient_identity t USING (patid) JOIN practice pr USING (pracid)
  WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3),
dx AS (
  SELECT o.patid,
  {cases}
  FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN practice pr ON pr.pracid = o.pracid
  WHERE o.obsdate <= pr.lcd AND m.cluster IN ({', '.join(repr(c) for cl, _ in REGISTERS.values() for c in cl)})
  GROUP BY 1)
SELECT cur.patid, cur.age, {', '.join(f'coalesce(dx.{n}, 0) AS {n}' for n in REGISTERS)}
FROM cur LEFT JOIN dx USING (patid)"""


def obesity_sql(on: str | None = None) -> str:
    """One row per patient on a list (at its end, or on the ISO date `on`): pracid, age, and `obese` (0/1): aged 18+
    with a latest BMI in the 12 months up to that date of 30 or more (QOF OB002), from the record alone."""
    if on is None:
        at, listed = "pr.lcd", "p.regenddate IS NULL AND p.cprd_ddate IS NULL"
    else:
        at = f"DATE '{dt.date.fromisoformat(on)}'"  # a clear error for a bad date
        listed = (f"p.regstartdate <= {at} AND (p.regenddate IS NULL OR p.regenddate > {at}) "
                  f"AND (p.cprd_ddate IS NULL OR p.cprd_ddate > {at}) AND pr.lcd >= {at}")
    return f"""
WITH cur AS (
  SELECT p.patid, p.pracid, {at} AS lcd,
    date_diff('year', i.date_of_birth, {at}) - (strftime(i.date_of_birth, '%m%d') > strftime({at}, '%m%d'))::INT AS age
  FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr USING (pracid)
  WHERE {listed} AND p.patienttypeid = 3),
bmi AS (
  SELECT o.patid, arg_max(o.value, o.obsdate) AS bmi FROM observation o JOIN cur USING (patid)
  WHERE o.medcodeid = {codes.medcode("bmi")} AND o.value IS NOT NULL
    AND o.obsdate <= cur.lcd AND o.obsdate > cur.lcd - INTERVAL 12 MONTH
  GROUP BY 1)
SELECT cur.patid, cur.pracid, cur.age, (cur.age >= {OBESITY_AGE} AND coalesce(bmi.bmi >= {OBESITY_BMI}, false))::INT AS obese
FROM cur LEFT JOIN bmi USING (patid)"""


def obesity(con: duckdb.DuckDBPyConnection, on: str | None = None) -> float | None:
    """The obesity register (QOF OB002) as a share of the list aged 18+, at the end or on the ISO date `on`."""
    return share(*con.execute(f"SELECT avg(obese), count(*) FROM ({obesity_sql(on)}) WHERE age >= {OBESITY_AGE}").fetchone())


def obesity_by_year(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The obesity register on the last day of each QOF year of OBESITY_YEARS that the record holds whole (12 months
    of observations before it, and a list on it)."""
    first = con.execute("SELECT min(obsdate) FROM observation").fetchone()[0]
    out = {}
    for year, day in OBESITY_YEARS.items():
        if first is not None and first <= dt.date.fromisoformat(day) - dt.timedelta(days=365):
            got = obesity(con, day)
            if got is not None:
                out[year] = got
    return out


def prevalence(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Each register as a share of the list of its ages on the end date (obesity: of those 18+)."""
    sel = ", ".join(f"avg({n}) FILTER (WHERE age >= {lo}), count(*) FILTER (WHERE age >= {lo})"
                    for n, (_, lo) in REGISTERS.items())
    row = con.execute(f"SELECT {sel} FROM ({_flags_sql()})").fetchone()
    out = {name: share(row[2 * i], row[2 * i + 1]) for i, name in enumerate(REGISTERS)}
    out["obesity"] = obesity(con)
    return out


def multimorbidity(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Share with two or more registers, by age band and over the whole list; mean registers by band."""
    count = " + ".join(REGISTERS)
    band = "CASE " + " ".join(f"WHEN age < {hi} THEN '{label}'" for _, hi, label in BANDS) + " END"
    rows = con.execute(f"""SELECT {band} AS band, avg(({count} >= 2)::INT), avg({count}), count(*)
                           FROM ({_flags_sql()}) GROUP BY 1""").fetchall()
    whole = con.execute(f"SELECT avg(({count} >= 2)::INT), count(*) FROM ({_flags_sql()})").fetchone()
    return {"by_band": {b: share(v, n) for b, v, _, n in rows}, "mean_by_band": {b: m for b, _, m, _ in rows},
            "people_by_band": {b: n for b, _, _, n in rows}, "all_ages": share(*whole)}


def doac_share(con: duckdb.DuckDBPyConnection, years=(2014, 2019)) -> dict[str, float]:
    """DOACs as a share of the oral anticoagulant issues (DOAC or vitamin K antagonist, data/medicines.toml's
    subclasses) of each calendar year the record holds."""
    from synthgp.core import reference

    meds = reference.toml("medicines.toml")
    prods = {sub: [lv["prodcodeid"] for v in meds.values() if isinstance(v, dict) and v.get("subclass") == sub
                   for lv in v["levels"]] for sub in ("DOAC", "vitamin K antagonist")}
    doac, every = ", ".join(map(str, prods["DOAC"])), ", ".join(map(str, prods["DOAC"] + prods["vitamin K antagonist"]))
    rows = con.execute(f"""SELECT year(issuedate), avg((prodcodeid IN ({doac}))::INT) FROM drug_issue
                           WHERE prodcodeid IN ({every}) GROUP BY 1""").fetchall()
    got = dict(rows)
    return {str(y): got[y] for y in years if y in got}


def measure(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The figures calibration.toml asks of the registers, keyed by its ids."""
    prev = prevalence(con)
    mm = multimorbidity(con)
    return {"register_prevalence": prev, "multimorbidity_by_age": mm["by_band"], "multimorbidity_all_ages": mm["all_ages"],
            "af_register": prev["af"], "cancer_register": prev["cancer"], "diabetes_register_17": prev["diabetes"],
            "doac_share_of_anticoagulants": doac_share(con), "obesity_register": obesity_by_year(con)}
