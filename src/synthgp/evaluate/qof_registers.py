"""QOF beyond hypertension: each register's prevalence and the main indicator of its domain, per practice, computed
from the record alone (codes, issues, results, the patient and identity tables; never the truth).

On each practice's last collection date, among patients registered and alive then: a patient is on a register when a
code of its clusters was recorded up to the date (evaluate/registers.py, whose QOF age floors give each register's
denominator). The indicators (QOF 2023/24 where one exists; the register's annual review otherwise), each over the
register's members (of the ages named):
  HYP008  hypertension, under 80: last BP in 12 months <= 140/90 (evaluate/qof.py, with its new-registration exception);
  DM020   diabetes: last HbA1c in 12 months <= 58 mmol/mol;
  AF007   atrial fibrillation with CHA2DS2-VASc >= 2 (from the record's codes, age and sex): an anticoagulant issued
          in the last 6 months;
  CHOL003 CHD: a statin issued in the last 12 months;
  STIA007 stroke or TIA: an antiplatelet or anticoagulant issued in the last 12 months;
  CKD005  CKD (retired from QOF in 2019; NICE NG203's yearly ACR): a urine ACR in the last 12 months;
  AST007, COPD010, HF008, DEM004, THY (retired): asthma, COPD, heart failure, dementia and hypothyroidism reviews coded
          in the last 12 months;
  CHOL003 PAD as well (QOF's CHOL003 counts CHD, PAD and stroke/TIA): a statin issued in the last 12 months;
  OST     osteoporosis (OST004/OST005): a bone-sparing agent (bisphosphonate) issued in the last 12 months;
  MH003   severe mental illness: a BP reading in the last 12 months;
  CAN004  cancer first coded in the last 24 months (NICE IND223's window): a cancer care review within 12 months of it.
Obesity (OB002) is kept from the record's BMI values, not a code: adults 18+ whose latest BMI in the last 12 months is
30 or more (evaluate/registers.py); QOF 2023/24 has no obesity indicator beyond the register.
Depression (DEP003 asks for a review 10-56 days after a new diagnosis: no depression review code was confirmed, so
none is written), epilepsy, learning disability and rheumatoid arthritis (registers only in QOF 2023/24) show their
prevalence and a note saying why.
"""

from __future__ import annotations

from typing import Any

import duckdb

from synthgp.core import codes, reference
from synthgp.evaluate import qof, registers
from synthgp.evaluate.registers import REGISTERS

# register -> (indicator id, what it asks, youngest age in its denominator, oldest + 1, numerator SQL on the patient row)
INDICATORS: dict[str, tuple[str, str, int, int, str]] = {
    "diabetes": ("DM020", "last HbA1c in 12 months <= 58 mmol/mol", 17, 200, "hba1c_d > lcd - INTERVAL 12 MONTH AND hba1c <= 58"),
    "af": ("AF007", "CHA2DS2-VASc >= 2: anticoagulant issued in 6 months", 0, 200,
           "anticoagulant > lcd - INTERVAL 6 MONTH"),
    "chd": ("CHOL003", "statin issued in 12 months", 0, 200, "statin > lcd - INTERVAL 12 MONTH"),
    "stroke_tia": ("STIA007", "antiplatelet or anticoagulant issued in 12 months", 0, 200,
                   "greatest(antiplatelet, anticoagulant) > lcd - INTERVAL 12 MONTH"),
    "ckd": ("CKD005", "urine ACR in 12 months", 18, 200, "acr_d > lcd - INTERVAL 12 MONTH"),
    "asthma": ("AST007", "asthma review in 12 months", 0, 200, "review_asthma > lcd - INTERVAL 12 MONTH"),
    "copd": ("COPD010", "COPD review in 12 months", 0, 200, "review_copd > lcd - INTERVAL 12 MONTH"),
    "heart_failure": ("HF008", "heart failure review in 12 months", 0, 200, "review_heart_failure > lcd - INTERVAL 12 MONTH"),
    "dementia": ("DEM004", "dementia review in 12 months", 0, 200, "review_dementia > lcd - INTERVAL 12 MONTH"),
    "hypothyroidism": ("THY", "hypothyroidism review in 12 months", 0, 200, "review_hypothyroidism > lcd - INTERVAL 12 MONTH"),
    "pad": ("CHOL003", "statin issued in 12 months", 0, 200, "statin > lcd - INTERVAL 12 MONTH"),
    "osteoporosis": ("OST", "bone-sparing agent issued in 12 months", 50, 200, "bone > lcd - INTERVAL 12 MONTH"),
    "smi": ("MH003", "BP recorded in 12 months", 0, 200, "bp_d > lcd - INTERVAL 12 MONTH"),
    "cancer": ("CAN004", "diagnosed in 24 months: cancer care review within 12 months of it", 0, 200,
               "review_cancer >= can_d AND review_cancer <= can_d + INTERVAL 12 MONTH"),
}
# the rows of each practice's table, in order: the diagnosis registers, then obesity (kept from BMI values)
ROWS = (*REGISTERS, "obesity")
# more to an indicator's denominator than the register and its ages
DENOMINATOR = {"cancer": "can_d > lcd - INTERVAL 24 MONTH"}
# registers with no indicator here, and why
NO_INDICATOR = {"depression": "DEP003 (review 10-56 days after diagnosis): no depression review code confirmed",
                "epilepsy": "register only in QOF 2023/24", "learning_disability": "register only in QOF 2023/24",
                "rheumatoid_arthritis": "register only in QOF 2023/24",
                "obesity": "OB002: aged 18+, latest BMI in 12 months >= 30 (register only in QOF 2023/24)"}
