"""The regulator's COVID-19 synthetic dataset, in its spirit, from any generated practice.

CPRD/MHRA's "COVID-19 Symptoms and Risk Factors" synthetic dataset (DOI 10.48329/yk2n-sz66) holds people with
suspected or confirmed COVID-19, and controls with negative tests, from 3 December 2019 to 12 April 2021,
pre-processed into a flat table whose column list is not public. This writes one row per person of that
cohort in a window (data/cprd_covid.toml), from what the *record* shows (never the truth tables): the index
date, sociodemographic and clinical risk factors at it, the tests, suspicion, symptoms and diagnoses, home
oximetry, vaccination, and outcomes (admission, critical care, death, long COVID) with their dates. Columns are
declared once in COLUMNS, which drives the data dictionary. The record holds no COVID-19 treatments, so they
have no column.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa

from synthgp.core import codes, reference
from synthgp.formats.flat import Col, write_files

SUBDIR = "cprd_covid"
BMI = codes.snomed("bmi")
ANTIGEN = codes.sql("covid_antigen_positive", "covid_antigen_negative")
SYMPTOMS = {"fever": ("covid_symptom_fever",), "cough": ("covid_symptom_cough",),
            "smell_taste": ("covid_symptom_anosmia", "covid_symptom_ageusia"), "breathless": ("covid_symptom_breathless",)}
SMOKING = {"never_smoked": 0, "ex_smoker": 1, "light_smoker": 2, "moderate_smoker": 2, "heavy_smoker": 2}
CASE_CLUSTERS = ("COVIDPOS", "COVID", "COVIDHOSP")  # a positive test, a confirmed diagnosis, an admission letter


_AT = "coded on or before the index date"
_EPISODE = "coded from 14 days before to 28 days after the index date"
COLUMNS: tuple[Col, ...] = (
    Col("patid", "int", "", "Aurum patient id", "Patient.patid"),
    Col("pracid", "int", "", "practice", "Patient.pracid"),
    Col("index_date", "date", "", "date the person entered the cohort",
        "confirmed or suspected: the first positive test, confirmed diagnosis, admission letter or suspected code in the "
        "window; negative: the first negative test in the window"),
    Col("status", "str", "confirmed, suspected, negative", "COVID-19 status in the window",
        "confirmed: a positive test (PCR or antigen), a confirmed diagnosis or a COVID-19 admission letter in the window; "
        "suspected: a suspected COVID-19 code and none of those; negative: only negative tests"),
    Col("age", "int", "years", "age at the index date", "from Patient.yob (and mob where given; otherwise 1 July)"),
    Col("gender", "str", "M, F, I, U", "sex, as CPRD's text codes", "Patient.gender 1, 2, 3 as M, F, I; anything else U"),
    Col("region", "int", "Region lookup ids", "region of the practice", "Practice.region"),
    Col("imd_quintile", "int", "1 least to 5 most deprived", "deprivation of the patient's small area",
        "patient_deprivation.e2019_imd_5 (CPRD's linkage order)"),
    Col("ethnicity", "str", "White, Asian, Black, Mixed, Other", "ethnicity, broad group",
        "latest ethnicity code on or before the index date; missing if none"),
    Col("bmi", "float", "kg/m2", "body mass index", "latest BMI on or before the index date, to 1 decimal; missing if none"),
    Col("smoking", "int", "0 never, 1 ex, 2 current", "smoking status", "latest smoking-status code on or before the index date; missing if none"),
    Col("diabetes", "int", "0, 1", "diabetes (type 1 or 2)", f"diabetes code {_AT}"),
    Col("hypertension", "int", "0, 1", "hypertension", f"hypertension code {_AT}"),
    Col("ckd", "int", "0, 1", "chronic kidney disease stage 3-5", f"CKD stage 3-5 code {_AT}"),
    Col("chd", "int", "0, 1", "myocardial infarction", f"MI code {_AT}"),
    Col("stroke", "int", "0, 1", "stroke", f"stroke code {_AT}"),
    Col("heart_failure", "int", "0, 1", "heart failure", f"heart failure code {_AT}"),
    Col("af", "int", "0, 1", "atrial fibrillation", f"AF code {_AT}"),
    Col("steroid", "int", "0, 1", "on oral corticosteroids (immunosuppression)", "prednisolone issued in the 90 days up to the index date"),
    Col("suspected", "int", "0, 1", "suspected COVID-19 coded in the window", "a suspected COVID-19 code (from a consultation with symptoms)"),
    Col("suspected_date", "date", "", "first suspected COVID-19 code in the window", ""),
    Col("positive_date", "date", "", "first positive test or confirmed diagnosis in the window", ""),
    Col("positive_test_type", "str", "pcr, antigen", "type of the first positive test", "antigen (lateral flow) or PCR; missing if none"),
    Col("negative_tests", "int", "count", "negative test results in the window", "PCR or antigen not-detected codes"),
    Col("fever", "int", "0, 1", "fever", f"fever code {_EPISODE}"),
    Col("cough", "int", "0, 1", "cough", f"cough code {_EPISODE}"),
    Col("smell_taste", "int", "0, 1", "loss of smell or taste", f"loss of sense of smell or of taste code {_EPISODE}"),
    Col("breathless", "int", "0, 1", "breathlessness", f"dyspnoea code {_EPISODE}"),
    Col("isolation_advice", "int", "0, 1", "COVID-19 advice or self-isolation coded",
        f"advice about SARS-CoV-2 or self-isolation code {_EPISODE}"),
    Col("oximetry", "int", "0, 1", "home pulse oximetry (COVID Oximetry @home)",
        "an oxygen saturation value coded 0-28 days after the index date (the programme ran from November 2020)"),
    Col("negative_date", "date", "", "first negative test in the window", ""),
    Col("vaccine_doses", "int", "count", "COVID-19 vaccine doses before the index date", "COVID-19 vaccination codes dated before it"),
    Col("first_dose_date", "date", "", "first COVID-19 vaccination", "up to the end of the window"),
    Col("hospitalised", "int", "0, 1", "admitted with COVID-19 around the index date",
        "a COVID-19 admission letter code dated 14 days before to 28 days after the index date"),
    Col("hospital_date", "date", "", "date of that admission", ""),
    Col("discharge_date", "date", "", "discharged alive from that admission",
        "the first hospital discharge code on or after the admission, up to 60 days on; missing if none (died in hospital)"),
    Col("icu", "int", "0, 1", "critical care (HDU or ICU) in that admission",
        "an intensive care admission code dated 14 days before to 35 days after the index date"),
    Col("died_28d", "int", "0, 1", "died within 28 days of the index date", "Patient.cprd_ddate 0-28 days after the index date"),
    Col("death_date", "date", "", "date of death", "Patient.cprd_ddate, if on or after the index date"),
    Col("long_covid", "int", "0, 1", "long COVID (post-COVID-19 syndrome) coded in follow-up",
        "a post-COVID-19 syndrome code after the index date, to the end of follow-up (codes from November 2020)"),
    Col("long_covid_date", "date", "", "date of the first such code", ""),
    Col("post_covid_referral", "int", "0, 1", "referred to a post-COVID assessment clinic in follow-up",
        "a referral code after the index date, to the end of follow-up"),
    Col("followup_days", "int", "days", "follow-up from the index date",
        "to the earliest of leaving, death and the end of the window plus 28 days (and the last collection date)"),
)


def _spec() -> dict:
    return reference.toml("cprd_covid.toml")


def window() -> tuple[dt.date, dt.date]:
    w = _spec()["window"]
    return dt.date.fromisoformat(w["start"]), dt.date.fromisoformat(w["end"])


_ORDER = "strftime(obsdate, '%Y%m%d') || lpad(obsid::VARCHAR, 20, '0')"  # date, then id: a total order


def _query(start: dt.date, end: dt.date) -> str:
    spec = reference.toml("cprd_cvd.toml")
    gender = " ".join(f"WHEN {int(k)} THEN '{v}'" for k, v in spec["gender"]["codes"].items())
    eth = reference.toml("population.toml")["ethnicity"]
    eth_map = ", ".join(f"({m}, '{b}')" for m, b in sorted(set(zip(map(codes.medcode, eth["code"]), eth["broad"]))))
    cases = ", ".join(f"'{c}'" for c in CASE_CLUSTERS)
    symptoms = ", ".join(f"max((o.medcodeid IN ({', '.join(str(codes.medcode(k)) for k in keys)}))::INT) AS {name}"
                         for name, keys in SYMPTOMS.items())
    flag = lambda cluster: f"max((o.cluster = '{cluster}')::INT)"  # noqa: E731
    return f"""
    WITH w AS (SELECT DATE '{start.isoformat()}' AS s, DATE '{end.isoformat()}' AS e),
    ev AS (SELECT o.patid, o.obsdate, o.obsid, m.cluster, m.snomedctconceptid AS sct
           FROM observation o JOIN medical_dictionary m USING (medcodeid), w
           WHERE m.cluster IN ('COVIDPOS', 'COVIDNEG', 'COVIDSUSP', 'COVID', 'COVIDHOSP') AND o.obsdate BETWEEN w.s AND w.e),
    per AS (SELECT patid,
                   min(obsdate) FILTER (WHERE cluster IN ({cases})) AS first_case,
                   min(obsdate) FILTER (WHERE cluster IN ('COVIDPOS', 'COVID')) AS positive_date,
                   arg_min(CASE WHEN sct IN ({ANTIGEN}) THEN 'antigen' ELSE 'pcr' END, {_ORDER}) FILTER (WHERE cluster = 'COVIDPOS') AS positive_test_type,
                   min(obsdate) FILTER (WHERE cluster = 'COVIDSUSP') AS suspected_date,
                   min(obsdate) FILTER (WHERE cluster = 'COVIDNEG') AS negative_date,
                   count(*) FILTER (WHERE cluster = 'COVIDNEG') AS negative_tests
            FROM ev GROUP BY 1),
    coh AS (SELECT per.*, CASE WHEN first_case IS NOT NULL THEN 'confirmed' WHEN suspected_date IS NOT NULL THEN 'suspected'
                              ELSE 'negative' END AS status,
                   coalesce(least(first_case, suspected_date), negative_date) AS index_date FROM per),
    pop AS (SELECT coh.*, p.pracid, p.gender, pr.region, d.e2019_imd_5 AS imd_quintile, p.cprd_ddate,
                   CAST(floor(date_diff('day', make_date(p.yob, coalesce(p.mob, 7), 1), coh.index_date) / 365.25) AS INT) AS age,
                   least(coalesce(p.regenddate, pr.lcd), coalesce(p.cprd_ddate, pr.lcd), pr.lcd, w.e + 28) AS fu_end
            FROM coh JOIN patient p USING (patid) JOIN practice pr ON pr.pracid = p.pracid
            LEFT JOIN patient_deprivation d ON d.patid = coh.patid, w
            WHERE p.acceptable = 1 AND p.regstartdate <= coh.index_date
              AND coalesce(p.regenddate, pr.lcd) >= coh.index_date AND coalesce(p.cprd_ddate, pr.lcd) >= coh.index_date),
    obs AS (SELECT o.patid, o.obsdate, o.obsid, o.value, o.medcodeid, m.cluster, m.snomedctconceptid AS sct, pop.index_date
            FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN pop USING (patid)),
    flags AS (SELECT o.patid, {flag('DM')} AS diabetes, {flag('HYP')} AS hypertension, {flag('CKD')} AS ckd,
                     {flag('MI')} AS chd, {flag('STROKE')} AS stroke, {flag('HF')} AS heart_failure, {flag('AF')} AS af
              FROM obs o WHERE o.obsdate <= o.index_date GROUP BY 1),
    latest AS (SELECT patid, arg_max(medcodeid, {_ORDER}) FILTER (WHERE cluster = 'ETH') AS eth_code,
                      arg_max({codes.sql_case('sct', SMOKING)}, {_ORDER}) FILTER (WHERE cluster = 'SMOK') AS smoking,
                      arg_max(value, {_ORDER}) FILTER (WHERE sct = {BMI}) AS bmi
               FROM obs WHERE obsdate <= index_date GROUP BY 1),
    eth_map(medcodeid, broad) AS (VALUES {eth_map}),
    vac AS (SELECT o.patid, count(*) FILTER (WHERE o.obsdate < o.index_date) AS vaccine_doses, min(o.obsdate) AS first_dose_date
            FROM obs o, w WHERE o.cluster = 'COVIDVAC' AND o.obsdate <= w.e GROUP BY 1),
    hosp AS (SELECT o.patid, min(o.obsdate) AS hospital_date FROM obs o
             WHERE o.cluster = 'COVIDHOSP' AND o.obsdate BETWEEN o.index_date - 14 AND o.index_date + 28 GROUP BY 1),
    disch AS (SELECT o.patid, min(o.obsdate) AS discharge_date FROM obs o JOIN hosp USING (patid)
              WHERE o.cluster = 'HOSPDISCH' AND o.obsdate BETWEEN hosp.hospital_date AND hosp.hospital_date + 60 GROUP BY 1),
    episode AS (SELECT o.patid, {symptoms},
                       max((o.cluster = 'COVIDADV')::INT) AS isolation_advice,
                       max((o.cluster = 'SPO2' AND o.obsdate >= o.index_date)::INT) AS oximetry,
                       max((o.cluster = 'COVIDICU' AND o.obsdate <= o.index_date + 35)::INT) AS icu
                FROM obs o WHERE o.cluster IN ('COVIDSYMP', 'COVIDADV', 'SPO2', 'COVIDICU')
                  AND o.obsdate BETWEEN o.index_date - 14 AND o.index_date + 35
                  AND (o.cluster IN ('COVIDICU') OR o.obsdate <= o.index_date + 28) GROUP BY 1),
    longc AS (SELECT o.patid, min(o.obsdate) FILTER (WHERE o.cluster = 'LONGCOVID') AS long_covid_date,
                     max((o.cluster = 'LONGCOVIDREF')::INT) AS post_covid_referral
              FROM obs o JOIN pop USING (patid) WHERE o.cluster IN ('LONGCOVID', 'LONGCOVIDREF')
                AND o.obsdate > o.index_date AND o.obsdate <= pop.fu_end GROUP BY 1),
    rx AS (SELECT i.patid, max((p.drugsubstancename = 'Prednisolone')::INT) AS steroid
           FROM drug_issue i JOIN product_dictionary p USING (prodcodeid) JOIN pop USING (patid)
           WHERE i.issuedate <= pop.index_date AND i.issuedate > pop.index_date - 90 GROUP BY 1)
    SELECT pop.patid, pop.pracid, pop.index_date, pop.status, pop.age,
           CASE pop.gender {gender} ELSE 'U' END AS gender, pop.region, pop.imd_quintile, em.broad AS ethnicity,
           round(l.bmi, 1) AS bmi, l.smoking,
           coalesce(f.diabetes, 0) AS diabetes, coalesce(f.hypertension, 0) AS hypertension, coalesce(f.ckd, 0) AS ckd,
           coalesce(f.chd, 0) AS chd, coalesce(f.stroke, 0) AS stroke, coalesce(f.heart_failure, 0) AS heart_failure,
           coalesce(f.af, 0) AS af, coalesce(rx.steroid, 0) AS steroid,
           (pop.suspected_date IS NOT NULL)::INT AS suspected, pop.suspected_date, pop.positive_date, pop.positive_test_type,
           pop.negative_tests::INT AS negative_tests, pop.negative_date,
           coalesce(vac.vaccine_doses, 0)::INT AS vaccine_doses, vac.first_dose_date,
           coalesce(e.fever, 0) AS fever, coalesce(e.cough, 0) AS cough, coalesce(e.smell_taste, 0) AS smell_taste,
           coalesce(e.breathless, 0) AS breathless, coalesce(e.isolation_advice, 0) AS isolation_advice,
           coalesce(e.oximetry, 0) AS oximetry,
           (hosp.hospital_date IS NOT NULL)::INT AS hospitalised, hosp.hospital_date, disch.discharge_date,
           coalesce(e.icu, 0) AS icu,
           (pop.cprd_ddate IS NOT NULL AND pop.cprd_ddate BETWEEN pop.index_date AND pop.index_date + 28)::INT AS died_28d,
           CASE WHEN pop.cprd_ddate >= pop.index_date THEN pop.cprd_ddate END AS death_date,
           (lc.long_covid_date IS NOT NULL)::INT AS long_covid, lc.long_covid_date,
           coalesce(lc.post_covid_referral, 0) AS post_covid_referral,
           date_diff('day', pop.index_date, pop.fu_end)::INT AS followup_days
    FROM pop LEFT JOIN flags f USING (patid) LEFT JOIN latest l USING (patid) LEFT JOIN eth_map em ON em.medcodeid = l.eth_code
    LEFT JOIN vac USING (patid) LEFT JOIN hosp USING (patid) LEFT JOIN disch USING (patid) LEFT JOIN rx USING (patid)
    LEFT JOIN episode e USING (patid) LEFT JOIN longc lc USING (patid)
    ORDER BY pop.patid"""


def table(con: duckdb.DuckDBPyConnection, start: dt.date | None = None, end: dt.date | None = None) -> pa.Table:
    """The flat table as Arrow, columns in COLUMNS order; the window defaults to the regulator's."""
    s, e = window()
    start, end = start or s, end or e
    if start > end:
        raise ValueError(f"cprd-covid window starts {start} after it ends {end}")
    return con.sql(_query(start, end)).to_arrow_table().select([c.name for c in COLUMNS])


