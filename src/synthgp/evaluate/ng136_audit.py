"""NICE NG136 conformance, audited from the record alone (as a practice audit would; never the truth).

Each check names the recommendation it audits, who was eligible, how many followed it, and the
deviations counted by kind. The record's drug classes come from data/medicines.toml (A, C, D and
step-4 drugs S); medicines of class O (not antihypertensives) are left out.

  first_line   - the first antihypertensive class of people diagnosed and started in the record
                 (1.4.32-1.4.37): A with type 2 diabetes or under 55 and not Black; else C (D allowed
                 with heart failure). People whose treatment began before their
                 prescribing is visible (90 days after registration, and a year
                 after the practice's issue history starts) are not judged, nor
                 people whose first antihypertensives followed a myocardial
                 infarction (an ACE inhibitor and a beta-blocker are NICE CG172's
                 care after an MI, not a choice of hypertension treatment).
  step_up      - each class added to a regimen (1.4.41-1.4.45): on A add C or D, on C add A or D,
                 on D add A or C, on two classes add the third (judged on the A, C and D classes held).
  step_4       - the first spironolactone, alpha- or beta-blocker (1.4.46-1.4.49): only after A, C and
                 D have all been issued, and spironolactone only with K+ <= 4.5 mmol/L beforehand. A
                 beta-blocker that follows a CHD, MI, heart-failure or AF code is not judged: it has an
                 indication of its own (NICE CG172 after MI, CG126 angina, NG106 heart failure, CG180/NG196
                 AF rate control), as a practice audit would exclude it.
  bloods       - kidney function before starting an ACEi/ARB (within a year before, NG136 1.3.3 and
                 the BNF), and Na/K/renal function within a month of starting spironolactone (1.4.48).
  review       - people on the register at the end with a BP in the last 12 months and a coded
                 annual review in the last 15 months (section 5: review at least annually).

These judge the choices made. Whether anything was done at all where the guidance called for it (ABPM
after a raised reading, a step up at an uncontrolled review, a review on time, QRISK at diagnosis) is
judged by care_gaps.py, whose checks follow these in the result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.clinical import eras
from synthgp.core import codes, dates, reference
from synthgp.evaluate import care_gaps, qof

POTASSIUM = codes.snomed("potassium")
RENAL = codes.sql("creatinine", "egfr")  # kidney function: serum creatinine or eGFR
TYPE2 = codes.snomed("type2_diabetes")
_BLACK = "%Black or African or Caribbean or Black British%"


def _w() -> dict:
    """The audit's windows (data/ng136.toml [audit])."""
    return reference.toml("ng136.toml")["audit"]


def _era_rows() -> str:
    """The guidance eras as SQL rows (start, A age limit, older person's class): a first line is judged
    by the guidance of the day it started (clinical/eras.py, data/eras.toml)."""
    rows = []
    for name in eras.names():
        day = eras.start(name)
        lim, older = eras.param("first_line", "a_age_limit", day), eras.flag("first_line_older", day)
        rows.append(f"(DATE '{dates.EPOCH + dt.timedelta(days=day)}', {float(lim)}, '{older}')")
    return ", ".join(rows)