REVIEWS = {"asthma": "asthma_annual_review", "copd": "copd_annual_review", "heart_failure": "heart_failure_annual_review",
           "dementia": "dementia_annual_review", "hypothyroidism": "hypothyroidism_annual_review",
           "cancer": "cancer_care_review"}
DRUG_GROUPS = {"statin": ("statin",), "antiplatelet": ("antiplatelet", "antiplatelet (P2Y12 inhibitor)",
                                                          "antiplatelet (modified-release dipyridamole)"),
               "anticoagulant": ("DOAC", "vitamin K antagonist"), "bone": ("bisphosphonate",)}
# CHA2DS2-VASc from the record: (registers, points)
CHADS_VASC = ((("heart_failure",), 1), (("hypertension",), 1), (("diabetes",), 1), (("stroke_tia",), 2), (("chd", "pad"), 1))


def _drugs_sql() -> str:
    """The products of each drug group, as a SQL table g(prodcodeid, grp), from data/medicines.toml's subclasses."""
    meds = reference.toml("medicines.toml")
    rows = [f"({lv['prodcodeid']}, '{grp}')" for grp, subs in DRUG_GROUPS.items() for v in meds.values()
            if isinstance(v, dict) and v["subclass"] in subs for lv in v["levels"]]
    return "(VALUES " + ", ".join(rows) + ") AS g(prodcodeid, grp)"


def patients_sql() -> str:
    """One row per patient on a list at its end: practice, age, sex, a 0/1 column per register, the last issue of
    each drug group, the last HbA1c and ACR, and the last review of each register that has one."""
    clusters = [c for cl, _ in REGISTERS.values() for c in cl]
    regs = ",\n  ".join(f"max((m.cluster IN ({', '.join(repr(c) for c in cl)}))::INT) AS {n}" for n, (cl, _) in REGISTERS.items())
    drugs = ", ".join(f"max(i.issuedate) FILTER (WHERE g.grp = '{g}') AS {g}" for g in DRUG_GROUPS)
    rev = ", ".join(f"max(o.obsdate) FILTER (WHERE o.medcodeid = {codes.medcode(k)}) AS review_{n}" for n, k in REVIEWS.items())
    hba1c, acr = codes.medcode("hba1c"), codes.medcode("urine_acr")
    return f"""
WITH cur AS (
  SELECT p.patid, p.pracid, pr.lcd, i.sex = 'female' AS female,
    date_diff('year', i.date_of_birth, pr.lcd) - (strftime(i.date_of_birth, '%m%d') > strftime(pr.lcd, '%m%d'))::INT AS age
  FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr USING (pracid)
  WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3),
dx AS (
  SELECT o.patid,
  {regs},
  min(o.obsdate) FILTER (WHERE m.cluster = 'CAN') AS can_d
  FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN cur USING (patid)
  WHERE o.obsdate <= cur.lcd AND m.cluster IN ({', '.join(repr(c) for c in clusters)}) GROUP BY 1),
rx AS (SELECT i.patid, {drugs} FROM drug_issue i JOIN {_drugs_sql()} USING (prodcodeid) JOIN cur USING (patid)
       WHERE i.issuedate <= cur.lcd GROUP BY 1),
obs AS (SELECT o.patid,
    max(o.obsdate) FILTER (WHERE o.medcodeid = {hba1c}) AS hba1c_d, arg_max(o.value, o.obsdate) FILTER (WHERE o.medcodeid = {hba1c}) AS hba1c,
    max(o.obsdate) FILTER (WHERE o.medcodeid = {acr}) AS acr_d, {rev}
  FROM observation o JOIN cur USING (patid)
  WHERE o.obsdate <= cur.lcd AND o.medcodeid IN ({hba1c}, {acr}, {', '.join(str(codes.medcode(k)) for k in REVIEWS.values())})
  GROUP BY 1),
bp AS (SELECT o.patid, max(o.obsdate) AS bp_d FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN cur USING (patid)
       WHERE m.cluster = 'BP' AND o.obsdate <= cur.lcd GROUP BY 1)
SELECT cur.*, {', '.join(f'coalesce(dx.{n}, 0) AS {n}' for n in REGISTERS)}, dx.can_d,
  {', '.join(f'rx.{g}' for g in DRUG_GROUPS)}, obs.* EXCLUDE (patid), bp.bp_d
FROM cur LEFT JOIN dx USING (patid) LEFT JOIN rx USING (patid) LEFT JOIN obs USING (patid) LEFT JOIN bp USING (patid)"""