def dictionary(start: dt.date, end: dt.date) -> tuple[str, dict]:
    """The data dictionary as Markdown and as a machine-readable object."""
    rows = [{"column": c.name, "type": c.type, "levels": c.levels, "meaning": c.meaning, "derivation": c.derivation}
            for c in COLUMNS]
    md = ["# cprd_covid: data dictionary\n",
          "One row per acceptable patient registered on their index date with suspected or confirmed COVID-19, or a",
          f"negative test, coded between {start.isoformat()} and {end.isoformat()} (the window of CPRD/MHRA's COVID-19",
          "synthetic dataset, DOI 10.48329/yk2n-sz66, whose column list is not public: these columns are synthgp's, in",
          "its spirit). Everything is taken from the record, never the truth. Missing values are empty (CSV) or null",
          "(Parquet). The record holds no COVID-19 treatments.\n",
          "| column | type | levels | meaning | how it is derived |", "| --- | --- | --- | --- | --- |"]
    md += [f"| `{r['column']}` | {r['type']} | {r['levels']} | {r['meaning']} | {r['derivation']} |" for r in rows]
    return "\n".join(md) + "\n", {"window": [start.isoformat(), end.isoformat()], "columns": rows,
                                  "source": _spec()["source"]}


def write(con: duckdb.DuckDBPyConnection, out: Path, sc) -> None:
    start, end = window()
    folder = Path(out) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, "cprd_covid", table(con, start, end), *dictionary(start, end))