def _base() -> str:
    k_lim = reference.toml("ng136.toml")["step4"]["potassium_limit"]
    w = _w()
    return f"""
WITH rx AS (SELECT i.patid, i.issuedate, cls.drug, cls.class, cls.subclass
            FROM drug_issue i JOIN {qof.classes_sql()} USING (prodcodeid)),
cls_start AS (SELECT patid, class, min(issuedate) AS d FROM rx GROUP BY ALL),
seen AS (  -- from when a patient's prescribing is visible: registration or the start of the issue history
  SELECT p.patid, greatest(p.regstartdate + INTERVAL {w['settle_days']} DAY, h.d + INTERVAL {w['history_burn_in_months']} MONTH) AS d
  FROM patient p JOIN (SELECT p2.pracid, min(i.issuedate) AS d FROM drug_issue i JOIN patient p2 USING (patid)
                       GROUP BY ALL) h USING (pracid)),
first_rx AS (SELECT patid, min(d) AS d FROM cls_start GROUP BY ALL),
dx AS (SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
       WHERE m.cluster = 'HYP' GROUP BY ALL),
coded AS (SELECT o.patid, m.cluster, m.term, m.snomedctconceptid AS sct, o.obsdate FROM observation o JOIN medical_dictionary m USING (medcodeid)
          WHERE m.cluster IN ('DM', 'HF', 'ETH')),
indication AS (  -- conditions that call for a beta-blocker (or, after an MI, an ACE inhibitor) of their own
  SELECT o.patid, m.cluster, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
  WHERE m.cluster IN ('CHD', 'MI', 'HF', 'AF') GROUP BY ALL),
first_line AS (
  SELECT f.patid, f.d,
    date_diff('year', i.date_of_birth, f.d) - (strftime(i.date_of_birth, '%m%d') > strftime(f.d, '%m%d'))::INT AS age,
    EXISTS (SELECT 1 FROM coded c WHERE c.patid = f.patid AND c.sct = {TYPE2} AND c.obsdate <= f.d) AS t2,
    EXISTS (SELECT 1 FROM coded c WHERE c.patid = f.patid AND c.cluster = 'HF' AND c.obsdate <= f.d) AS hf,
    EXISTS (SELECT 1 FROM coded c WHERE c.patid = f.patid AND c.cluster = 'ETH' AND c.term LIKE '{_BLACK}') AS black,
    (SELECT string_agg(DISTINCT s.class, '+' ORDER BY s.class) FROM cls_start s WHERE s.patid = f.patid AND s.d = f.d) AS got
  FROM first_rx f JOIN seen USING (patid) JOIN patient_identity i USING (patid) JOIN dx USING (patid)
  WHERE f.d >= seen.d AND f.d >= dx.d
    AND NOT EXISTS (SELECT 1 FROM indication x WHERE x.patid = f.patid AND x.cluster = 'MI' AND x.d <= f.d)),
era(start, lim, older) AS (VALUES {_era_rows()}),
judged_first AS (
  SELECT f.*, CASE WHEN t2 OR (age < e.lim AND NOT black) THEN 'A' WHEN hf THEN 'C or D' ELSE e.older END AS expected
  FROM first_line f ASOF JOIN era e ON f.d >= e.start),
adds AS (  -- each class started after the first, with the other classes issued in the 120 days up to it
  SELECT s.patid, s.class, s.d,
    (SELECT string_agg(DISTINCT r.class, '+' ORDER BY r.class) FROM rx r
      WHERE r.patid = s.patid AND r.class <> s.class AND r.class <> 'S' AND r.issuedate <= s.d AND r.issuedate >= s.d - INTERVAL {w['regimen_lookback_days']} DAY) AS before
  FROM cls_start s JOIN first_rx f USING (patid) JOIN seen USING (patid) WHERE s.d > f.d AND f.d >= seen.d),
step4 AS (
  SELECT r.patid, min(r.issuedate) AS d, arg_min(r.drug, r.issuedate) AS drug FROM rx r WHERE r.class = 'S' GROUP BY ALL),
k AS (SELECT o.patid, o.obsdate, o.value FROM observation o JOIN medical_dictionary m USING (medcodeid)
      WHERE m.snomedctconceptid = {POTASSIUM}),
renal AS (SELECT o.patid, o.obsdate FROM observation o JOIN medical_dictionary m USING (medcodeid)
          WHERE m.snomedctconceptid IN ({RENAL})),
judged_step4 AS (
  SELECT s.patid, s.drug,
    (SELECT count(DISTINCT c.class) FROM cls_start c WHERE c.patid = s.patid AND c.d < s.d AND c.class IN ('A', 'C', 'D')) AS prior_classes,
    (SELECT arg_max(k.value, k.obsdate) FROM k WHERE k.patid = s.patid AND k.obsdate <= s.d
       AND k.obsdate > s.d - INTERVAL {w['potassium_before_step4_months']} MONTH) AS k_before
  FROM step4 s JOIN first_rx f USING (patid) JOIN seen USING (patid) WHERE f.d >= seen.d
    AND NOT (s.drug = 'bisoprolol' AND EXISTS (SELECT 1 FROM indication x WHERE x.patid = s.patid AND x.d <= s.d))),
k_lim AS (SELECT {k_lim} AS v)"""


def _first_line(q) -> dict[str, Any]:
    rows = q("""SELECT expected, got, count(*) FROM judged_first GROUP BY ALL""")
    ok = lambda exp, got: got == exp or (exp == "C or D" and got in ("C", "D"))  # noqa: E731
    dev: dict[str, int] = {}
    n = followed = 0
    for exp, got, c in rows:
        n += c
        if ok(exp, got):
            followed += c
        else:
            dev[f"{got} first where {exp} was due"] = dev.get(f"{got} first where {exp} was due", 0) + c
    unrec = q("""SELECT count(*) FROM judged_first j WHERE NOT EXISTS
                 (SELECT 1 FROM coded c WHERE c.patid = j.patid AND c.cluster = 'ETH')""")[0][0]
    return _result("1.4.32-1.4.37", "first antihypertensive class (people diagnosed and started in the record)",
                   n, followed, dev, note=f"{unrec:,} of them with no ethnicity recorded, judged as not Black")


_ALLOWED = {"A": {"C", "D"}, "C": {"A", "D"}, "D": {"A", "C"}, "A+C": {"D"}, "A+D": {"C"}, "C+D": {"A"}}


