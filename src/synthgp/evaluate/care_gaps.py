"""Care gaps against NICE NG136, audited from the record alone: what should have happened by a set time
after a point that called for it, and whether the record shows it. ng136_audit.py judges the *choices*
made (which drug, which step); this judges whether anything was done at all, which is where clinical
inertia, missed ABPM and slipping recalls show. Windows and dates are in data/audit.toml [care_gaps].

  raised_followed_up - the first raised clinic reading (140/90 up to below 180/120) of someone not diagnosed and
                       not treated, from CG127 (ABPM or HBPM to confirm, NG136 1.2.3): ABPM/HBPM or a
                       hypertension diagnosis within the window.
  stepped_up         - a coded annual review whose clinic BP that day is above the target for age, in someone on
                       antihypertensives (NG136 1.4.41-1.4.45, 1.4.52; section 5): a treatment change within the
                       window (a product not issued in the regimen look-back before the review: a new class, a
                       dose change, a switch or a restart), a referral for specialist advice (1.4.52: made
                       before the review or within the window), or ABPM/HBPM within the window to confirm the
                       clinic reading before a further step (1.4.47; at target, nothing more is due), or a standing
                       reading that day at target after a postural drop of 20/10 or more (1.4.16: the target is
                       judged standing). None of these is clinical inertia.
  review_on_time     - each diagnosis and each coded annual review, followed within the window by the next annual
                       review or at least a clinic BP (section 5: review at least annually; a recall that slips
                       past both is a gap); the note gives the share followed by a coded annual review.
  qrisk_at_diagnosis - a diagnosis from NG136 (Aug 2019) at 25-84 with no stroke or MI coded before it: a QRISK
                       score within the window around it (NG136 1.3.2).

A point is judged only when the record runs the whole window after it, and from `settle_days` after
registration (history brought by a new registrant is not the practice's own care).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from synthgp.core import codes, reference
from synthgp.evaluate import qof, sampling

CLINIC_SBP = codes.snomed("bp_systolic")
STANDING_SBP = codes.snomed("standing_systolic")
OUT_OF_CLINIC = codes.sql("abpm_systolic", "hbpm_systolic")
MALIGNANT = codes.sql("hypertension_malignant")
HTN_REFERRAL = codes.sql("hypertension_referral")  # specialist advice (1.4.52): not a referral for anything else


def windows() -> dict[str, Any]:
    """The care-gap windows and dates (data/audit.toml [care_gaps]); thresholds and the settle time from ng136.toml."""
    w = dict(reference.toml("audit.toml")["care_gaps"])
    th = reference.toml("ng136.toml")["thresholds"]
    w.update(raised_sbp=th["clinic_sbp"], raised_dbp=th["clinic_dbp"], severe_sbp=th["severe_sbp"], severe_dbp=th["severe_dbp"])
    w["settle_days"] = reference.toml("ng136.toml")["audit"]["settle_days"]
    w["lookback_days"] = reference.toml("ng136.toml")["audit"]["regimen_lookback_days"]
    post = reference.toml("ng136.toml")["postural"]
    w.update(postural_sbp=post["hypotension_sbp"], postural_dbp=post["hypotension_dbp"])
    return w


def _base() -> str:
    w, t = windows(), qof.targets()
    return f"""
WITH pat AS (
  SELECT p.patid, p.regstartdate + INTERVAL {int(w['settle_days'])} DAY AS seen,
         least(coalesce(p.regenddate, pr.lcd), coalesce(p.emis_ddate, pr.lcd), pr.lcd) AS rec_end, i.date_of_birth AS dob
  FROM patient p JOIN practice pr USING (pracid) JOIN patient_identity i USING (patid)),
coded AS (SELECT o.patid, o.obsid, o.obsdate, o.value, o.parentobsid, m.cluster, m.snomedctconceptid AS sct
          FROM observation o JOIN medical_dictionary m USING (medcodeid)),
clinic AS (SELECT s.patid, s.obsid, s.obsdate, s.value AS sbp, d.value AS dbp
           FROM coded s JOIN observation d ON d.parentobsid = s.obsid WHERE s.sct = {CLINIC_SBP}),
