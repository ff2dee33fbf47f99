"""The FHIR API under a new user's probing, against the real server: every request over the limits
gets a clear 4xx, paging ends at every _count, repeated parameters are ANDed and comma-separated
values ORed, only trusted Host headers are answered; and the search features clients expect
(_sort, _summary=count, $everything, _revinclude, _elements, _lastUpdated and ETags, CORS, 406 for
XML, offline docs)."""

from __future__ import annotations

import json
import socket

import duckdb
import httpx
import pytest

from synthgp.cli.serve import _loopback

from tests.serve.running import serving


@pytest.fixture(scope="module")
def server(small):
    with serving(small) as base:
        yield base


@pytest.fixture(scope="module")
def db(small):
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


def _two_patients(server) -> tuple[str, str]:
    """Two patients with observations, found through the API itself."""
    b = httpx.get(f"{server}/fhir/Observation", params={"_count": 200, "_total": "none"}).json()
    refs = []
    for e in b["entry"]:
        ref = e["resource"]["subject"]["reference"].removeprefix("Patient/")
        if ref not in refs:
            refs.append(ref)
    assert len(refs) >= 2
    return refs[0], refs[1]


def _raw_get(base: str, target: str) -> tuple[int, str]:
    """GET `target` over a plain socket (HTTP clients refuse URLs this long): (status, body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def _every_id(url: str, params: dict) -> list[str]:
    """The ids of every match of a search, following its pages' next links."""
    ids, b = [], httpx.get(url, params=params).json()
    while True:
        ids += _ids(b)
        nxt = next((link["url"] for link in b["link"] if link["relation"] == "next"), None)
        if nxt is None:
            return ids
        b = httpx.get(nxt).json()


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_too_many_values_or_parameters_are_refused_at_once(server):
    many_codes = ",".join(str(100000 + i) for i in range(20_000))  # 20,000 codes ORed: 140 kB
    r = httpx.get(f"{server}/fhir/Observation", params={"code": ",".join(many_codes.split(",")[:500])}, timeout=30)
    assert r.status_code == 400 and r.json()["issue"][0]["code"] == "too-costly"
    assert "500 values; at most 2,000 characters and 100 values ORed" in r.json()["issue"][0]["diagnostics"]
    r = httpx.get(f"{server}/fhir/Observation", params=[("category", "vital-signs")] * 41, timeout=30)
    assert r.status_code == 400 and r.json()["issue"][0]["code"] == "too-costly"
    # the whole 20,000-code search: past the URL limit, answered 414 (not a reset connection)
    status, body = _raw_get(server, f"/fhir/Observation?code={many_codes}")
    assert status == 414 and json.loads(body)["issue"][0]["code"] == "too-long"


def test_a_megabyte_request_gets_414_not_a_reset(server):
    status, body = _raw_get(server, "/fhir/Patient?name=" + "x" * 1_000_000)
    assert status == 414
    assert "longer than 8,192 bytes" in json.loads(body)["issue"][0]["diagnostics"]
    status, body = _raw_get(server, "/?q=" + "y" * 20_000)  # the viewer too, in plain text
    assert status == 414 and "longer than" in body


def test_count_zero_gives_the_total_and_no_next_page(server, db):
    r = httpx.get(f"{server}/fhir/Patient", params={"_count": 0}).json()
    assert r["total"] == db.execute("SELECT count(*) FROM patient").fetchone()[0]
    assert "entry" not in r
    assert [link["relation"] for link in r["link"]] == ["self"]


@pytest.mark.parametrize("count", [1, 7, 50])
def test_paging_without_a_total_walks_every_match_once(server, db, count):
    a, _ = _two_patients(server)
    expected = db.execute("SELECT count(*) FROM observation WHERE patid = ?", [int(a)]).fetchone()[0]
    assert expected > 7
    full = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_count": 500}).json()
    seen, url, pages = [], f"{server}/fhir/Observation?patient={a}&_count={count}&_total=none", 0
    while url:
        b = httpx.get(url).json()
        assert "total" not in b  # _total=none: nothing counted
        seen += _ids(b)
        url = next((link["url"] for link in b["link"] if link["relation"] == "next"), None)
        pages += 1
        assert pages <= expected + 1
    assert seen == _ids(full) and len(seen) == full["total"]
    # and across patients (the path that counts with SQL): a page past the end has no next link
    b = httpx.get(f"{server}/fhir/Patient", params={"_count": count, "_total": "none", "_offset": 10**6}).json()
    assert "entry" not in b and [link["relation"] for link in b["link"]] == ["self", "previous"]


