"""`synthgp evaluate DIR`: the evidence about one generated practice, as JSON and an offline HTML report.

Sections: a picture of the practice; every calibration figure beside the generated one; the QOF
indicators and NG136 conformance audited from the record; the record invariants; and how the
practice performed against the ground truth. Reads only the output's DuckDB file.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import duckdb

from synthgp.core import codes, reference
from synthgp.evaluate import calibration, html, integrity, qof, qof_registers
from synthgp.evaluate import ng136_audit as audit

_CURRENT = """cur AS (
  SELECT p.patid, p.gender, t.ethnicity_broad,
         date_diff('year', t.date_of_birth, pr.lcd) - (strftime(t.date_of_birth, '%m%d') > strftime(pr.lcd, '%m%d'))::INT AS age
  FROM patient p JOIN person_truth t USING (patid) JOIN practice pr USING (pracid)
  WHERE p.regenddate IS NULL AND p.cprd_ddate IS NULL AND p.patienttypeid = 3)"""
CLINIC_SBP = codes.snomed("bp_systolic")
QRISK3 = codes.snomed("qrisk3")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def picture(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Figures for the plots, each a small table of plain numbers."""
    w = f"WITH {_CURRENT}"
    out: dict[str, Any] = {}
    out["pyramid"] = _rows(con, f"""{w} SELECT least(age // 5, 18) * 5 AS age_from,
        count(*) FILTER (WHERE gender = 1) AS male, count(*) FILTER (WHERE gender = 2) AS female
        FROM cur GROUP BY 1 ORDER BY 1""")
    out["ethnicity"] = _rows(con, f"""{w}, rec AS (SELECT DISTINCT o.patid FROM observation o
            JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'ETH')
        SELECT ethnicity_broad AS "group", count(*) AS people,
               count(*) FILTER (WHERE patid IN (SELECT patid FROM rec)) AS recorded
        FROM cur GROUP BY 1 ORDER BY 1""")
    out["deprivation"] = _rows(con, f"""{w} SELECT d.e2019_imd_5 AS quintile, count(*) AS people
        FROM cur JOIN patient_deprivation d USING (patid) GROUP BY 1 ORDER BY 1""")
    out["risk_factors"] = _rows(con, f"""{w} SELECT
        avg((r.smoking IN ('light', 'moderate', 'heavy'))::INT) AS current_smoker,
        avg((r.bmi_at_end >= 30)::INT) AS obese, avg((r.type2 = 1 OR r.type1 = 1)::INT) AS diabetes,
        avg(r.ckd::INT) AS ckd_3_5, avg(r.af::INT) AS atrial_fibrillation, avg(r.ra::INT) AS rheumatoid_arthritis,
        avg(r.semi::INT) AS severe_mental_illness, avg(r.fh_cvd::INT) AS family_history_chd
        FROM cur JOIN risk_factor_truth r USING (patid) WHERE cur.age >= 18""")[0]
    out["bp_by_age_sex"] = _rows(con, f"""{w}, last AS (
          SELECT o.patid, arg_max(o.value, o.obsdate) AS sbp FROM observation o JOIN medical_dictionary m USING (medcodeid)
          JOIN practice pr ON pr.pracid = o.pracid
          WHERE m.snomedctconceptid = {CLINIC_SBP} AND o.obsdate > pr.lcd - INTERVAL 5 YEAR GROUP BY 1)
        SELECT greatest(least(age // 10, 9) * 10, 18) AS age_from, CASE gender WHEN 1 THEN 'male' ELSE 'female' END AS sex,
               count(*) AS people, quantile_cont(sbp, 0.1) AS p10, quantile_cont(sbp, 0.25) AS p25,
               median(sbp) AS p50, quantile_cont(sbp, 0.75) AS p75, quantile_cont(sbp, 0.9) AS p90, avg(sbp) AS mean
        FROM cur JOIN last USING (patid) WHERE age >= 18 GROUP BY ALL ORDER BY 2, 1""")
    bp = reference.toml("blood_pressure.toml")["usual"]
    out["bp_reference"] = {"ages": bp["ages"], "male": bp["sbp_male"], "female": bp["sbp_female"],
                           "source": bp["source"]}
    out["hypertension_by_age"] = _rows(con, f"""{w}, reg AS (SELECT DISTINCT o.patid FROM observation o
            JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'HYP')
        SELECT CASE WHEN age < 30 THEN '20-29' WHEN age < 40 THEN '30-39' WHEN age < 50 THEN '40-49'
                    WHEN age < 60 THEN '50-59' WHEN age < 70 THEN '60-69' WHEN age < 80 THEN '70-79' ELSE '80+' END AS band,
               count(*) AS people, avg((patid IN (SELECT patid FROM reg))::INT) AS register,
               avg(coalesce(h.hypertensive_at_end = 1 OR h.diagnosed_date IS NOT NULL, false)::INT) AS true_or_diagnosed
        FROM cur LEFT JOIN hypertension_truth h USING (patid) WHERE age >= 20 GROUP BY 1 ORDER BY 1""")
    for row, t in zip(out["hypertension_by_age"], _target("register_by_age") or []):
        row["published_register"] = t
    out["treatment_steps"] = _rows(con, f"""WITH s AS ({qof.status_sql()})
        SELECT least(classes, 4) AS classes, count(*) AS people FROM s GROUP BY 1 ORDER BY 1""")
    out["control"] = _rows(con, qof.indicators_sql())
    out["time_to_diagnosis"] = _rows(con, f"""WITH dx AS (
            SELECT o.patid, min(o.obsdate) AS d FROM observation o JOIN medical_dictionary m USING (medcodeid)
            JOIN patient p USING (patid) WHERE m.cluster = 'HYP' GROUP BY 1),
          raised AS (SELECT s.patid, min(s.obsdate) AS d FROM observation s JOIN observation d ON d.parentobsid = s.obsid
            JOIN medical_dictionary m ON m.medcodeid = s.medcodeid
            WHERE m.snomedctconceptid = {CLINIC_SBP} AND (s.value >= 140 OR d.value >= 90) GROUP BY 1)
        SELECT date_diff('day', raised.d, dx.d) AS days FROM dx JOIN raised USING (patid)
        JOIN patient p USING (patid) WHERE raised.d <= dx.d AND dx.d > p.regstartdate""")
    days = [r["days"] for r in out["time_to_diagnosis"]]
    out["time_to_diagnosis"] = {"days": days, "n": len(days), **_quantiles(days)}
    qr = [r[0] for r in con.execute(f"""SELECT arg_max(o.value, o.obsdate) FROM observation o
        JOIN medical_dictionary m USING (medcodeid) WHERE m.snomedctconceptid = {QRISK3} GROUP BY o.patid""").fetchall()]
    out["qrisk3"] = {"values": qr, "n": len(qr), **_quantiles(qr),
                     "share_10_plus": sum(v >= 10 for v in qr) / len(qr) if qr else None}
    return out