standing AS (SELECT s.patid, s.obsdate, s.value AS sbp, d.value AS dbp
              FROM coded s JOIN observation d ON d.parentobsid = s.obsid WHERE s.sct = {STANDING_SBP}),
oc AS (SELECT patid, obsdate FROM coded WHERE sct IN ({OUT_OF_CLINIC})),
dx AS (SELECT patid, min(obsdate) AS d FROM coded WHERE cluster = 'HYP' GROUP BY ALL),
rx AS (SELECT i.patid, i.issuedate, i.prodcodeid FROM drug_issue i JOIN {qof.classes_sql()} USING (prodcodeid)),
first_rx AS (SELECT patid, min(issuedate) AS d FROM rx GROUP BY ALL),
raised AS (
  SELECT c.patid, min(c.obsdate) AS d FROM clinic c JOIN pat USING (patid)
  LEFT JOIN dx USING (patid) LEFT JOIN first_rx f USING (patid)
  WHERE (c.sbp >= {w['raised_sbp']} OR c.dbp >= {w['raised_dbp']}) AND c.sbp < {w['severe_sbp']} AND c.dbp < {w['severe_dbp']}
    AND c.obsdate >= pat.seen AND c.obsdate >= DATE '{w['abpm_from']}'
    AND (dx.d IS NULL OR c.obsdate < dx.d) AND (f.d IS NULL OR c.obsdate < f.d)
  GROUP BY ALL),
judged_raised AS (
  SELECT r.patid, r.d,
    EXISTS (SELECT 1 FROM oc WHERE oc.patid = r.patid AND oc.obsdate > r.d
            AND oc.obsdate <= r.d + INTERVAL {int(w['raised_followup_days'])} DAY) AS oc_done,
    EXISTS (SELECT 1 FROM dx WHERE dx.patid = r.patid AND dx.d <= r.d + INTERVAL {int(w['raised_followup_days'])} DAY) AS diagnosed
  FROM raised r JOIN pat USING (patid) WHERE r.d + INTERVAL {int(w['raised_followup_days'])} DAY <= pat.rec_end),
reviews AS (
  SELECT r.patid, r.obsdate AS d,
    date_diff('year', pat.dob, r.obsdate) - (strftime(pat.dob, '%m%d') > strftime(r.obsdate, '%m%d'))::INT AS age,
    (SELECT arg_max(c.sbp, c.obsid) FROM clinic c WHERE c.patid = r.patid AND c.obsdate = r.obsdate) AS sbp,
    (SELECT arg_max(c.dbp, c.obsid) FROM clinic c WHERE c.patid = r.patid AND c.obsdate = r.obsdate) AS dbp
  FROM (SELECT DISTINCT patid, obsdate FROM coded WHERE cluster = 'REVIEW') r JOIN pat USING (patid)
  WHERE r.obsdate >= pat.seen),
