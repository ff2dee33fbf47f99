"""The regulator's synthetic cardiovascular dataset, reproduced in shape, from any generated practice.

CPRD's synthetic cardiovascular dataset (Tucker et al. 2020; about 500,000 people) is one flat
table: QRISK3 predictors at a baseline date and a stroke outcome. This writes the same columns, in
the same order and with the same names, for every eligible adult, taken from what the *record*
shows at baseline (missing where it has no value), never from the latent truth; synthgp's own
extras follow. Columns are declared once in COLUMNS, which drives the data dictionary.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from synthgp.clinical import qrisk3
from synthgp.core import codes, reference
from synthgp.formats.flat import Col, write_files

SUBDIR = "cprd_cvd"
# the record's codes behind the columns (data/codes.csv keys)
SBP, BMI = codes.snomed("bp_systolic"), codes.snomed("bmi")
CHOLESTEROL, HDL = codes.snomed("cholesterol"), codes.snomed("hdl_cholesterol")
MI, HEART_FAILURE = codes.snomed("myocardial_infarction"), codes.snomed("heart_failure")
STROKE_CLUSTER = "STROKE"  # every stroke code of data/codes.csv, whatever its type
# QRISK3's smoking levels: 0 non-smoker, 1 ex, 2 light, 3 moderate, 4 heavy
SMOKING = {"never_smoked": 0, "ex_smoker": 1, "light_smoker": 2, "moderate_smoker": 3, "heavy_smoker": 4}


_BEFORE = "coded on or before baseline"
COLUMNS: tuple[Col, ...] = (
    Col("strokeha", "int", "0, 1", "stroke: the regulator's outcome label, with no dates",
        "any code of the STROKE cluster (stroke of any type) on or before the end of follow-up: a stroke before baseline "
        "counts, as one in follow-up does (`stroke_history` and `stroke_followup` separate them). The regulator's code "
        "(CPRD/Synthetic-Data latentModel.R, tables_figures.R) uses strokeha only as the 0/1 target of its stroke "
        "classifier and publishes no code list or window; TIA is not counted (the record holds no TIA code)"),
    Col("af", "int", "0, 1", "atrial fibrillation", f"AF code {_BEFORE}"),
    Col("atyantip", "int", "0, 1", "on atypical antipsychotics", "an atypical antipsychotic issued in the 90 days up to baseline"),
    Col("steroid", "int", "0, 1", "on regular oral corticosteroids", "an oral corticosteroid issued in the 90 days up to baseline"),
    Col("impot", "int", "0, 1", "erectile dysfunction (men)", f"erectile dysfunction code {_BEFORE}; 0 for women"),
    Col("migr", "int", "0, 1", "migraine", f"migraine code {_BEFORE}"),
    Col("ra", "int", "0, 1", "rheumatoid arthritis", f"rheumatoid arthritis code {_BEFORE}"),
    Col("ckidney", "int", "0, 1", "chronic kidney disease stage 3-5", f"CKD stage 3, 4 or 5 code {_BEFORE}"),
    Col("semi", "int", "0, 1", "severe mental illness", f"schizophrenia, bipolar or psychosis code {_BEFORE}"),
    Col("sle", "int", "0, 1", "systemic lupus erythematosus", f"SLE code {_BEFORE}"),
    Col("treathyp", "int", "0, 1", "on treatment for hypertension",
        "an antihypertensive issued in the 90 days up to baseline: BNF 2.2.1, 2.2.3, 2.4, 2.5 or 2.6.2 "
        "(data/cprd_cvd.toml), not statins, antiplatelets, nitrates or the rest of chapter 2"),
    Col("type1", "int", "0, 1", "type 1 diabetes", f"type 1 diabetes code {_BEFORE}"),
    Col("type2", "int", "0, 1", "type 2 diabetes", f"type 2 diabetes code {_BEFORE}"),
    Col("ethr", "int", "1 White or not stated, 2 Indian, 3 Pakistani, 4 Bangladeshi, 5 Other Asian, 6 Black Caribbean, 7 Black African, 8 Chinese, 9 Other",
        "ethnicity in QRISK3's groups", "latest ethnicity code on or before baseline, mapped to QRISK3's groups; missing if none"),
    Col("smoking", "int", "0 non-smoker, 1 ex, 2 light, 3 moderate, 4 heavy", "smoking in QRISK3's levels",
        "latest smoking-status code on or before baseline; missing if none"),
    Col("fh_cad", "int", "0, 1", "family history of premature coronary heart disease", f"family history code {_BEFORE}"),
    Col("gender", "str", "M male, F female, I indeterminate, U unknown", "sex, as CPRD's text codes (the regulator's code "
        "filters gender == \"F\")", "Patient.gender 1, 2, 3 as M, F, I; anything else U"),
    Col("region", "int", "Region lookup ids", "region of the practice", "Practice.region"),
    Col("age", "int", "25-84", "age at baseline, years", "from Patient.yob (and mob where given; otherwise 1 July)"),
    Col("bmi", "float", "kg/m2", "body mass index", "latest BMI on or before baseline, to 1 decimal; missing if none"),
    Col("choleratio", "float", "ratio", "total:HDL cholesterol ratio",
        "latest total cholesterol / latest HDL on or before baseline, to 1 decimal as the regulator rounds it; missing if either is"),
    Col("sbp", "float", "mmHg", "systolic blood pressure", "latest clinic systolic on or before baseline, to whole mmHg; missing if none"),
    Col("sbps", "float", "mmHg", "SD of recent systolic readings",
        "SD of clinic systolic readings in the 5 years up to baseline, to 2 decimals; missing if fewer than 2"),
    Col("patid", "int", "", "Aurum patient id", "Patient.patid", extra=True),
    Col("townsend", "float", "score", "Townsend deprivation score (QRISK3 input)", "patient_deprivation.townsend (small-area linkage)", extra=True),
    Col("qrisk3", "float", "percent", "QRISK3 10-year risk computed from this row",
        "QRISK3-2017 from the row; missing BMI, ratio and SBP take QRISK3's population means, missing SD 0, ethnicity 1, smoking 0", extra=True),
    Col("followup_years", "float", "years", "follow-up from baseline", "to the earliest of leaving, death and the last collection date", extra=True),
    Col("stroke_history", "int", "0, 1", "stroke before baseline", "a STROKE-cluster code on or before baseline", extra=True),
    Col("stroke_followup", "int", "0, 1", "stroke in follow-up", "a STROKE-cluster code after baseline, up to the end of follow-up",
        extra=True),
    Col("mi", "int", "0, 1", "myocardial infarction in follow-up", "an MI code after baseline", extra=True),
    Col("heart_failure", "int", "0, 1", "heart failure in follow-up", "a heart failure code after baseline", extra=True),
    Col("death", "int", "0, 1", "death in follow-up", "Patient.cprd_ddate after baseline, within follow-up", extra=True),
)


def baseline_of(sc) -> dt.date:
    b = sc.exports.cvd_baseline
    return sc.period.first_day if b == "start" else dt.date.fromisoformat(b)


def _spec() -> dict:
    """What the regulator's code expects (data/cprd_cvd.toml)."""
    return reference.toml("cprd_cvd.toml")