def _target(fid: str) -> Any:
    """A calibration.toml figure's published value (None if it has none)."""
    for f in reference.toml("calibration.toml")["figure"]:
        if f["id"] == fid:
            return calibration._resolve(f["input"]) if "input" in f else f["value"]
    return None


def _quantiles(xs: list[float]) -> dict[str, float | None]:
    if not xs:
        return {"p25": None, "median": None, "p75": None}
    s = sorted(xs)
    at = lambda q: s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]  # noqa: E731
    return {"p25": at(0.25), "median": at(0.5), "p75": at(0.75)}


def against_truth(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """How the practice did against the ground truth (adults on the list at the end)."""
    t = qof.targets()
    r = _rows(con, f"""WITH {_CURRENT},
      reg AS (SELECT DISTINCT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'HYP'),
      rx AS (SELECT DISTINCT i.patid FROM drug_issue i JOIN {qof.classes_sql()} USING (prodcodeid)
             JOIN practice pr ON TRUE JOIN patient pt ON pt.patid = i.patid AND pt.pracid = pr.pracid
             WHERE i.issuedate > pr.lcd - INTERVAL 6 MONTH),  -- antihypertensives only (not statins, antiplatelets)
      yr AS (SELECT patid, arg_max(treated_sbp, year) AS sbp, arg_max(treated_dbp, year) AS dbp FROM bp_truth_year GROUP BY 1),
      a AS (SELECT cur.*, h.hypertensive_at_end = 1 AS true_htn, h.diagnosed_date, h.true_hypertension_onset AS onset,
                   cur.patid IN (SELECT patid FROM reg) AS on_register, cur.patid IN (SELECT patid FROM rx) AS treated,
                   yr.sbp, yr.dbp, h.white_coat_sbp
            FROM cur JOIN hypertension_truth h USING (patid) LEFT JOIN yr USING (patid) WHERE cur.age >= 18),
      lcd AS (SELECT max(lcd) AS d FROM practice)
    SELECT count(*) FILTER (WHERE true_htn) AS true_hypertensive,
      count(*) FILTER (WHERE true_htn AND on_register) AS true_and_diagnosed,
      count(*) FILTER (WHERE on_register) AS on_register,
      count(*) FILTER (WHERE on_register AND NOT true_htn AND NOT treated) AS register_not_hypertensive_untreated,
      count(*) FILTER (WHERE true_htn AND treated) AS true_and_treated,
      count(*) FILTER (WHERE true_htn AND treated AND sbp < CASE WHEN age < 80 THEN {t['under80_sbp']} ELSE {t['over80_sbp']} END
                       AND dbp < CASE WHEN age < 80 THEN {t['under80_dbp']} ELSE {t['over80_dbp']} END) AS true_treated_controlled,
      median(date_diff('day', onset, diagnosed_date)) FILTER (WHERE diagnosed_date >= onset) AS median_days_onset_to_diagnosis,
      median(date_diff('day', onset, (SELECT d FROM lcd))) FILTER (WHERE true_htn AND NOT on_register) AS median_days_undiagnosed_so_far
    FROM a""")[0]
    th, dx = r["true_hypertensive"], r["true_and_diagnosed"]
    r["sensitivity"] = dx / th if th else None
    r["treated_share"] = r["true_and_treated"] / th if th else None
    r["controlled_share_of_true"] = r["true_treated_controlled"] / th if th else None
    r["controlled_share_of_treated"] = r["true_treated_controlled"] / r["true_and_treated"] if r["true_and_treated"] else None
    r["positive_predictive_value"] = dx / r["on_register"] if r["on_register"] else None
    return r


def evaluate(out: Path) -> dict[str, Any]:
    """Every section of the report as plain data."""
    from synthgp.core.output import Output

    out = Path(out)
    output = Output.open(out)  # NotAnOutputError (a ValueError) naming what is missing
    manifest = output.manifest
    timings: dict[str, float] = {}
    con = output.connect()
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "hypertension_truth" not in tables:
            raise ValueError(f"{out} was generated with --population-only: there is no care to evaluate")

        def timed(name, fn, *a):
            t0 = time.perf_counter()
            v = fn(*a)
            timings[name] = round(time.perf_counter() - t0, 3)
            return v

        report: dict[str, Any] = {
            "output": str(out.resolve()), "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "seed": manifest.get("seed"), "patients": manifest.get("patients"),
            "region": manifest.get("scenario", {}).get("population", {}).get("region"),
            "period": manifest.get("period"), "risk_factor_model": manifest.get("risk_factor_model"),
        }
        report["picture"] = timed("picture", picture, con)
        report["audit"] = {"qof": report["picture"]["control"], "ng136": timed("audit", audit.conformance, con)}
        report["qof_registers"] = timed("qof_registers", qof_registers.overall, con)
        report["integrity"] = timed("integrity", integrity.check, con)
        report["truth"] = timed("truth", against_truth, con)
    finally:
        con.close()
    t0 = time.perf_counter()
    rows = calibration.for_output(out) if manifest else []
    timings["calibration"] = round(time.perf_counter() - t0, 3)
    report["calibration"] = [
        {"id": r.id, "what": r.what, "part": r.part, "target": list(r.target) if isinstance(r.target, tuple) else r.target,
         "generated": r.generated, "tolerance": r.tolerance, "relative": r.relative, "role": r.role,
         "source": r.source, "passed": r.passed, "status": r.status, "n": r.n, "noise": r.noise} for r in rows]
    report["summary"] = summary(report)
    report["timings_s"] = timings
    return html.json_ready(report)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    cal = report["calibration"]
    viol = {k: v for k, v in report["integrity"].items() if v}
    return {
        "calibration_passed": sum(r["passed"] for r in cal), "calibration_figures": len(cal),
        "calibration_noise": sum(r["status"] == "noise" for r in cal),
        "validation_passed": sum(r["passed"] for r in cal if r["role"] == "validation"),
        "validation_figures": sum(r["role"] == "validation" for r in cal),
        "integrity_violations": sum(viol.values()), "integrity_failed_checks": sorted(viol),
        "ng136_deviations": {k: sum(v["deviations"].values()) for k, v in report["audit"]["ng136"].items()},
    }




def figures(report: dict[str, Any]) -> dict[str, str]:
    """The report's plots as inline SVG."""
    from synthgp.evaluate import plots

    p = report["picture"]
    figs: dict[str, str] = {}
    py = p["pyramid"]
    figs["pyramid"] = plots.pyramid([r["age_from"] for r in py], [r["male"] for r in py], [r["female"] for r in py],
                                    "Registered list at the end, by sex and 5-year age band")
    eth = p["ethnicity"]
    total = sum(r["people"] for r in eth) or 1
    figs["ethnicity"] = plots.bars([r["group"] for r in eth], {
        "true": [r["people"] / total for r in eth], "recorded in the record": [r["recorded"] / total for r in eth]},
        "Ethnicity (Census 2021 broad groups)", "% of list", percent=True)
    dep = p["deprivation"]
    total = sum(r["people"] for r in dep) or 1
    figs["deprivation"] = plots.bars([f"Q{r['quintile']}" for r in dep], {"list": [r["people"] / total for r in dep]},
                                     "IMD 2019 quintile (Q1 least deprived, as CPRD's linkage)", "% of list", percent=True)
    rf = p["risk_factors"]
    figs["risk_factors"] = plots.bars([k.replace("_", " ") for k in rf], {"adults": list(rf.values())},
                                      "Risk factors among adults (truth)", "% of adults", percent=True, horizontal=True)
    figs["bp_by_age"] = plots.bp_by_age(p["bp_by_age_sex"], p["bp_reference"],
                                        "Last clinic systolic BP in 5 years, adults on the list")
    ha = p["hypertension_by_age"]
    series = {"register (record)": [r["register"] for r in ha]}
    if all("published_register" in r for r in ha):
        series["register, OpenSAFELY-TPP 2021/22"] = [r["published_register"] for r in ha]
    series["truly hypertensive or diagnosed"] = [r["true_or_diagnosed"] for r in ha]
    figs["hypertension_by_age"] = plots.lines([r["band"] for r in ha], series, "Hypertension by age", "% of age band",
                                              percent=True)
    ts = p["treatment_steps"]
    figs["treatment_steps"] = plots.bars([f"{r['classes']}{'+' if r['classes'] == 4 else ''}" for r in ts],
                                         {"register": [r["people"] for r in ts]},
                                         "Antihypertensive classes issued in the last 6 months (register)", "people")
    ctl = p["control"]
    den8, num8 = sum(r["hyp008_den"] for r in ctl), sum(r["hyp008_num"] for r in ctl)
    den9, num9 = sum(r["hyp009_den"] for r in ctl), sum(r["hyp009_num"] for r in ctl)
    tgt = {f["id"]: f.get("value") for f in reference.toml("calibration.toml")["figure"]}
    c_series = {"generated": [num8 / den8 if den8 else None, num9 / den9 if den9 else None]}
    mid = lambda v: sum(v) / 2 if isinstance(v, list) else v  # noqa: E731  (a range's midpoint)
    if tgt.get("controlled_under80") is not None and tgt.get("controlled_80_plus") is not None:
        c_series["published (OpenSAFELY-TPP, range midpoint)"] = [mid(tgt["controlled_under80"]), mid(tgt["controlled_80_plus"])]
    figs["control"] = plots.bars(["HYP008 (under 80)", "HYP009 (80+)"], c_series, "BP control on the register",
                                 "% at target", percent=True)
    days = p["time_to_diagnosis"]["days"]
    figs["time_to_diagnosis"] = plots.histogram([d / 365.25 for d in days], "First raised clinic BP to diagnosis",
                                                "years", bins=40)
    figs["qrisk3"] = plots.histogram(p["qrisk3"]["values"], "Latest recorded QRISK3 score", "10-year risk, %",
                                     bins=[i for i in range(0, 62, 2)], marks={"10% (NG136 1.4.10)": 10})
    return figs


def write_report(out: Path, dest: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Evaluate OUT and write DEST/report.html + report.json (DEST defaults to OUT/evaluation)."""
    from synthgp.core.output import Output

    data = evaluate(out)
    t0 = time.perf_counter()
    figs = figures(data)
    data["timings_s"]["plots"] = round(time.perf_counter() - t0, 3)
    page = html.write(Path(dest) if dest else Output(out).evaluation, "evaluate.html", data, figs)
    return page, data