judged_step AS (
  SELECT v.patid, v.d,
    EXISTS (SELECT 1 FROM rx n WHERE n.patid = v.patid AND n.issuedate >= v.d
              AND n.issuedate <= v.d + INTERVAL {int(w['step_up_days'])} DAY
              AND NOT EXISTS (SELECT 1 FROM rx o WHERE o.patid = v.patid AND o.prodcodeid = n.prodcodeid
                              AND o.issuedate < v.d AND o.issuedate >= v.d - INTERVAL {int(w['lookback_days'])} DAY)) AS changed,
    EXISTS (SELECT 1 FROM coded f WHERE f.patid = v.patid AND f.sct IN ({HTN_REFERRAL})
              AND f.obsdate <= v.d + INTERVAL {int(w['step_up_days'])} DAY) AS referred,
    EXISTS (SELECT 1 FROM oc WHERE oc.patid = v.patid AND oc.obsdate >= v.d
              AND oc.obsdate <= v.d + INTERVAL {int(w['step_up_days'])} DAY) AS confirmed,
    EXISTS (SELECT 1 FROM standing st WHERE st.patid = v.patid AND st.obsdate = v.d
              AND (v.sbp - st.sbp >= {w['postural_sbp']} OR v.dbp - st.dbp >= {w['postural_dbp']})
              AND st.sbp <= CASE WHEN v.age < 80 THEN {t['under80_sbp']} ELSE {t['over80_sbp']} END
              AND st.dbp <= CASE WHEN v.age < 80 THEN {t['under80_dbp']} ELSE {t['over80_dbp']} END) AS standing_ok
  FROM reviews v JOIN pat USING (patid)
  WHERE v.sbp IS NOT NULL
    AND (v.sbp > CASE WHEN v.age < 80 THEN {t['under80_sbp']} ELSE {t['over80_sbp']} END
         OR v.dbp > CASE WHEN v.age < 80 THEN {t['under80_dbp']} ELSE {t['over80_dbp']} END)
    AND EXISTS (SELECT 1 FROM rx WHERE rx.patid = v.patid AND rx.issuedate < v.d
                AND rx.issuedate >= v.d - INTERVAL {int(w['lookback_days'])} DAY)
    AND v.d + INTERVAL {int(w['step_up_days'])} DAY <= pat.rec_end),
anchors AS (  -- a diagnosis made here, then each annual review: the next review is due within the window
  SELECT dx.patid, dx.d, 'diagnosis' AS kind FROM dx JOIN pat USING (patid) WHERE dx.d >= pat.seen
  UNION ALL SELECT patid, d, 'review' FROM reviews),
judged_recall AS (
  SELECT a.patid, a.d, a.kind,
    EXISTS (SELECT 1 FROM reviews n WHERE n.patid = a.patid AND n.d > a.d
            AND n.d <= a.d + INTERVAL {int(w['review_overdue_months'])} MONTH) AS review_on_time,
    EXISTS (SELECT 1 FROM clinic c WHERE c.patid = a.patid AND c.obsdate > a.d
            AND c.obsdate <= a.d + INTERVAL {int(w['review_overdue_months'])} MONTH) AS bp_on_time
  FROM anchors a JOIN pat USING (patid) WHERE a.d + INTERVAL {int(w['review_overdue_months'])} MONTH <= pat.rec_end),