def _step_up(q) -> dict[str, Any]:
    rows = q("SELECT before, class, count(*) FROM adds WHERE class <> 'S' GROUP BY ALL")
    dev: dict[str, int] = {}
    n = followed = 0
    for before, cls, c in rows:
        n += c
        if before is not None and cls in _ALLOWED.get(before, set()):
            followed += c
        else:
            kind = f"{cls} added to {before or 'no current treatment'}"
            dev[kind] = dev.get(kind, 0) + c
    return _result("1.4.41-1.4.45", "classes added at steps 2 and 3", n, followed, dev)


def _step4(q) -> dict[str, Any]:
    rows = q("""SELECT prior_classes, drug, k_before, count(*) FROM judged_step4 GROUP BY ALL""")
    lim = q("SELECT v FROM k_lim")[0][0]
    dev: dict[str, int] = {}
    n = followed = 0
    for prior, drug, kb, c in rows:
        n += c
        kinds = []
        if prior < 3:
            kinds.append("step-4 drug without A, C and D first")
        if drug == "spironolactone" and (kb is None or kb > lim):
            kinds.append("spironolactone without K+ <= 4.5 in the year before")
        for kind in kinds:
            dev[kind] = dev.get(kind, 0) + c
        followed += 0 if kinds else c
    return _result("1.4.46-1.4.49", "first step-4 drug (spironolactone, alpha- or beta-blocker)", n, followed, dev)


def _bloods(q) -> dict[str, Any]:
    w = _w()
    a = q(f"""SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM renal r WHERE r.patid = s.patid
                 AND r.obsdate <= s.d AND r.obsdate > s.d - INTERVAL {w['renal_before_acei_months']} MONTH))
             FROM cls_start s JOIN seen USING (patid) WHERE s.class = 'A' AND s.d >= seen.d""")[0]
    sp = q(f"""SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM k WHERE k.patid = s.patid
                  AND k.obsdate > s.d AND k.obsdate <= s.d + INTERVAL {w['bloods_after_spironolactone_days']} DAY))
              FROM step4 s JOIN patient p USING (patid) JOIN seen USING (patid)
              WHERE s.drug = 'spironolactone' AND s.d >= seen.d
                AND s.d + INTERVAL {w['bloods_after_spironolactone_days']} DAY <= coalesce(p.regenddate, p.cprd_ddate, (SELECT max(lcd) FROM practice))""")[0]
    dev = {}
    if a[0] - a[1]:
        dev["ACEi/ARB started with no kidney function test in the year before"] = a[0] - a[1]
    if sp[0] - sp[1]:
        dev["spironolactone with no potassium check within a month after"] = sp[0] - sp[1]
    return _result("1.3.3, 1.4.48", "monitoring bloods around ACEi/ARB and spironolactone starts",
                   a[0] + sp[0], a[1] + sp[1], dev,
                   parts={"acei_arb_start_renal_before": {"eligible": a[0], "followed": a[1]},
                          "spironolactone_potassium_within_month": {"eligible": sp[0], "followed": sp[1]}})


def _review(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    n, bp, both = con.execute(f"""
        WITH s AS ({qof.status_sql()}),
        rv AS (SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid)
               JOIN practice pr ON TRUE JOIN patient p USING (patid)
               WHERE m.cluster = 'REVIEW' AND p.pracid = pr.pracid AND o.obsdate > pr.lcd - INTERVAL {_w()['review_window_months']} MONTH)
        SELECT count(*), count(*) FILTER (WHERE bp_in_year),
               count(*) FILTER (WHERE bp_in_year AND patid IN (SELECT patid FROM rv)) FROM s""").fetchone()
    dev = {}
    if n - bp:
        dev["no BP in the last 12 months"] = n - bp
    if bp - both:
        dev["BP in the year but no coded annual review in 15 months"] = bp - both
    return _result("section 5 (review at least annually)", "people on the register at the end", n, both, dev)


def _result(rec: str, what: str, eligible: int, followed: int, deviations: dict[str, int], **extra) -> dict[str, Any]:
    return {"recommendation": rec, "what": what, "eligible": int(eligible), "followed": int(followed),
            "share": followed / eligible if eligible else None,
            "deviations": dict(sorted(deviations.items(), key=lambda kv: -kv[1])), **extra}


def conformance(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """NG136 conformance checks, each {recommendation, what, eligible, followed, share, deviations}."""
    base = _base()
    q = lambda sql: con.execute(base + "\n" + sql).fetchall()  # noqa: E731
    return {"first_line": _first_line(q), "step_up": _step_up(q), "step_4": _step4(q),
            "bloods": _bloods(q), "review": _review(con), **care_gaps.gaps(con)}
