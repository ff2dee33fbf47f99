"""`synthgp serve` end to end: the real server on a free localhost port over a freshly generated practice,
driven by headless Chromium (Playwright), an independent FHIR client (fhirpy) and schemathesis."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import duckdb
import httpx
import pytest

from synthgp.core import codes

from tests.conftest import SHOTS, chromium_page, generate
from tests.serve.running import serving


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("serve") / "out", 1500, seed=31)


@pytest.fixture(scope="module")
def server(out):
    with serving(out) as base:
        yield base


@pytest.fixture(scope="module")
def db(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


def _hypertensive_patient(db) -> tuple[int, str, str, str]:
    """A registered patient on current treatment with several BP readings: (patid, family, given, nhs)."""
    return db.execute("""
        SELECT p.patid, i.family_name, i.given_name, i.nhs_number FROM patient p JOIN patient_identity i USING (patid)
        WHERE p.regenddate IS NULL AND p.emis_ddate IS NULL
          AND (SELECT count(*) FROM drug_issue d WHERE d.patid = p.patid) > 20
          AND (SELECT max(issuedate) FROM drug_issue d WHERE d.patid = p.patid)
              > (SELECT lcd FROM practice pr WHERE pr.pracid = p.pracid) - 60
          AND (SELECT count(*) FROM observation o WHERE o.patid = p.patid AND o.medcodeid = ?) >= 4
        ORDER BY p.patid LIMIT 1""", [codes.medcode("bp_systolic")]).fetchone()


def test_binds_to_localhost_only(server):
    assert server.startswith("http://127.0.0.1:")
    port = int(server.rsplit(":", 1)[1])
    # not listening on other addresses of the machine
    ip = socket.gethostbyname(socket.gethostname())
    if not ip.startswith("127."):
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(1)
            s.connect((ip, port))


def test_fhir_api_through_fhirpy_agrees_with_the_database(server, db):
    from fhirpy import SyncFHIRClient

    client = SyncFHIRClient(server + "/fhir")
    patid, family, given, nhs = _hypertensive_patient(db)
    pats = client.resources("Patient").search(identifier=f"https://fhir.nhs.uk/Id/nhs-number|{nhs}").fetch()
    assert [p.id for p in pats] == [str(patid)]
    assert pats[0]["name"][0]["family"] == family
    # every BP panel of the patient, and only those after a date
    bp = ("FROM observation o JOIN medical_dictionary d USING (medcodeid) "
          "WHERE d.cluster = 'BP' AND o.parentobsid IS NULL AND o.patid = ?")  # clinic, ABPM and home readings
    n_bp = db.execute(f"SELECT count(*) {bp}", [patid]).fetchone()[0]
    bps = client.resources("Observation").search(patient=str(patid), code="http://snomed.info/sct|75367002").limit(500).fetch()
    assert len(bps) == n_bp and all("component" in o for o in bps)
    cut = sorted(o["effectiveDateTime"] for o in bps)[n_bp // 2]
    later = client.resources("Observation").search(patient=f"Patient/{patid}", code="75367002").search(
        date=f"ge{cut}").limit(500).fetch()
    n_later = db.execute(f"SELECT count(*) {bp} AND o.obsdate >= ?", [patid, cut]).fetchone()[0]
    assert len(later) == n_later < n_bp
    # medication requests: one per issue
    n_rx = db.execute("SELECT count(*) FROM drug_issue WHERE patid = ?", [patid]).fetchone()[0]
    assert client.resources("MedicationRequest").search(patient=str(patid)).count() == n_rx
    # read by id, and the resource equals the bulk export's
    obs = client.reference("Observation", bps[0].id).to_resource()
    assert obs["subject"]["reference"] == f"Patient/{patid}"
    # search counts and paging across everyone
    n_pat = db.execute("SELECT count(*) FROM patient").fetchone()[0]
    assert client.resources("Patient").count() == n_pat
    assert len(client.resources("Patient").limit(100).fetch_all()) == n_pat  # follows 'next' links


def test_fhir_api_includes_pages_and_errors(server, db):
    patid = _hypertensive_patient(db)[0]
    r = httpx.get(f"{server}/fhir/Observation", params={"patient": patid, "_include": "Observation:patient", "_count": 3})
    b = r.json()
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    modes = [e["search"]["mode"] for e in b["entry"]]
    assert modes == ["match"] * 3 + ["include"] and b["entry"][-1]["resource"]["id"] == str(patid)
    assert {link["relation"] for link in b["link"]} == {"self", "next"}
    assert httpx.get(f"{server}/fhir/metadata").json()["resourceType"] == "CapabilityStatement"
    for url, status in [("/fhir/Patient/999", 404), ("/fhir/Patient/abc", 404), ("/fhir/Observation?nonsense=1", 400),
                        ("/fhir/Observation?date=2020-02-30", 400), ("/fhir/Observation?date=yesterday", 400),
                        ("/fhir/Observation?_count=-1", 400), ("/fhir/Observation?_count=100000", 400),
                        ("/fhir/Patient?gender=x", 400), ("/fhir/Observation?patient=1;DROP TABLE patient", 400),
                        ("/fhir/Observation?code=1'OR'1'='1", 400), ("/fhir/Observation?_include=Patient:link", 400),
                        ("/fhir/Nonsense", 404)]:
        r = httpx.get(server + url)
        assert r.status_code == status, url
        assert r.json()["resourceType"] == "OperationOutcome", url
    assert db.execute("SELECT count(*) FROM patient").fetchone()[0] > 0  # still there


def test_viewer_pages_in_headless_chromium(server, db):
    patid, family, given, nhs = _hypertensive_patient(db)
    with chromium_page() as page:
        page.goto(server + "/")
        assert page.locator("#practices tbody tr").count() >= 1
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
        # search by name, then by NHS number with spaces, as a receptionist would type it
        page.fill("#q", f"{given} {family}")
        page.click("button[type=submit]")
        page.wait_for_selector("#results")
        page.click(f"a[href='/patient/{patid}']")
        page.wait_for_selector("#banner")
        banner = page.inner_text("#banner")
        assert family.upper() in banner and f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" in banner
        assert page.locator("#bp-chart svg polyline").count() == 2
        assert page.locator("#bp-chart svg circle.pt.sys").count() >= 4
        assert page.locator("#bp-chart svg line.med").count() >= 1
        assert page.locator("#medication li").count() >= 1 and "None" not in page.inner_text("#medication")
        # the journal shows the latest consultations (everyday care crowds the BP readings out of them: the chart
        # above holds those), each with who held it and its entries
        journal = page.inner_text("#journal")
        assert any(r in journal for r in ("(General Medical Practitioner)", "(Practice Nurse)", "(Health Care Assistant)"))
        assert any(w in journal for w in ("Reason", "Results", "Examination", "Medication"))
        box = page.locator("#bp-chart svg").bounding_box()
        assert box and box["width"] > 400 and box["height"] > 100
        page.screenshot(path=str(SHOTS / "patient.png"), full_page=True)
        page.goto(f"{server}/patients?q={nhs[:3]}%20{nhs[3:6]}%20{nhs[6:]}")
        assert page.locator("#results tbody tr").count() == 1
        # the recall list links to records
        pracid = db.execute("SELECT min(pracid) FROM practice").fetchone()[0]
        page.goto(f"{server}/practice/{pracid}")
        links = page.locator("#uncontrolled + table a")
        assert page.locator("#overdue").count() == 1
        if links.count():
            links.first.click()
            page.wait_for_selector("#banner")
    assert (SHOTS / "patient.png").stat().st_size > 20_000


def test_viewer_rejects_bad_input_without_server_errors(server):
    for url, status in [("/patient/abc", 400), ("/patient/1", 404), ("/patients?page=0", 400),
                        ("/patients?q=" + "x" * 200, 400), ("/patients?q=31/02/1990", 400), ("/practice/1", 404)]:
        assert httpx.get(server + url).status_code == status, url


def test_schemathesis_finds_no_server_errors(server):
    import schemathesis
    from hypothesis import HealthCheck, settings

    schema = schemathesis.openapi.from_url(server + "/openapi.json")
    failures, calls = [], []
    tested = 0
    for op in schema.get_all_operations():
        operation = op.ok()
        strategy = operation.as_strategy()

        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @schemathesis_given(strategy)
        def run(case):
            response = case.call()
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.path, case.query, response.status_code))

        run()
        tested += 1
    assert tested >= 20 and len(calls) > 10 * tested
    assert {200, 400} <= set(calls)  # it reached both answers, so the generated requests varied
    assert failures == []


def schemathesis_given(strategy):
    from hypothesis import given

    return given(case=strategy)


def _closed_patient(db, died: bool) -> tuple[int, str]:
    """A patient whose record closed (died, or left the practice) while on the hypertension register, with a
    repeat issued within 28 days before the close: today's page would call it current. (patid, family name)."""
    end = "p.emis_ddate" if died else "p.regenddate"
    other = "p.regenddate IS NULL" if died else "p.emis_ddate IS NULL"
    return db.execute(f"""
        SELECT p.patid, i.family_name FROM patient p JOIN patient_identity i USING (patid)
        WHERE {end} IS NOT NULL AND {other}
          AND EXISTS (SELECT 1 FROM drug_issue d WHERE d.patid = p.patid AND d.issuedate BETWEEN {end} - 28 AND {end})
          AND EXISTS (SELECT 1 FROM problem pr JOIN observation o ON o.obsid = pr.obsid JOIN medical_dictionary m
                      ON m.medcodeid = o.medcodeid WHERE pr.patid = p.patid AND m.cluster = 'HYP' AND pr.probenddate IS NULL)
        ORDER BY p.patid LIMIT 1""").fetchone()