def _query(baseline: dt.date) -> str:
    spec = _spec()
    gender = " ".join(f"WHEN {int(k)} THEN '{v}'" for k, v in spec["gender"]["codes"].items())
    gender_sql = f"CASE pop.gender {gender} ELSE '{spec['gender']['unknown']}' END"
    antihypertensive = " OR ".join(f"p.bnfchapter LIKE '{b}%'" for b in spec["treathyp"]["bnf_prefixes"])
    eth = reference.toml("population.toml")["ethnicity"]
    eth_map = ", ".join(f"({m}, {q})" for m, q in sorted(set(zip(map(codes.medcode, eth["code"]), eth["qrisk3"]))))
    flag = lambda key: f"max((o.sct = {codes.snomed(key)})::INT)"  # noqa: E731
    return f"""
    WITH b AS (SELECT DATE '{baseline.isoformat()}' AS d),
    elig AS (
        SELECT p.patid, p.gender, pr.region, d.townsend,
               CAST(floor(date_diff('day', make_date(p.yob, coalesce(p.mob, 7), 1), b.d) / 365.25) AS INT) AS age,
               least(coalesce(p.regenddate, pr.lcd), coalesce(p.cprd_ddate, pr.lcd), pr.lcd) AS fu_end,
               p.cprd_ddate
        FROM patient p JOIN practice pr USING (pracid) LEFT JOIN patient_deprivation d USING (patid), b
        WHERE p.acceptable = 1 AND p.regstartdate <= b.d
          AND coalesce(p.regenddate, pr.lcd) > b.d AND coalesce(p.cprd_ddate, pr.lcd) > b.d),
    pop AS (SELECT * FROM elig WHERE age BETWEEN 25 AND 84),
    obs AS (SELECT o.patid, o.obsdate, o.obsid, o.value, m.snomedctconceptid AS sct, m.cluster, o.medcodeid
            FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN pop USING (patid), b
            WHERE o.obsdate <= b.d),
    flags AS (SELECT o.patid, {flag('atrial_fibrillation')} AS af, {flag('erectile_dysfunction')} AS impot,
                     {flag('migraine')} AS migr, {flag('rheumatoid_arthritis')} AS ra, max((o.cluster = 'CKD')::INT) AS ckidney,
                     {flag('schizophrenia')} AS semi, {flag('sle')} AS sle, {flag('type1_diabetes')} AS type1,
                     {flag('type2_diabetes')} AS type2, {flag('family_history_chd')} AS fh_cad
              FROM obs o GROUP BY 1),
    latest AS (SELECT patid, sct, value, medcodeid, cluster,
                      row_number() OVER (PARTITION BY patid, coalesce(cluster, '') || CASE WHEN cluster IN ('ETH', 'SMOK') THEN '' ELSE sct::VARCHAR END
                                         ORDER BY obsdate DESC, obsid DESC) AS rn
               FROM obs WHERE cluster IN ('ETH', 'SMOK') OR sct IN ({BMI}, {CHOLESTEROL}, {HDL}, {SBP})),
    last1 AS (SELECT patid,
                  max(CASE WHEN cluster = 'ETH' THEN medcodeid END) AS eth_code,
                  max(CASE WHEN cluster = 'SMOK' THEN {codes.sql_case('sct', SMOKING)} END) AS smoking,
                  max(CASE WHEN sct = {BMI} THEN value END) AS bmi,
                  max(CASE WHEN sct = {CHOLESTEROL} THEN value END) AS tc,
                  max(CASE WHEN sct = {HDL} THEN value END) AS hdl,
                  max(CASE WHEN sct = {SBP} THEN value END) AS sbp
              FROM latest WHERE rn = 1 GROUP BY 1),
    sds AS (SELECT o.patid, CASE WHEN count(*) >= 2 THEN stddev_samp(o.value) END AS sbps
            FROM obs o, b WHERE o.sct = {SBP} AND o.obsdate > b.d - INTERVAL 5 YEAR GROUP BY 1),
    eth_map(medcodeid, q) AS (VALUES {eth_map}),
    rx AS (SELECT i.patid,
                  max(({antihypertensive})::INT) AS treathyp,
                  max((p.drugsubstancename = 'Olanzapine')::INT) AS atyantip,
                  max((p.drugsubstancename = 'Prednisolone')::INT) AS steroid
           FROM drug_issue i JOIN product_dictionary p USING (prodcodeid) JOIN pop USING (patid), b
           WHERE i.issuedate <= b.d AND i.issuedate > b.d - INTERVAL {int(spec['treathyp']['window_days'])} DAY GROUP BY 1),
    fu AS (SELECT o.patid, max((m.cluster = '{STROKE_CLUSTER}' AND o.obsdate > b.d)::INT) AS stroke_followup,
                  max((m.cluster = '{STROKE_CLUSTER}' AND o.obsdate <= b.d)::INT) AS stroke_history,
                  max((m.snomedctconceptid = {MI} AND o.obsdate > b.d)::INT) AS mi,
                  max((m.snomedctconceptid = {HEART_FAILURE} AND o.obsdate > b.d)::INT) AS heart_failure
           FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN pop USING (patid), b
           WHERE o.obsdate <= pop.fu_end GROUP BY 1)
    SELECT greatest(coalesce(fu.stroke_history, 0), coalesce(fu.stroke_followup, 0)) AS strokeha, coalesce(f.af, 0) AS af, coalesce(rx.atyantip, 0) AS atyantip,
           coalesce(rx.steroid, 0) AS steroid, CASE WHEN pop.gender = 1 THEN coalesce(f.impot, 0) ELSE 0 END AS impot,
           coalesce(f.migr, 0) AS migr, coalesce(f.ra, 0) AS ra, coalesce(f.ckidney, 0) AS ckidney,
           coalesce(f.semi, 0) AS semi, coalesce(f.sle, 0) AS sle, coalesce(rx.treathyp, 0) AS treathyp,
           coalesce(f.type1, 0) AS type1, coalesce(f.type2, 0) AS type2, em.q AS ethr, l.smoking,
           coalesce(f.fh_cad, 0) AS fh_cad, {gender_sql} AS gender, pop.region, pop.age, l.bmi,
           l.tc / l.hdl AS choleratio, l.sbp, sds.sbps,
           pop.patid, pop.townsend,
           round(date_diff('day', b.d, pop.fu_end) / 365.25, 3) AS followup_years,
           coalesce(fu.stroke_history, 0) AS stroke_history, coalesce(fu.stroke_followup, 0) AS stroke_followup,
           coalesce(fu.mi, 0) AS mi, coalesce(fu.heart_failure, 0) AS heart_failure,
           (pop.cprd_ddate IS NOT NULL AND pop.cprd_ddate > b.d AND pop.cprd_ddate <= pop.fu_end)::INT AS death
    FROM pop CROSS JOIN b LEFT JOIN flags f USING (patid) LEFT JOIN last1 l USING (patid) LEFT JOIN sds USING (patid)
    LEFT JOIN eth_map em ON em.medcodeid = l.eth_code LEFT JOIN rx USING (patid) LEFT JOIN fu USING (patid)
    ORDER BY pop.patid"""


