"""The consultation journal as a GP system shows it: each consultation with its date, who held it (name and
role), its mode, then its entries under headings (reason, history, examination, results grouped by panel,
immunisations, prescriptions issued at it, referrals), values with units and reference ranges.

Headings follow the record's own fields: a reason is a code of cluster REASON, of ObsType Diagnosis, or made a
problem (as Encounter.reasonCode in the FHIR export); results are lab codes (LAB, PANEL, COVID-19 tests),
grouped under the panel header their parentobsid names; examination is a measured value (BP, height, weight,
BMI: ObsType Value); immunisations are the codes FHIR makes Immunizations; the rest is history.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from synthgp.formats import fhir_resources as fhir
from synthgp.serve.shared_queries import patient_rows

HEADINGS = ("Reason", "History", "Examination", "Results", "Immunisation", "Medication", "Referral")
DIAGNOSIS, VALUE = 9, 7  # lookups/ObsType.txt
RESULT_CLUSTERS = {"LAB", "PANEL", "COVIDPOS", "COVIDNEG"}
NOT_REASON = set(fhir.mapping()["cluster"]["not_condition"])  # family history: a problem, not the patient's own


def consultations(con: duckdb.DuckDBPyConnection, patid: int) -> list[dict]:
    """The patient's consultations, newest first, with who held them (name, role) and the mode."""
    return patient_rows(con, consultations_sql(), patid)


def consultations_sql() -> str:
    """consultations' query, for shared_queries.patient_rows."""
    return f"""SELECT c.patid AS _patid, c.consid, c.consdate, c.staffid, cs.description AS kind,
          {fhir.encounter_mode('cs.description')} AS mode, si.title, si.given_name, si.family_name, j.description AS role
        FROM consultation c LEFT JOIN "lookup_ConsSource" cs USING (conssourceid)
        LEFT JOIN staff s ON s.staffid = c.staffid LEFT JOIN staff_identity si ON si.staffid = c.staffid
        LEFT JOIN "lookup_JobCat" j ON j.jobcatid = s.jobcatid
        WHERE c.patid $WHO ORDER BY c.consdate DESC, c.consid DESC"""


def entries(con: duckdb.DuckDBPyConnection, patid: int) -> list[dict]:
    """Every observation of the patient, with what the journal needs to place it."""
    return patient_rows(con, entries_sql(), patid)


def entries_sql() -> str:
    """entries' query, for shared_queries.patient_rows."""
    return f"""SELECT o.patid AS _patid, o.obsid, o.consid, o.obsdate, o.value, o.parentobsid, o.obstypeid, o.numrangelow AS low,
          o.numrangehigh AS high, d.term, d.cluster, u.description AS unit, d.snomedctconceptid AS sct,
          pr.obsid IS NOT NULL AS problem, {fhir.immunization_status('d.cluster')} AS imm
        FROM observation o JOIN medical_dictionary d USING (medcodeid) LEFT JOIN "lookup_NumUnit" u USING (numunitid)
        LEFT JOIN problem pr ON pr.obsid = o.obsid
        WHERE o.patid $WHO ORDER BY o.obsdate, o.obsid"""


def heading(e: dict) -> str:
    """The journal heading an entry goes under."""
    if e["imm"] is not None:
        return "Immunisation"
    if e["cluster"] == "REFERRAL":
        return "Referral"
    if e["cluster"] == "REASON" or ((e["obstypeid"] == DIAGNOSIS or e["problem"]) and e["cluster"] not in NOT_REASON):
        return "Reason"
    if e["cluster"] in RESULT_CLUSTERS:
        return "Results"
    if e["obstypeid"] == VALUE and e["value"] is not None:
        return "Examination"
    return "History"


def flag(e: dict) -> str:
    """H or L for a value above or below its reference range, else ''."""
    if e["value"] is None:
        return ""
    if e["high"] is not None and e["value"] > e["high"]:
        return "H"
    if e["low"] is not None and e["value"] < e["low"]:
        return "L"
    return ""


def reference_range(e: dict) -> str:
    """The reference range as a lab report prints it: "(3.5-5.3)", "(> 90)" or "(< 5)"; '' without one."""
    lo, hi = e["low"], e["high"]
    if lo is not None and hi is not None:
        return f"({lo:g}–{hi:g})"
    return f"(> {lo:g})" if lo is not None else f"(< {hi:g})" if hi is not None else ""


