"""The record viewer: what a GP's clinical system shows, read from the record tables.

Every query takes its values as bound parameters. Dates are shown as the record holds them; "today"
is the practice's last collection date (the end of the study), so ages, alerts and "current"
medication are as they stood then.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from synthgp.core import codes, nhs_number
from synthgp.evaluate import covid, flu, qof, qof_registers
from synthgp.formats import fhir_resources as fhir
from synthgp.serve import journal
from synthgp.serve.shared_queries import Shared, patient_rows, patient_tables

PAGE = 25
EGFR = codes.snomed("egfr")  # the lab result the record page shows beside BMI and the CV risk score
# the vaccination codes the record page lists: (vaccine, where it was given, or that it was declined)
VACCINATIONS = {"flu_vaccination": ("Seasonal influenza", "practice"),
                "flu_vaccination_pharmacy": ("Seasonal influenza", "pharmacy"),
                "flu_vaccination_declined": ("Seasonal influenza", "declined"),
                "covid_vaccination_first": ("COVID-19, first dose", "practice"),
                "covid_vaccination_second": ("COVID-19, second dose", "practice"),
                "covid_vaccination_booster": ("COVID-19, booster", "practice")}
# tests, suspicion, diagnoses, the hospital letter (pneumonia, admission, critical care, discharge), long COVID;
# HOSPADM/HOSPDISCH are coded only from the COVID-19 admission letter today: revisit if another pathway codes them
COVID_CLUSTERS = ("COVIDPOS", "COVIDNEG", "COVIDSUSP", "COVID", "COVIDHOSP", "HOSPADM", "COVIDICU", "HOSPDISCH",
                  "LONGCOVID", "LONGCOVIDREF")


@dataclass
class Query:
    q: str = ""
    pracid: int | None = None
    page: int = 1


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None) -> list[dict]:
    cur = con.execute(sql, params or {})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def parse_search(q: str) -> tuple[str, dict]:
    """SQL condition and params for a patient search: NHS number (spaces allowed), a date of birth
    (YYYY-MM-DD or DD/MM/YYYY), or a name (every word must start a given or family name)."""
    q = q.strip()
    digits = re.sub(r"[\s-]", "", q)
    if re.fullmatch(r"\d{10}", digits):
        return "i.nhs_number = $nhs", {"nhs": digits}
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", q) or re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", q)
    if m:
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if "-" in q else (m.group(3), m.group(2), m.group(1))
        try:
            return "i.date_of_birth = $dob", {"dob": dt.date(int(y), int(mo), int(d))}
        except ValueError:
            raise ValueError(f"'{q}' is not a real date") from None
    words = [w.lower() for w in re.findall(r"[A-Za-z'\-]+", q)][:4]
    if not words:
        raise ValueError("search by name, NHS number (10 digits) or date of birth (YYYY-MM-DD or DD/MM/YYYY)")
    cond = " AND ".join(f"(starts_with(lower(i.given_name), $w{k}) OR starts_with(lower(i.family_name), $w{k}))"
                        for k in range(len(words)))
    return cond, {f"w{k}": w for k, w in enumerate(words)}


def patients(con, query: Query) -> tuple[int, list[dict]]:
    where, params = ("TRUE", {})
    if query.q:
        where, params = parse_search(query.q)
    if query.pracid is not None:
        where += " AND p.pracid = $pracid"
        params["pracid"] = query.pracid
    base = f"FROM patient p JOIN patient_identity i USING (patid) WHERE {where}"
    total = con.execute(f"SELECT count(*) {base}", params).fetchall()[0][0]
    rows = _rows(con, f"""SELECT p.patid, p.pracid, i.title, i.given_name, i.family_name, i.date_of_birth, i.sex,
        i.nhs_number, i.postcode, p.regenddate, p.emis_ddate {base}
        ORDER BY i.family_name, i.given_name, p.patid LIMIT {PAGE} OFFSET {PAGE * (query.page - 1)}""", params)
    for r in rows:
        r["nhs"] = nhs_number.format_334(r["nhs_number"])
    return total, rows


def dashboard(con) -> list[dict]:
    rows = _rows(con, qof.indicators_sql())
    cover = {r["pracid"]: r for r in _rows(con, flu.coverage_sql())}  # each practice's latest complete season
    for r in rows:
        r["hyp008"] = r["hyp008_num"] / r["hyp008_den"] if r["hyp008_den"] else None
        r["hyp009"] = r["hyp009_num"] / r["hyp009_den"] if r["hyp009_den"] else None
        r["prevalence"] = r["register"] / r["list_size"] if r["list_size"] else None
        f = cover.get(r["pracid"])
        r["flu_season"] = flu.season_label(f["season"]) if f else None
        r["flu_cohort"], r["flu_vaccinated"] = (f["cohort"], f["vaccinated"]) if f else (0, 0)
        r["flu_coverage"] = r["flu_vaccinated"] / r["flu_cohort"] if r["flu_cohort"] else None
    vac: dict[int, list[int]] = {}
    for c in _rows(con, covid.coverage_sql(covid.UPTAKE_ON)):  # adults with a COVID-19 vaccination by the end of 2021
        v = vac.setdefault(c["pracid"], [0, 0])
        v[0] += c["people"]
        v[1] += c["vaccinated"]
    lcd = {r["pracid"]: r["lcd"] for r in _rows(con, "SELECT pracid, lcd FROM practice")}
    registers = qof_registers.by_practice(con)  # every register's prevalence and indicator (_qof_registers.html)
    for r in rows:
        r["registers"] = registers.get(r["pracid"], [])
        n, v = vac.get(r["pracid"], (0, 0))
        r["covid_adults"], r["covid_vaccinated"] = n, v
        r["covid_coverage"] = v / n if n and lcd[r["pracid"]] >= covid.UPTAKE_ON else None
    return rows


def recall(con, pracid: int, kind: str) -> list[dict]:
    cond = {"overdue": "NOT coalesce(s.bp_in_year, false) AND NOT s.new_registrant",  # QOF's new-registration exception
            "uncontrolled": "NOT coalesce(s.at_target, true) AND s.classes >= 3"}[kind]
    return _rows(con, f"""SELECT s.*, i.given_name, i.family_name, i.nhs_number FROM ({qof.status_sql('p.pracid = $pracid')}) s
        JOIN patient_identity i USING (patid) WHERE {cond} ORDER BY s.bp_date NULLS FIRST, s.patid LIMIT 200""",
                 {"pracid": pracid})


# a patient's rows the record page reads (shared_queries.patient_rows: `_patid`, `$WHO`)
HEAD_SQL = """SELECT p.patid AS _patid, p.*, i.*, pr.name AS practice, pr.lcd, si.title AS gp_title, si.given_name AS gp_given,
          si.family_name AS gp_family
        FROM patient p JOIN patient_identity i USING (patid) JOIN practice pr ON pr.pracid = p.pracid
        LEFT JOIN staff_identity si ON si.staffid = p.usualgpstaffid WHERE p.patid $WHO"""
PROBLEMS_SQL = """SELECT pr.patid AS _patid, o.obsdate, d.term, d.snomedctconceptid AS sct, pr.probenddate
        FROM problem pr JOIN observation o ON o.obsid = pr.obsid JOIN medical_dictionary d ON d.medcodeid = o.medcodeid
        WHERE pr.patid $WHO ORDER BY o.obsdate"""
ISSUES_SQL = """SELECT di.patid AS _patid, di.issuedate, di.drugrecid, di.staffid, di.quantity, di.duration, di.estnhscost, pd.termfromemis AS drug,
          pd.drugsubstancename AS substance, cd.dosage_text
        FROM drug_issue di JOIN product_dictionary pd USING (prodcodeid)
        LEFT JOIN "lookup_common_dosages" cd USING (dosageid) WHERE di.patid $WHO ORDER BY di.issuedate, di.issueid"""


def record(con, patid: int, shared: Shared | None = None) -> dict | None:
    """Everything the patient page shows. `shared`: read in queries shared with concurrent requests."""
    t = patient_tables(con, {"head": HEAD_SQL, "obs": journal.entries_sql(), "problems": PROBLEMS_SQL, "issues": ISSUES_SQL,
                             "vaccinations": immunisations_sql(), "cons": journal.consultations_sql()}, patid, shared)
    head, obs, problems, issues, cons = t["head"], t["obs"], t["problems"], t["issues"], t["cons"]
    if not head:
        return None
    h = head[0]
    today = h["emis_ddate"] or h["regenddate"] or h["lcd"]
    # a closed record (the patient died or left): said in a banner; nothing is due or current any more
    closed = ({"kind": "died", "date": h["emis_ddate"]} if h["emis_ddate"] else
              {"kind": "left", "date": h["regenddate"]} if h["regenddate"] else None)
    h["age"] = age(h["date_of_birth"], today)
    h["nhs"] = nhs_number.format_334(h["nhs_number"])
    dia = {o["parentobsid"]: o["value"] for o in obs if o["cluster"] == "BP" and o["parentobsid"] is not None}
    bps = [{"date": o["obsdate"], "sbp": o["value"], "dbp": dia.get(o["obsid"]), "term": o["term"], "consid": o["consid"]}
           for o in obs if o["cluster"] == "BP" and o["parentobsid"] is None]
    vaccinations = _name_vaccines(t["vaccinations"])
    # current repeats: the last issue of each course, if its supply reaches within 28 days of "today"
    last: dict[int, dict] = {}
    for i in issues:
        last[i["drugrecid"]] = i
    current = [] if closed else [i for i in last.values()
                                 if i["issuedate"] + dt.timedelta(days=int(i["duration"] or 28) + 28) >= today]
    latest = {}
    for cluster, label, pick in (("HEIGHT", "Height", None), ("WEIGHT", "Weight", None), ("BMI", "BMI", None),
                                 ("LAB", "eGFR", EGFR), ("QRISK", "CV risk", None)):
        vals = [o for o in obs if o["cluster"] == cluster and o["value"] is not None and (pick is None or o["sct"] == pick)]
        if vals:
            latest[label] = vals[-1]
    # the journal: each consultation with its entries under their headings, newest first
    cons = journal.build(cons, obs, issues)
    on_register = any(pr["term"] and pr["probenddate"] is None and "ypertension" in pr["term"] for pr in problems)
    t = qof.targets()
    band = "under80" if h["age"] < 80 else "over80"
    target = (int(t[f"{band}_sbp"]), int(t[f"{band}_dbp"]))
    alerts = []
    if on_register and not closed:
        if not bps or bps[-1]["date"] < today - dt.timedelta(days=365):
            alerts.append(("overdue", "Blood pressure check overdue: no reading in the last 12 months"))
        elif bps[-1]["sbp"] > target[0] or (bps[-1]["dbp"] or 0) > target[1]:
            alerts.append(("uncontrolled", f"Blood pressure above target ({target[0]}/{target[1]}): last "
                                           f"{bps[-1]['sbp']:.0f}/{bps[-1]['dbp']:.0f} on {bps[-1]['date']:%d %b %Y}"))
    labs = [o for o in obs if o["cluster"] in ("LAB", "QRISK", "BMI") and o["value"] is not None]
    courses = []
    for rec, rows in _group(issues, "drugrecid").items():
        courses.append({"drug": rows[0]["drug"], "start": rows[0]["issuedate"], "last": rows[-1]["issuedate"],
                        "issues": len(rows), "dosage": rows[0]["dosage_text"],
                        "current": rec in {c["drugrecid"] for c in current}})
    courses.sort(key=lambda c: c["start"], reverse=True)
    return {"h": h, "today": today, "closed": closed, "problems": problems, "active": [x for x in problems if x["probenddate"] is None],
            "current": sorted(current, key=lambda i: i["drug"]), "latest": latest, "bps": bps,
            "last_bp": bps[-1] if bps else None, "alerts": alerts, "target": target, "on_register": on_register,
            "journal": cons, "labs": labs[::-1], "courses": courses, "issues": issues, "vaccinations": vaccinations,
            "covid": [o for o in obs if o["cluster"] in COVID_CLUSTERS][::-1]}


def immunisations(con, patid: int) -> list[dict]:
    """The patient's immunisations, newest first: every code the FHIR export makes an Immunization (flu, COVID-19
    and every IMM* cluster), with the vaccine (VACCINATIONS' name, else the record's term) and where it was
    given (the practice, a pharmacy) or that it was declined."""
    return _name_vaccines(patient_rows(con, immunisations_sql(), patid))


def immunisations_sql() -> str:
    return f"""SELECT o.patid AS _patid, o.obsdate, o.enterdate, d.term, d.snomedctconceptid AS sct, d.cluster, si.title,
          si.family_name, s.status
        FROM observation o JOIN medical_dictionary d USING (medcodeid) LEFT JOIN staff_identity si ON si.staffid = o.staffid,
          LATERAL (SELECT {fhir.immunization_status('d.cluster')} AS status) s
        WHERE o.patid $WHO AND s.status IS NOT NULL ORDER BY o.obsdate DESC, o.obsid DESC"""


def _name_vaccines(rows: list[dict]) -> list[dict]:
    by_sct = {codes.snomed(k): v for k, v in VACCINATIONS.items()}
    for v in rows:
        named = None if v["cluster"].startswith("IMM") else by_sct.get(v["sct"])  # an IMM* code is named by its term
        v["vaccine"], v["where"] = named or (v["term"], "declined" if v["status"] == "not-done" else "practice")
    return rows


def _group(rows: list[dict], key: str) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def bp_chart(bps: list[dict], issues: list[dict], target: tuple[int, int], width: int = 860, height: int = 280) -> str:
    """An SVG chart of systolic and diastolic readings over time, the target as dashed lines, and a
    marker where a medicine started or changed dose. Drawn here, so nothing is fetched at run time."""
    if not bps:
        return '<p class="muted">No blood pressure readings recorded.</p>'
    left, right, top, bottom = 44, 12, 12, 34
    d0 = min(b["date"] for b in bps)
    d1 = max(b["date"] for b in bps)
    starts = []
    prev_drug: dict[str, str] = {}
    for i in issues:
        if prev_drug.get(i["substance"]) != i["drug"]:
            starts.append(i)
            prev_drug[i["substance"]] = i["drug"]
    if starts:
        d0 = min(d0, starts[0]["issuedate"])
        d1 = max(d1, starts[-1]["issuedate"])
    span = max((d1 - d0).days, 30)
    lo, hi = 50, max(200, max(b["sbp"] for b in bps) + 10)

    def x(d: dt.date) -> float:
        return left + (width - left - right) * (d - d0).days / span

    def y(v: float) -> float:
        return top + (height - top - bottom) * (hi - v) / (hi - lo)

    parts = [f'<svg class="bpchart" viewBox="0 0 {width} {height}" role="img" aria-label="Blood pressure chart">']
    for v in range(60, int(hi) + 1, 20):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="axis" text-anchor="end">{v}</text>')
    for year in range(d0.year, d1.year + 1):
        d = dt.date(year, 1, 1)
        if d0 <= d <= d1:
            parts.append(f'<text x="{x(d):.1f}" y="{height - 12}" class="axis" text-anchor="middle">{year}</text>')
    for v, cls in ((target[0], "target sys"), (target[1], "target dia")):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="{cls}"/>')
    for i in starts:
        xi = x(i["issuedate"])
        parts.append(f'<line x1="{xi:.1f}" x2="{xi:.1f}" y1="{top}" y2="{height - bottom}" class="med">'
                     f'<title>{i["issuedate"]:%d %b %Y}: {i["drug"]}</title></line>'
                     f'<circle cx="{xi:.1f}" cy="{top + 4}" r="4" class="medmark"><title>{i["drug"]}</title></circle>')
    for key, cls in (("sbp", "sys"), ("dbp", "dia")):
        pts = " ".join(f"{x(b['date']):.1f},{y(b[key]):.1f}" for b in bps if b[key] is not None)
        parts.append(f'<polyline points="{pts}" class="line {cls}"/>')
        for b in bps:
            if b[key] is not None:
                parts.append(f'<circle cx="{x(b["date"]):.1f}" cy="{y(b[key]):.1f}" r="3" class="pt {cls}">'
                             f'<title>{b["date"]:%d %b %Y}: {b["sbp"]:.0f}/{b["dbp"] or 0:.0f}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