def _qrisk(t: pa.Table) -> np.ndarray:
    coef = reference.toml("qrisk3.toml")
    col = lambda n: t.column(n).to_numpy(zero_copy_only=False)  # noqa: E731
    male = col("gender") == "M"
    means = {k: np.where(male, coef["male"]["centre"][k], coef["female"]["centre"][k]) for k in ("rati", "sbp")}
    bmi_mean = np.where(male, 10 / np.sqrt(coef["male"]["centre"]["bmi_1"]), 10 / np.sqrt(coef["female"]["centre"]["bmi_1"]))

    def filled(name, default):
        v = col(name).astype(np.float64)
        return np.where(np.isnan(v), default, v)

    flags = {"af": "af", "atypical_antipsychotic": "atyantip", "corticosteroids": "steroid", "impotence": "impot",
             "migraine": "migr", "ra": "ra", "renal": "ckidney", "semi": "semi", "sle": "sle",
             "treated_hypertension": "treathyp", "type1": "type1", "type2": "type2", "fh_cvd": "fh_cad"}
    inp = qrisk3.Inputs(
        male=male, age=col("age").astype(np.float64), ethnicity=filled("ethr", 1).astype(int),
        smoking=filled("smoking", 0).astype(int), bmi=np.clip(filled("bmi", bmi_mean), 20, 40),
        chol_ratio=np.clip(filled("choleratio", means["rati"]), 1, 11), sbp=filled("sbp", means["sbp"]),
        sbp_sd=filled("sbps", 0.0), townsend=filled("townsend", 0.0),
        flags={k: col(v).astype(bool) for k, v in flags.items()})
    return np.round(qrisk3.score(inp), 2)