judged_qrisk AS (
  SELECT dx.patid, dx.d,
    EXISTS (SELECT 1 FROM coded q WHERE q.patid = dx.patid AND q.cluster = 'QRISK'
            AND q.obsdate >= dx.d - INTERVAL {int(w['qrisk_around_diagnosis_days'])} DAY
            AND q.obsdate <= dx.d + INTERVAL {int(w['qrisk_around_diagnosis_days'])} DAY) AS scored
  FROM dx JOIN pat USING (patid)
  WHERE dx.d >= pat.seen AND dx.d >= DATE '{w['qrisk_from']}'
    AND dx.d + INTERVAL {int(w['qrisk_around_diagnosis_days'])} DAY <= pat.rec_end
    AND date_diff('year', pat.dob, dx.d) BETWEEN {int(w['qrisk_age_min'])} AND {int(w['qrisk_age_max'])}
    AND NOT EXISTS (SELECT 1 FROM coded e WHERE e.patid = dx.patid AND e.cluster IN ('STROKE', 'MI') AND e.obsdate <= dx.d))"""


def base_sql() -> str:
    """The audit's tables as SQL CTEs (judged_raised, judged_step, judged_recall, judged_qrisk), for tests and
    anyone who wants the patients behind a count."""
    return _base()


def _result(rec: str, what: str, eligible: int, followed: int, deviations: dict[str, int], note: str) -> dict[str, Any]:
    return {"recommendation": rec, "what": what, "eligible": int(eligible), "followed": int(followed),
            "share": followed / eligible if eligible else None,
            "deviations": {k: int(v) for k, v in sorted(deviations.items(), key=lambda kv: -kv[1]) if v}, "note": note}


def gaps(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """Each care-gap check as {recommendation, what, eligible, followed, share, deviations, note}."""
    w = windows()
    q = lambda sql: con.execute(_base() + "\n" + sql).fetchone()  # noqa: E731
    n, oc_done, dx_only = q("""SELECT count(*), count(*) FILTER (WHERE oc_done),
                                      count(*) FILTER (WHERE diagnosed AND NOT oc_done) FROM judged_raised""")
    days = int(w["raised_followup_days"])
    raised = _result("1.2.3 (ABPM or HBPM to confirm)", "first raised clinic reading, not diagnosed or treated",
                     n, oc_done + dx_only, {f"no ABPM/HBPM and no diagnosis within {days} days": n - oc_done - dx_only},
                     f"from {w['abpm_from']} (CG127); {dx_only:,} followed by a diagnosis without ABPM/HBPM")
    n, changed, referred, confirmed, standing = q("""SELECT count(*), count(*) FILTER (WHERE changed),
        count(*) FILTER (WHERE referred AND NOT changed),
        count(*) FILTER (WHERE confirmed AND NOT changed AND NOT referred),
        count(*) FILTER (WHERE standing_ok AND NOT confirmed AND NOT changed AND NOT referred) FROM judged_step""")
    days = int(w["step_up_days"])
    done = changed + referred + confirmed + standing
    step = _result("1.4.41-1.4.45, 1.4.47, 1.4.52 (step up when not at target)", "annual reviews above target, on treatment",
                   n, done, {f"no change, ABPM/HBPM or referral within {days} days (clinical inertia)": n - done},
                   f"{referred:,} unchanged but referred for specialist advice (1.4.52); {confirmed:,} checked by "
                   f"ABPM/HBPM before a further step (1.4.47); {standing:,} at target standing with a postural drop (1.4.16)")
    n, seen, coded = q("""SELECT count(*), count(*) FILTER (WHERE review_on_time OR bp_on_time),
                                   count(*) FILTER (WHERE review_on_time) FROM judged_recall""")
    months = int(w["review_overdue_months"])
    recall = _result("section 5 (review at least annually)", "diagnoses and annual reviews, each followed by a review or a BP",
                     n, seen, {f"no review and no BP for more than {months} months": n - seen},
                     f"the next coded annual review came within {months} months after {coded:,} ({coded / n:.0%})" if n else "")
    n, scored = q("SELECT count(*), count(*) FILTER (WHERE scored) FROM judged_qrisk")
    days = int(w["qrisk_around_diagnosis_days"])
    qrisk = _result("1.3.2 (QRISK at diagnosis)", "diagnoses at 25-84 without prior stroke or MI",
                    n, scored, {f"no QRISK score within {days} days of the diagnosis": n - scored}, f"diagnoses from {w['qrisk_from']}")
    return {"raised_followed_up": raised, "stepped_up": step, "review_on_time": recall, "qrisk_at_diagnosis": qrisk}


def accelerated_incidence(con: duckdb.DuckDBPyConnection, lo: dt.date, hi: dt.date) -> dict[str, Any]:
    """Accelerated (malignant) hypertension: people whose first such code falls in [lo, hi], per 100,000
    person-years registered and alive in it (NG136 1.5.1; calibration.toml accelerated_hypertension_incidence)."""
    events, years = con.execute(f"""
        WITH first AS (SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
                       WHERE m.snomedctconceptid IN ({MALIGNANT}) GROUP BY 1),
        span AS (SELECT p.patid, greatest(p.regstartdate, ?::DATE) AS s,
                        least(coalesce(p.regenddate, ?::DATE), coalesce(p.cprd_ddate, ?::DATE), ?::DATE) AS e
                 FROM patient p)
        SELECT count(*) FILTER (WHERE f.d BETWEEN span.s AND span.e),
               sum(greatest(date_diff('day', span.s, span.e) + 1, 0)) / 365.25
        FROM span LEFT JOIN first f USING (patid)""", [lo, hi, hi, hi]).fetchone()
    if not years:
        return {}
    return {"accelerated_hypertension_incidence": sampling.Rate(100_000 * events / years, years, 100_000)}