def test_a_closed_record_shows_a_banner_and_nothing_current(small):
    """A patient who died (or left) shows a banner saying so, no overdue or uncontrolled alert, and no current
    repeats: the prescribing history still lists every course, none marked current. On the shared 20,000-patient
    practice, which has deaths on treatment (this module's 1,500-patient one has one death)."""
    from synthgp.serve import viewer

    db = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    dead, dead_family = _closed_patient(db, died=True)
    left, left_family = _closed_patient(db, died=False)
    with serving(small) as server, chromium_page() as page:
        for patid, family, word in ((dead, dead_family, "Deceased"), (left, left_family, "Left the practice")):
            page.goto(f"{server}/patient/{patid}")
            page.wait_for_selector("#banner")
            closed = page.locator("#record-closed")
            assert closed.count() == 1 and closed.is_visible(), patid
            assert word in closed.inner_text() and family.upper() in page.inner_text("#banner")
            assert page.locator(".alert.overdue, .alert.uncontrolled").count() == 0
            assert page.inner_text("#medication").strip() == "None"
            assert page.locator("#prescribing tbody tr").count() >= 1
            assert page.locator("#prescribing tbody tr.current").count() == 0
            if word == "Deceased":
                page.screenshot(path=str(SHOTS / "patient_deceased.png"), full_page=True)
    rec = viewer.record(db, dead)
    assert rec["closed"]["kind"] == "died" and rec["alerts"] == [] and rec["current"] == []
    # a registered patient still gets alerts and current repeats
    live = viewer.record(db, _hypertensive_patient(db)[0])
    db.close()
    assert live["closed"] is None and live["current"]
    assert (SHOTS / "patient_deceased.png").stat().st_size > 20_000