def _panels(results: list[dict], by_id: dict[int, dict]) -> list[dict]:
    """Results grouped by panel: each header (cluster PANEL) with its results in order, then the results with
    no panel as groups of their own (panel None)."""
    groups: dict[int | None, dict] = {}
    for e in results:
        if e["cluster"] == "PANEL":
            groups.setdefault(e["obsid"], {"panel": e, "results": []})["panel"] = e
    for e in results:
        if e["cluster"] == "PANEL":
            continue
        parent = e["parentobsid"]
        if parent is not None and parent in by_id and by_id[parent]["cluster"] == "PANEL":
            groups.setdefault(parent, {"panel": by_id[parent], "results": []})["results"].append(e)
        else:
            groups[-e["obsid"]] = {"panel": None, "results": [e]}
    return list(groups.values())


def _acute(issue: dict, course_issues: dict[int, int]) -> bool:
    """As the FHIR export's courseOfTherapyType: the one issue of a course shorter than any repeat."""
    below = int(fhir.mapping()["medication_request"]["acute_below_days"])
    return course_issues[issue["drugrecid"]] == 1 and (issue["duration"] or below) < below


def build(cons: list[dict], obs: list[dict], issues: list[dict]) -> list[dict]:
    """Each consultation (newest first) with `sections`: (heading, items) in HEADINGS order, only those with
    items; Results items are panel groups, Medication items the issues dated that day (given to the day's
    first consultation, by the same clinician where there is one)."""
    by_id = {o["obsid"]: o for o in obs}
    dia = {o["parentobsid"]: o["value"] for o in obs if o["cluster"] == "BP" and o["parentobsid"] is not None}
    at: dict[int, list[dict]] = {}
    for o in obs:
        if o["consid"] is not None and not (o["cluster"] == "BP" and o["parentobsid"] is not None):
            o["dbp"] = dia.get(o["obsid"]) if o["cluster"] == "BP" else None
            o["flag"], o["range"] = flag(o), reference_range(o)
            at.setdefault(o["consid"], []).append(o)
    course_issues: dict[int, int] = {}
    for i in issues:
        course_issues[i["drugrecid"]] = course_issues.get(i["drugrecid"], 0) + 1
    day_cons: dict[dt.date, list[dict]] = {}
    for c in sorted(cons, key=lambda c: c["consid"]):
        day_cons.setdefault(c["consdate"], []).append(c)
    issued: dict[int, list[dict]] = {}
    for i in issues:
        same_day = day_cons.get(i["issuedate"])
        if same_day:
            mine = [c for c in same_day if c["staffid"] == i.get("staffid")] or same_day
            i["acute"] = _acute(i, course_issues)
            issued.setdefault(mine[0]["consid"], []).append(i)
    for c in cons:
        c["who"] = " ".join(x for x in (c["title"], c["given_name"], c["family_name"]) if x)
        c["filed"] = False
        groups: dict[str, list] = {h: [] for h in HEADINGS}
        for e in at.get(c["consid"], []):
            groups[heading(e)].append(e)
        groups["Results"] = _panels(groups["Results"], by_id)
        groups["Medication"] = issued.get(c["consid"], [])
        c["issues"] = groups["Medication"]
        c["entries"] = at.get(c["consid"], [])
        c["sections"] = [(h, groups[h]) for h in HEADINGS if groups[h]]
    return sorted(cons + filed(obs, by_id), key=lambda c: (c["consdate"], c["consid"] is not None, c["consid"] or 0),
                  reverse=True)


def filed(obs: list[dict], by_id: dict[int, dict]) -> list[dict]:
    """Results filed without a consultation (a lab's report arriving), one journal item per day, grouped by panel
    as a consultation's are."""
    days: dict[dt.date, list[dict]] = {}
    for o in obs:
        if o["consid"] is None and o["cluster"] in RESULT_CLUSTERS:
            o["flag"], o["range"] = flag(o), reference_range(o)
            days.setdefault(o["obsdate"], []).append(o)
    return [{"consid": None, "consdate": day, "kind": "Results filed", "mode": "results", "who": "", "role": None,
             "filed": True, "issues": [], "entries": rows, "sections": [("Results", _panels(rows, by_id))]}
            for day, rows in days.items()]