def test_repeated_patient_parameters_are_anded_and_commas_ored(server):
    a, b = _two_patients(server)
    one = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_count": 0}).json()["total"]
    two = httpx.get(f"{server}/fhir/Observation", params={"patient": b, "_count": 0}).json()["total"]
    either = httpx.get(f"{server}/fhir/Observation", params={"patient": f"{a},{b}", "_count": 0}).json()["total"]
    both = httpx.get(f"{server}/fhir/Observation", params=[("patient", a), ("patient", b), ("_count", 0)]).json()["total"]
    same = httpx.get(f"{server}/fhir/Observation", params=[("patient", a), ("subject", f"Patient/{a}"), ("_count", 0)]).json()
    assert one > 0 and two > 0
    assert either == one + two
    assert both == 0  # no observation belongs to two patients
    assert same["total"] == one


def test_repeated_code_parameters_are_anded(server):
    a, _ = _two_patients(server)
    b = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_count": 500}).json()
    codes_seen = {}
    for e in b["entry"]:
        for c in e["resource"]["code"].get("coding", []):
            codes_seen.setdefault(c["code"], set()).add(e["resource"]["id"])
    x, y = sorted(codes_seen, key=lambda c: -len(codes_seen[c]))[:2]
    q = lambda *p: httpx.get(f"{server}/fhir/Observation", params=[("patient", a), *p, ("_count", 500)]).json()  # noqa: E731
    assert set(_ids(q(("code", f"{x},{y}")))) == codes_seen[x] | codes_seen[y]
    assert set(_ids(q(("code", x), ("code", y)))) == codes_seen[x] & codes_seen[y]


def test_only_trusted_hosts_are_answered(server):
    r = httpx.get(f"{server}/fhir/Patient", params={"_count": 1}, headers={"Host": "evil.example"})
    assert r.status_code == 400
    r = httpx.get(f"{server}/fhir/Patient", params={"_count": 1}, headers={"Host": "localhost"})
    assert r.status_code == 200
    assert all(link["url"].startswith("http://localhost/") for link in r.json()["link"])


def test_a_further_allowed_host_is_answered(small):
    with serving(small, "--allowed-host", "gp.example") as base:
        assert httpx.get(f"{base}/fhir/metadata", headers={"Host": "gp.example"}).status_code == 200
        assert httpx.get(f"{base}/fhir/metadata", headers={"Host": "other.example"}).status_code == 400


def test_binding_beyond_localhost_is_told_apart():
    assert _loopback("127.0.0.1") and _loopback("localhost") and _loopback("::1") and _loopback("127.0.0.2")
    assert not _loopback("0.0.0.0") and not _loopback("192.168.1.10") and not _loopback("gp.example")


def test_a_port_in_use_is_said_before_any_banner(small):
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "synthgp", "serve", str(small), "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "viewer at" not in r.stderr


