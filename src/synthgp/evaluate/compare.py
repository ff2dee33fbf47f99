"""`synthgp compare SYNTH REFERENCE`: how close a generated practice is to a reference extract in CPRD
Aurum format (a real extract, or another synthetic one).

Both sides are read the same way, from Aurum text files only (Patient, Observation, Consultation,
DrugIssue, and the two dictionaries): a synthgp output folder's `aurum/`, or any folder of Aurum files
(CPRD's own names such as `..._Extract_Patient_001.txt` are found too). Each patient becomes one row
of features (age, sex, registration, consultations and prescriptions per year, gaps between visits,
BP readings and their level, hypertension code, antihypertensives), and the two tables are compared
with synthgp.fidelity.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from synthgp.core import codes
from synthgp.evaluate import fidelity

TABLES = {"patient": "Patient", "observation": "Observation", "consultation": "Consultation", "drug_issue": "DrugIssue",
          "medical_dictionary": "MedicalDictionary", "product_dictionary": "ProductDictionary"}
SBP = codes.sql("bp_systolic")  # clinic systolic BP
WINDOW_YEARS = 10
CATEGORICAL = ("sex", "hypertension_coded", "on_antihypertensive")
# The columns read from each file, and their types (Aurum's own column names; dates DD/MM/YYYY).
COLUMNS = {
    "patient": {"patid": "id", "gender": "int", "yob": "int", "regstartdate": "date", "regenddate": "date",
                "cprd_ddate": "date", "patienttypeid": "int"},
    "observation": {"patid": "id", "obsdate": "date", "medcodeid": "id", "value": "float"},
    "consultation": {"patid": "id", "consdate": "date"},
    "drug_issue": {"patid": "id", "issuedate": "date", "prodcodeid": "id"},
    "medical_dictionary": {"medcodeid": "id", "snomedctconceptid": "id"},
    "product_dictionary": {"prodcodeid": "id", "bnfchapter": "text"},
}
_CAST = {"id": "TRY_CAST(nullif({c}, '') AS BIGINT)", "int": "TRY_CAST(nullif({c}, '') AS INTEGER)",
         "float": "TRY_CAST(nullif({c}, '') AS DOUBLE)", "text": "nullif({c}, '')",
         "date": "TRY_STRPTIME(nullif({c}, ''), '%d/%m/%Y')::DATE"}


def hypertension_concepts() -> list[int]:
    """SNOMED CT concepts of the HYP cluster (data/codes.csv, from QOF's HYP_COD)."""
    return sorted({c.snomed for c in codes.in_cluster("HYP") if c.snomed is not None})


def _files(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for table, stem in TABLES.items():
        hits = sorted(p for p in folder.glob("*.txt")
                      if p.stem.lower() == stem.lower() or f"_{stem.lower()}_" in f"_{p.stem.lower()}_")
        found[table] = hits
    return found


def open_extract(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the columns synthgp compares from each Aurum table at PATH."""
    from synthgp.core.output import Output

    path = Path(path)
    aurum = Output(path).folder("aurum")  # a synthgp output's Aurum files; else PATH is a folder of them
    folder = aurum if aurum.is_dir() else path
    if not folder.is_dir():
        raise FileNotFoundError(f"{path} is not a folder")
    files = _files(folder)
    missing = [TABLES[t] for t, f in files.items() if not f]
    if missing:
        raise ValueError(f"{path}: no Aurum {', '.join(missing)} file found (looked for {folder}/<Table>.txt or "
                         "CPRD's *_Extract_<Table>_NNN.txt); give a synthgp output folder or a folder of Aurum files")
    con = duckdb.connect()
    for table, fs in files.items():
        lst = "[" + ", ".join(f"'{f.as_posix()}'" for f in fs) + "]"
        cols = ", ".join(f"{_CAST[kind].format(c=c)} AS {c}" for c, kind in COLUMNS[table].items())
        try:
            con.execute(f"""CREATE TABLE {table} AS SELECT {cols} FROM read_csv({lst}, delim='\t', header=true,
                            quote='', all_varchar=true)""")
        except duckdb.Error as exc:
            raise ValueError(f"{path}: the Aurum {TABLES[table]} file could not be read as Aurum "
                             f"(columns needed: {', '.join(COLUMNS[table])}): {str(exc).splitlines()[0]}") from None
    return con


def features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per regular patient registered at any time in the last WINDOW_YEARS of the extract (which ends
    at its last observation), with the same features for any Aurum extract. Rates count events in that
    window while registered."""
    hyp = ", ".join(str(c) for c in hypertension_concepts())
    return con.execute(f"""
    WITH ends AS (SELECT max(obsdate) AS d FROM observation),
    p AS (SELECT patid, CASE gender WHEN 1 THEN 'M' WHEN 2 THEN 'F' ELSE 'other' END AS sex, yob,
                 greatest(regstartdate, (SELECT d FROM ends) - INTERVAL {WINDOW_YEARS} YEAR)::DATE AS w0,
                 least(coalesce(regenddate, (SELECT d FROM ends)), coalesce(cprd_ddate, (SELECT d FROM ends)),
                       (SELECT d FROM ends)) AS w1
          FROM patient WHERE patienttypeid = 3 OR patienttypeid IS NULL),
    span AS (SELECT *, greatest(date_diff('day', w0, w1), 30) / 365.25 AS years FROM p WHERE w1 >= w0),
    cons AS (SELECT c.patid, count(*) AS n, median(gap) AS gap FROM (
               SELECT patid, consdate, date_diff('day', lag(consdate) OVER (PARTITION BY patid ORDER BY consdate), consdate) AS gap
               FROM (SELECT DISTINCT c.patid, c.consdate FROM consultation c JOIN span USING (patid)
                     WHERE c.consdate BETWEEN span.w0 AND span.w1)) c GROUP BY 1),
    o AS (SELECT o.* FROM observation o JOIN span USING (patid) WHERE o.obsdate BETWEEN span.w0 AND span.w1),
    bp AS (SELECT o.patid, count(*) AS n, avg(o.value) AS mean_sbp FROM o
           JOIN medical_dictionary m USING (medcodeid) WHERE m.snomedctconceptid IN ({SBP}) AND o.value IS NOT NULL GROUP BY 1),
    obs AS (SELECT patid, count(*) AS n FROM o GROUP BY 1),
    hyp AS (SELECT DISTINCT ob.patid FROM observation ob JOIN medical_dictionary m USING (medcodeid)
            JOIN span USING (patid) WHERE m.snomedctconceptid IN ({hyp}) AND ob.obsdate <= span.w1),
    rx AS (SELECT i.patid, count(*) AS n, count(DISTINCT i.prodcodeid) AS products,
                  count(*) FILTER (WHERE pd.bnfchapter LIKE '02%') AS cardio
           FROM drug_issue i JOIN span USING (patid) LEFT JOIN product_dictionary pd USING (prodcodeid)
           WHERE i.issuedate BETWEEN span.w0 AND span.w1 GROUP BY 1)
    SELECT span.sex, year(span.w1) - span.yob AS age, span.years AS years_in_window,
           coalesce(cons.n, 0) / span.years AS consultations_per_year, cons.gap AS median_days_between_consultations,
           coalesce(obs.n, 0) / span.years AS observations_per_year,
           coalesce(bp.n, 0) AS bp_readings, bp.mean_sbp,
           CASE WHEN hyp.patid IS NULL THEN 'no' ELSE 'yes' END AS hypertension_coded,
           coalesce(rx.n, 0) / span.years AS prescriptions_per_year, coalesce(rx.products, 0) AS distinct_products,
           CASE WHEN coalesce(rx.cardio, 0) > 0 THEN 'yes' ELSE 'no' END AS on_antihypertensive
    FROM span LEFT JOIN cons USING (patid) LEFT JOIN bp USING (patid) LEFT JOIN obs USING (patid)
    LEFT JOIN hyp USING (patid) LEFT JOIN rx USING (patid)
    ORDER BY span.patid""").df()


def compare(synth: Path, reference: Path, seed: int = 0) -> dict[str, Any]:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    tables = {}
    for name, path in (("synthetic", synth), ("reference", reference)):
        con = open_extract(path)
        try:
            tables[name] = features(con)
        finally:
            con.close()
        if tables[name].empty:
            raise ValueError(f"{path}: the extract holds no regular patients")
    timings["features"] = round(time.perf_counter() - t0, 3)
    s, r = tables["synthetic"], tables["reference"]
    t0 = time.perf_counter()
    cols = fidelity.columns(r, s, CATEGORICAL, seed=seed)
    timings["columns"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    pairs = fidelity.pairs(r, s, CATEGORICAL, seed=seed)
    timings["pairs"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    priv = fidelity.privacy(r, s, CATEGORICAL, seed=seed)
    timings["privacy"] = round(time.perf_counter() - t0, 3)
    longitudinal = {c: {"reference": _summary(r[c]), "synthetic": _summary(s[c])}
                    for c in ("bp_readings", "median_days_between_consultations", "prescriptions_per_year",
                              "consultations_per_year")}
    return {
        "synthetic": str(Path(synth).resolve()), "reference": str(Path(reference).resolve()),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "patients": {"synthetic": len(s), "reference": len(r)},
        "columns": cols, "pairs": pairs, "longitudinal": longitudinal, "privacy": priv,
        "summary": {"columns_kl_within_band": sum(c["kl_within_band"] for c in cols), "columns": len(cols),
                    "mean_tv": sum(c["tv"] for c in cols) / len(cols), "mean_abs_association_diff": pairs["mean_abs_diff"]},
        "timings_s": timings, "_tables": tables,
    }


def _summary(x: pd.Series) -> dict[str, float | None]:
    v = x.dropna()
    if v.empty:
        return {"mean": None, "p25": None, "median": None, "p75": None, "missing": 1.0}
    return {"mean": float(v.mean()), "p25": float(v.quantile(0.25)), "median": float(v.median()),
            "p75": float(v.quantile(0.75)), "missing": float(x.isna().mean())}


def figures(result: dict[str, Any]) -> dict[str, str]:
    from synthgp.evaluate import plots

    r, s = result["_tables"]["reference"], result["_tables"]["synthetic"]
    figs = plots.columns(result["columns"], r, s, ("reference", "synthetic"))
    figs["associations"] = plots.heatmap(result["pairs"], "Cramer's V, synthetic minus reference")
    figs["dcr"] = plots.dcr(result["privacy"], "Distance to closest reference record", ("synthetic", "reference holdout"))
    return figs


def write_report(synth: Path, reference: Path, dest: Path, seed: int = 0) -> tuple[Path, dict[str, Any]]:
    from synthgp.evaluate import html as report

    result = compare(synth, reference, seed)
    figs = figures(result)
    result.pop("_tables")
    p = result["privacy"]
    for k in ("dcr_synthetic", "dcr_holdout"):  # the distributions are in the plot; keep the JSON small
        p[k] = {"n": len(p[k])}
    return report.write(dest, "compare.html", report.json_ready(result), figs), result
