"""Hand-made records of issue 17's new content, added to a generated practice, for the formats and the viewer
to be tested before the pathways that write them exist.

The conventions (how the parts of issue 17 fit together): a consultation's reason is an observation at it
with codes.csv cluster REASON; a vaccination has a cluster starting IMM; a lab panel is a header
observation of cluster PANEL whose results name it as parentobsid; an acute prescription is a course of one
issue. Codes with those clusters do not exist yet on this branch, so each is a new dictionary row that
borrows an existing code's concept (its term and SNOMED CT id, read by key) under the new cluster: the
tests check where each row goes and what it refers to, not its clinical sense.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from synthgp.core import codes

# new cluster -> (codes.csv key whose concept the row borrows, ObsType id, new term or None to keep the key's)
STAND_INS = {"REASON": ("covid_suspected", 8, None), "PANEL": ("cholesterol", 4, "Lipid profile"),
             "IMM_TEST": ("covid_vaccination_booster", 3, None)}
RESULTS = (("cholesterol", 5.6, 0.0, 5.0), ("hdl_cholesterol", 1.3, 1.0, 2.2), ("creatinine", 88.0, 60.0, 110.0))


@dataclass
class Made:
    """What was added: the patient, the consultation, and the ids of each new row."""
    out: Path
    patid: int
    consid: int
    consdate: object
    reason: int
    panel: int
    results: list[int]
    vaccination: int
    issue: int
    medcode: dict[str, int]  # cluster -> the new dictionary row's medcodeid


def _next(con, table: str, col: str, pracid: int, k: int) -> int:
    """The k-th new id of `table` after its largest, keeping the record's rule (last five digits: the pracid)."""
    top = con.execute(f"SELECT max({col}) FROM {table}").fetchone()[0]
    return (top // 100_000 + k) * 100_000 + pracid


def add(src: Path, out: Path) -> Made:
    """Copy the output `src` to `out` and add to one adult's GP consultation: a reason, a lab panel of three
    results with ranges, a vaccination of a new IMM cluster, and an acute issue (7 days, one issue)."""
    shutil.copytree(src, out)
    con = duckdb.connect(str(out / "synthgp.duckdb"))
    try:
        patid, consid, pracid, day, staff = con.execute("""
            SELECT c.patid, c.consid, c.pracid, c.consdate, c.staffid FROM consultation c JOIN staff s USING (staffid)
            WHERE s.jobcatid = 1 AND c.conssourceid = 1 AND c.consdate >= DATE '2021-01-01'
              AND c.patid IN (SELECT patid FROM drug_issue)
            ORDER BY c.patid, c.consid LIMIT 1""").fetchone()
        medcode = {}
        top = con.execute("SELECT max(medcodeid) FROM medical_dictionary").fetchone()[0]
        for k, (cluster, (key, _, term)) in enumerate(STAND_INS.items(), start=1):
            c = codes.get(key)
            medcode[cluster] = top + k
            con.execute("INSERT INTO medical_dictionary (medcodeid, term, snomedctconceptid, cluster, code_status) "
                        "VALUES (?, ?, ?, ?, 'test')", [top + k, term or c.term, c.snomed, cluster])
        unit = dict(con.execute('SELECT description, numunitid FROM "lookup_NumUnit"').fetchall())

        def obs(cluster_or_key: str, obstype: int, value=None, low=None, high=None, parent=None, u=None) -> int:
            obsid = _next(con, "observation", "obsid", pracid, 1)
            med = medcode.get(cluster_or_key) or codes.medcode(cluster_or_key)
            con.execute("""INSERT INTO observation (patid, consid, pracid, obsid, obsdate, enterdate, staffid, parentobsid,
                medcodeid, value, numunitid, obstypeid, numrangelow, numrangehigh)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        [patid, consid, pracid, obsid, day, day, staff, parent, med, value, u, obstype, low, high])
            return obsid

        reason = obs("REASON", STAND_INS["REASON"][1])
        panel = obs("PANEL", STAND_INS["PANEL"][1])
        units = {"cholesterol": "mmol/L", "hdl_cholesterol": "mmol/L", "creatinine": "umol/L"}
        results = [obs(key, 7, v, lo, hi, parent=panel, u=unit[units[key]]) for key, v, lo, hi in RESULTS]
        vaccination = obs("IMM_TEST", STAND_INS["IMM_TEST"][1])
        issueid = _next(con, "drug_issue", "issueid", pracid, 1)
        drugrecid = _next(con, "drug_issue", "drugrecid", pracid, 1)
        con.execute("""INSERT INTO drug_issue SELECT * REPLACE (? AS issueid, ? AS drugrecid, CAST(? AS DATE) AS issuedate,
            CAST(? AS DATE) AS enterdate, ? AS staffid, 7 AS duration, NULL AS probobsid)
            FROM drug_issue WHERE patid = ? ORDER BY issueid LIMIT 1""", [issueid, drugrecid, day, day, staff, patid])
    finally:
        con.close()
    return Made(out, patid, consid, day, reason, panel, results, vaccination, issueid, medcode)