def chads_vasc_sql() -> str:
    """CHA2DS2-VASc of a patient row: the registers' points, age (65-74: 1, 75+: 2) and female sex (1)."""
    parts = [f"(greatest({', '.join(regs)}) * {pts})" if len(regs) > 1 else f"({regs[0]} * {pts})" for regs, pts in CHADS_VASC]
    return " + ".join([*parts, "(CASE WHEN age >= 75 THEN 2 WHEN age >= 65 THEN 1 ELSE 0 END)", "female::INT"])


def by_practice(con: duckdb.DuckDBPyConnection) -> dict[int, list[dict[str, Any]]]:
    """Per practice: one row per register (hypertension first) with its list denominator, register count and
    prevalence, and its indicator's id, description, numerator, denominator and share (None where it has none)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE qof_pat AS {patients_sql()}")
    try:
        regs = ", ".join(f"count(*) FILTER (WHERE age >= {lo}) AS den_{n}, sum({n}) FILTER (WHERE age >= {lo}) AS on_{n}"
                         for n, (_, lo) in REGISTERS.items())
        ind = []
        for n, (_, _, lo, hi, num) in INDICATORS.items():
            extra = f" AND {chads_vasc_sql()} >= 2" if n == "af" else ""
            extra += f" AND {DENOMINATOR[n]}" if n in DENOMINATOR else ""
            den = f"{n} = 1 AND age >= {lo} AND age < {hi}{extra}"
            ind.append(f"count(*) FILTER (WHERE {den}) AS iden_{n}, count(*) FILTER (WHERE {den} AND coalesce({num}, false)) AS inum_{n}")
        rows = con.execute(f"SELECT pracid, {regs}, {', '.join(ind)} FROM qof_pat GROUP BY pracid ORDER BY pracid").fetchall()
        names = [d[0] for d in con.description]
    finally:
        con.execute("DROP TABLE IF EXISTS qof_pat")
    hyp = {r[0]: r for r in con.execute("SELECT pracid, hyp008_num, hyp008_den FROM (" + qof.indicators_sql() + ")").fetchall()}
    obese = {r[0]: r[1:] for r in con.execute(f"""SELECT pracid, count(*), sum(obese) FROM ({registers.obesity_sql()})
                                                  WHERE age >= {registers.OBESITY_AGE} GROUP BY 1""").fetchall()}
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        r = dict(zip(names, row))
        table = []
        for n in REGISTERS:
            den, on = r[f"den_{n}"], r[f"on_{n}"] or 0
            item = {"register": n, "list": den, "count": on, "prevalence": on / den if den else None,
                    "indicator": None, "what": None, "num": None, "den": None, "share": None}
            if n == "hypertension" and r["pracid"] in hyp:
                _, num, iden = hyp[r["pracid"]]
                item.update(indicator="HYP008", what="under 80: last BP in 12 months <= 140/90", num=num, den=iden)
            elif n in INDICATORS:
                item.update(indicator=INDICATORS[n][0], what=INDICATORS[n][1], num=r[f"inum_{n}"], den=r[f"iden_{n}"])
            elif n in NO_INDICATOR:
                item.update(what=NO_INDICATOR[n])
            if item["den"]:
                item["share"] = item["num"] / item["den"]
            table.append(item)
        den, on = obese.get(r["pracid"], (0, 0))
        table.append({"register": "obesity", "list": den, "count": on or 0, "prevalence": (on or 0) / den if den else None,
                      "indicator": None, "what": NO_INDICATOR["obesity"], "num": None, "den": None, "share": None})
        out[r["pracid"]] = table
    return out


def overall(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """`by_practice` summed over the output's practices."""
    total: dict[str, dict[str, Any]] = {}
    for table in by_practice(con).values():
        for item in table:
            t = total.setdefault(item["register"], {**item, "list": 0, "count": 0, "num": 0 if item["den"] is not None else None,
                                                    "den": 0 if item["den"] is not None else None})
            t["list"] += item["list"]
            t["count"] += item["count"]
            if item["den"] is not None:
                t["num"], t["den"] = (t["num"] or 0) + item["num"], (t["den"] or 0) + item["den"]
    for t in total.values():
        t["prevalence"] = t["count"] / t["list"] if t["list"] else None
        t["share"] = t["num"] / t["den"] if t["den"] else None
    return list(total.values())