def test_api_docs_render_offline(server):
    """/docs in headless Chromium with every request off this server refused: Swagger UI still draws
    the FHIR operations (its script and styles are served here, not from a CDN)."""
    from tests.conftest import SHOTS, chromium_page

    elsewhere = []
    with chromium_page() as page:
        def route(r):
            if r.request.url.startswith(server):
                r.continue_()
            else:
                elsewhere.append(r.request.url)
                r.abort()
        page.route("**/*", route)
        page.goto(f"{server}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() > 10
        assert "Search Observation" in page.content()
        page.screenshot(path=str(SHOTS / "api_docs_offline.png"))
    assert elsewhere == []


def _dates(bundle: dict) -> list[str]:
    return [e["resource"].get("effectiveDateTime", "")[:10] for e in bundle.get("entry", [])]


def test_sort_newest_first(server):
    a, _ = _two_patients(server)
    q = lambda sort: httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_count": 500, "_sort": sort}).json()  # noqa: E731
    up, down = _dates(q("date")), _dates(q("-date"))
    assert len(set(up)) >= 3 and up == sorted(up) and down == sorted(down, reverse=True)
    assert sorted(_ids(q("date"))) == sorted(_ids(q("-date")))
    r = httpx.get(f"{server}/fhir/Observation", params={"_sort": "value"})
    assert r.status_code == 400 and "supported: date, -date" in r.json()["issue"][0]["diagnostics"]
    born = [e["resource"]["birthDate"] for e in httpx.get(f"{server}/fhir/Patient", params={"_sort": "-birthdate"}).json()["entry"]]
    assert born == sorted(born, reverse=True)


def test_summary_count_and_xml(server, db):
    r = httpx.get(f"{server}/fhir/Patient", params={"_summary": "count"}).json()
    assert r["total"] == db.execute("SELECT count(*) FROM patient").fetchone()[0] and "entry" not in r
    r = httpx.get(f"{server}/fhir/Patient", params={"_format": "xml"})
    assert r.status_code == 406 and r.json()["issue"][0]["code"] == "not-supported"


def test_everything_is_the_patient_and_each_of_their_resources(server):
    a, _ = _two_patients(server)
    b = httpx.get(f"{server}/fhir/Patient/{a}/$everything").json()
    kinds = [e["resource"]["resourceType"] for e in b["entry"]]
    assert kinds[0] == "Patient" and b["entry"][0]["resource"]["id"] == a
    for kind in ("Observation", "Encounter", "Condition", "MedicationRequest"):
        n = httpx.get(f"{server}/fhir/{kind}", params={"patient": a, "_summary": "count"}).json()["total"]
        assert kinds.count(kind) == n
    assert b["total"] == len(b["entry"])
    assert httpx.get(f"{server}/fhir/Patient/999999999999/$everything").status_code == 404


def test_cors_lets_a_browser_app_read(server):
    r = httpx.get(f"{server}/fhir/metadata", headers={"Origin": "http://app.example"})
    assert r.headers.get("access-control-allow-origin") == "*"
    security = r.json()["rest"][0]["security"]
    assert security["cors"] is True and "No authentication needed" in security["description"]


def test_the_record_page_names_the_risk_score_of_its_day(server, db):
    """A patient whose latest cardiovascular risk score was a QRISK2 (2009-2017) sees 'QRISK2' on
    the record page, not 'QRISK3' (the score of the day, eras.toml)."""
    patid, term = db.execute("""
        SELECT o.patid, arg_max(m.term, o.obsdate) FROM observation o JOIN medical_dictionary m USING (medcodeid)
        WHERE m.cluster = 'QRISK' AND o.value IS NOT NULL GROUP BY ALL
        HAVING arg_max(m.term, o.obsdate) LIKE 'QRISK2%' ORDER BY 1 LIMIT 1""").fetchone()
    page = httpx.get(f"{server}/patient/{patid}").text
    row = page[page.index("<th>CV risk</th>"):][:400]
    assert "QRISK2" in row and "QRISK3" not in row


def test_revinclude_brings_each_patients_resources_and_is_bounded(server, db, small):
    a, b = _two_patients(server)
    r = httpx.get(f"{server}/fhir/Patient", params={"_id": f"{a},{b}", "_revinclude": ["Observation:patient",
                                                                                     "Condition:subject"]}).json()
    assert sorted(_ids(r)) == sorted([a, b])
    inc = [e["resource"] for e in r["entry"] if e["search"]["mode"] == "include"]
    for kind in ("Observation", "Condition"):  # the same resources as a search by patient finds, over all its pages
        want = _every_id(f"{server}/fhir/{kind}", {"patient": f"{a},{b}", "_count": 500})
        assert sorted(x["id"] for x in inc if x["resourceType"] == kind) == sorted(want), kind
    assert {x["subject"]["reference"] for x in inc} <= {f"Patient/{a}", f"Patient/{b}"}
    # a page that would pull in more than MAX_REVINCLUDE is refused, not built
    big = httpx.get(f"{server}/fhir/Patient", params={"_count": 500, "_revinclude": "Observation:patient"})
    n_obs = db.execute("SELECT count(*) FROM observation").fetchone()[0]
    assert n_obs > 5_000 and big.status_code == 400 and big.json()["issue"][0]["code"] == "too-costly"
    for bad in ({"_revinclude": "Observation:performer"},):
        assert httpx.get(f"{server}/fhir/Patient", params=bad).status_code == 400
    assert httpx.get(f"{server}/fhir/Observation", params={"_revinclude": "Observation:patient"}).status_code == 400


def test_elements_cut_the_resources_and_say_so(server):
    a, _ = _two_patients(server)
    r = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_elements": "code,subject", "_count": 5}).json()
    for e in r["entry"]:
        res = e["resource"]
        assert set(res) == {"resourceType", "id", "meta", "code", "subject"}
        assert {"code": "SUBSETTED", "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"} in res["meta"]["tag"]
    assert httpx.get(f"{server}/fhir/Observation", params={"_elements": "code;drop"}).status_code == 400


def test_meta_last_updated_etag_and_last_updated_search(server, small):
    created = json.loads((small / "manifest.json").read_text())["created"]
    a, _ = _two_patients(server)
    r = httpx.get(f"{server}/fhir/Patient/{a}")
    meta = r.json()["meta"]
    assert meta["versionId"] == "1" and meta["lastUpdated"] == created and "profile" in meta  # the export's profile kept
    assert r.headers["etag"] == 'W/"1"' and r.headers["last-modified"].endswith("GMT")
    assert httpx.get(f"{server}/fhir/Patient/{a}", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    day = created[:10]
    total = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_summary": "count"}).json()["total"]
    for value, n in ((f"ge{day}", total), (f"lt{day}", 0), (day, total), (f"gt{day}", 0), ("le2000", 0)):
        got = httpx.get(f"{server}/fhir/Observation", params={"patient": a, "_lastUpdated": value, "_summary": "count"})
        assert got.json()["total"] == n, value
    assert httpx.get(f"{server}/fhir/Observation", params={"_lastUpdated": "yesterday"}).status_code == 400


def test_careplans_are_served_and_searched_by_patient_category_and_date(server, db):
    """The API serves the record's care plans (the asthma self-management plans) as the export builds them: a read,
    a search by patient (the same plans the record holds), by category (the plan's SNOMED CT code) and by date; and
    the CapabilityStatement lists CarePlan with those parameters."""
    from synthgp.core import codes

    rows = db.execute("""SELECT o.patid, o.obsid, o.obsdate FROM observation o JOIN medical_dictionary d USING (medcodeid)
                         WHERE d.cluster = 'CAREPLAN' ORDER BY o.patid, o.obsid""").fetchall()
    assert len(rows) > 500  # 20,000 patients' asthma reviews over ten years
    patid = rows[0][0]
    mine = sorted(str(r[1]) for r in rows if r[0] == patid)
    sct = str(codes.snomed("asthma_self_management_plan"))
    found = httpx.get(f"{server}/fhir/CarePlan", params={"patient": patid, "_count": 500}).json()
    assert sorted(_ids(found)) == mine
    read = httpx.get(f"{server}/fhir/CarePlan/{mine[0]}").json()
    assert read["resourceType"] == "CarePlan" and read["category"][0]["coding"][0]["code"] == sct
    by_cat = httpx.get(f"{server}/fhir/CarePlan", params={"patient": patid, "category": f"http://snomed.info/sct|{sct}"}).json()
    assert sorted(_ids(by_cat)) == mine
    assert _ids(httpx.get(f"{server}/fhir/CarePlan", params={"patient": patid, "category": "1234"}).json()) == []
    day = rows[0][2].isoformat()
    dated = httpx.get(f"{server}/fhir/CarePlan", params={"patient": patid, "date": day}).json()
    assert _ids(dated) and all(e["resource"]["period"]["start"] == day for e in dated["entry"])
    total = httpx.get(f"{server}/fhir/CarePlan", params={"_summary": "count"}).json()["total"]
    assert total == len(rows)
    cap = httpx.get(f"{server}/fhir/metadata").json()
    (res,) = [r for r in cap["rest"][0]["resource"] if r["type"] == "CarePlan"]
    assert {"patient", "category", "date"} <= {p["name"] for p in res["searchParam"]}
