"""Vaccination coverage for the dashboard, computed from the record alone.

- Seasonal flu, 65 and over, every complete season (evaluate/flu.py's definition, season by season).
- Every routine immunisation the record holds (each codes.csv cluster starting IMM, as the FHIR export's
  Immunizations): the share of patients registered and alive on their practice's last collection date who
  have one ever recorded, by age band on that day. The clusters are read from the record, so each programme
  appears once its pathway writes it; the bands show where a programme reaches (childhood vaccines in the
  young bands, shingles at 70-79).
"""

from __future__ import annotations

import duckdb

from synthgp.evaluate import flu
from synthgp.formats import fhir_resources as fhir

# age bands (years on the last collection date): the childhood schedule's (under 2, 2-4), school age,
# working age, and the older adults' programmes (pneumococcal from 65, shingles at 70-79)
BANDS = ((0, 1), (2, 4), (5, 15), (16, 64), (65, 69), (70, 79), (80, None))


def band_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def flu_seasons(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """(pracid, season, label, cohort, vaccinated, coverage) for each complete season from the first with a
    flu vaccination recorded."""
    first = con.execute(f"""SELECT min(o.obsdate) FROM observation o JOIN medical_dictionary d USING (medcodeid)
        WHERE d.cluster = '{flu.VACCINATED}'""").fetchone()[0]
    last = con.execute("SELECT max(lcd) FROM practice").fetchone()[0]
    if first is None:
        return []
    out = []
    for season in range(first.year - (first.month < 9), last.year + 1):
        for r in _rows(con, flu.coverage_sql(season)):
            if r["complete"] and r["cohort"]:
                out.append({**r, "label": flu.season_label(season), "coverage": r["vaccinated"] / r["cohort"]})
    return out


def immunisations(con: duckdb.DuckDBPyConnection) -> dict:
    """{"bands": labels, "rows": [{cluster, label, cells: [(people, vaccinated, coverage)] per band}]} over every
    practice, for each IMM cluster with a vaccination given in the record."""
    status = fhir.immunization_status("d.cluster")
    band = " ".join(f"WHEN age >= {lo}{'' if hi is None else f' AND age <= {hi}'} THEN {k}"
                    for k, (lo, hi) in enumerate(BANDS))
    rows = _rows(con, f"""
WITH reg AS (
  SELECT p.patid, CASE {band} END AS band FROM (
    SELECT p.patid, date_sub('year', i.date_of_birth, pr.lcd) AS age
    FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr ON pr.pracid = p.pracid
    WHERE p.regstartdate <= pr.lcd AND (p.regenddate IS NULL OR p.regenddate > pr.lcd)
      AND (p.cprd_ddate IS NULL OR p.cprd_ddate > pr.lcd)) p),
given AS (
  SELECT DISTINCT o.patid, d.cluster FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE starts_with(d.cluster, 'IMM') AND {status} = 'completed'),
clusters AS (SELECT DISTINCT cluster FROM given),
terms AS (
  SELECT d.cluster, mode(d.term) AS term FROM observation o JOIN medical_dictionary d USING (medcodeid)
  WHERE d.cluster IN (SELECT cluster FROM clusters) GROUP BY d.cluster)
SELECT c.cluster, t.term, r.band, count(*) AS people, count(g.patid) AS vaccinated
FROM reg r CROSS JOIN clusters c LEFT JOIN given g ON g.patid = r.patid AND g.cluster = c.cluster
JOIN terms t ON t.cluster = c.cluster
GROUP BY ALL ORDER BY c.cluster, r.band""")
    table: dict[str, dict] = {}
    for r in rows:
        t = table.setdefault(r["cluster"], {"cluster": r["cluster"], "label": r["cluster"].removeprefix("IMM_").replace("_", " "),
                                            "term": r["term"], "cells": [(0, 0, None)] * len(BANDS)})
        t["cells"][r["band"]] = (r["people"], r["vaccinated"], r["vaccinated"] / r["people"] if r["people"] else None)
    return {"bands": [band_label(lo, hi) for lo, hi in BANDS], "rows": list(table.values())}