def table(con: duckdb.DuckDBPyConnection, baseline: dt.date) -> pa.Table:
    """The flat table as Arrow, columns in COLUMNS order."""
    t = con.sql(_query(baseline)).to_arrow_table()
    # rounded as the regulator's R code rounds (latentModel.R): to the nearest decimal, as R (4.0 on) and Python's round
    # do it, not by scaling (DuckDB's round(5.1 / 1.2, 1) gives 4.3; R's and Python's give 4.2)
    for name, decimals in _spec()["rounding"].items():
        i = t.column_names.index(name)
        vals = [None if v is None else round(v, int(decimals)) for v in t.column(name).to_pylist()]
        t = t.set_column(i, name, pa.array(vals, pa.float64()))
    t = t.append_column("qrisk3", pa.array(_qrisk(t), pa.float64()) if t.num_rows else pa.array([], pa.float64()))
    return t.select([c.name for c in COLUMNS])


def dictionary(baseline: dt.date) -> tuple[str, dict]:
    """The data dictionary as Markdown and as a machine-readable object."""
    rows = [{"column": c.name, "type": c.type, "levels": c.levels, "meaning": c.meaning, "derivation": c.derivation,
             "source": "synthgp extra" if c.extra else "CPRD synthetic cardiovascular dataset"} for c in COLUMNS]
    md = ["# cprd_cvd: data dictionary\n",
          f"One row per acceptable adult aged 25-84, registered on the baseline date {baseline.isoformat()}, with the",
          "columns of CPRD's synthetic cardiovascular dataset (in its order and names) taken from what the record",
          "shows at baseline, then synthgp's own extras. Missing values are empty (CSV), null (Parquet) or NA",
          "(`cprd_cvd.txt`, tab-delimited, as the regulator's R code reads its table with read.delim): the record",
          "had none. Gender is CPRD's text code and values are rounded as the regulator's code rounds them",
          f"(data/cprd_cvd.toml; {_spec()['source']}).\n",
          "| column | type | levels | meaning | how it is derived | from |", "| --- | --- | --- | --- | --- | --- |"]
    md += [f"| `{r['column']}` | {r['type']} | {r['levels']} | {r['meaning']} | {r['derivation']} | {r['source']} |" for r in rows]
    md.append(f"\nQRISK3: {qrisk3.NOTICE}\n")
    return "\n".join(md), {"baseline": baseline.isoformat(), "columns": rows, "qrisk3_notice": qrisk3.NOTICE}


def write(con: duckdb.DuckDBPyConnection, out: Path, sc) -> None:
    baseline = baseline_of(sc)
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    t = table(con, baseline)
    write_files(folder, "cprd_cvd", t, *dictionary(baseline))
    # as the regulator's code reads its table: read.delim (tab-delimited, a header row, NA for missing)
    tsv = duckdb.connect()
    try:
        tsv.register("t", t)
        tsv.execute(f"COPY t TO '{(folder / 'cprd_cvd.txt').as_posix()}' (DELIMITER '\t', HEADER, NULLSTR 'NA', QUOTE '')")
    finally:
        tsv.close()