def test_new_registrants_are_not_overdue_on_day_one(out, server, db, tmp_path):
    """QOF excepts patients registered in the 3 months up to the achievement date (the business rules' new
    registration rule): they are not on the overdue recall list and not in HYP008/HYP009's denominators unless
    already at target. Plant one: an overdue register patient whose registration moves to 20 days before the end."""
    from synthgp.evaluate import qof

    status = db.execute(f"SELECT patid, pracid, lcd FROM ({qof.status_sql()}) s JOIN practice USING (pracid) "
                        "WHERE NOT coalesce(bp_in_year, false) ORDER BY patid LIMIT 1").fetchone()
    assert status, "no overdue patient to plant"
    patid, pracid, lcd = status
    planted = tmp_path / "planted"
    planted.mkdir()
    for name in ("synthgp.duckdb", "manifest.json"):
        shutil.copy(out / name, planted / name)
    con = duckdb.connect(str(planted / "synthgp.duckdb"))
    before = con.execute(qof.indicators_sql()).fetchall()
    con.execute("UPDATE patient SET regstartdate = ?::DATE - 20 WHERE patid = ?", [lcd, patid])
    after = con.execute(qof.indicators_sql()).fetchall()
    con.close()
    cols = ["pracid", "name", "list_size", "register", "hyp008_den", "hyp008_num", "hyp009_den", "hyp009_num", "overdue",
            "uncontrolled_on_three"]
    b = dict(zip(cols, next(r for r in before if r[0] == pracid)))
    a = dict(zip(cols, next(r for r in after if r[0] == pracid)))
    assert a["register"] == b["register"] and a["overdue"] == b["overdue"] - 1
    assert a["hyp008_den"] + a["hyp009_den"] == b["hyp008_den"] + b["hyp009_den"] - 1
    with serving(planted) as base:
        with chromium_page() as page:
            page.goto(f"{base}/practice/{pracid}")
            page.wait_for_selector("#overdue")
            assert page.locator(f"#overdue + table a[href='/patient/{patid}']").count() == 0
            page.goto(f"{server}/practice/{pracid}")  # the same practice as generated: listed while not new
            page.wait_for_selector("#overdue")
            assert page.locator(f"#overdue + table a[href='/patient/{patid}']").count() == 1


def test_the_covid_section_holds_the_hospital_letter(server, db):
    """A patient admitted with COVID-19: the patient page's COVID-19 section shows the admission and, for a survivor,
    the discharge, beside the test and the diagnosis (the letter's entries, not only its pneumonia code)."""
    patid = db.execute("""SELECT o.patid FROM observation o JOIN medical_dictionary m USING (medcodeid)
                          WHERE m.cluster = 'HOSPDISCH' ORDER BY o.patid LIMIT 1""").fetchone()
    assert patid, "seed 31 at 1,500 patients holds a COVID-19 admission that was discharged"
    html = httpx.get(f"{server}/patient/{patid[0]}", timeout=30).text
    section = html[html.index('id="covid"'):]
    section = section[:section.index("</table>")]
    assert "Hospital admission" in section and "Patient discharged alive" in section
    assert "hospadm" in section and "hospdisch" in section  # rows classed by their cluster
