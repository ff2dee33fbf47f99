"""The SMART App Launch sandbox end to end: apps registered with the CLI, the real server, the OAuth2
code flow with PKCE driven by an HTTP client following the redirects, and the sample app
(docs/examples/smart-app) launched in headless Chromium from another origin, by EHR launch from the
patient page and by standalone launch through the patient picker."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx
import jwt
import pytest

from synthgp.cli import main
from synthgp.serve import smart_apps

from tests.conftest import SHOTS, chromium_page, generate
from tests.serve.running import free_port, serving

SAMPLE_APP = Path(__file__).parents[2] / "docs" / "examples" / "smart-app"
REDIRECT = "http://127.0.0.1:9/cb"  # the HTTP-client app's redirect URI: never fetched, only read from Location


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("smart") / "out", 400, seed=37, formats=("duckdb",))


@pytest.fixture(scope="module")
def app_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def registered(out, app_port) -> Path:
    """Two apps registered as a lab would: the sample browser app and a script ('cli-app')."""
    base = f"http://127.0.0.1:{app_port}"
    assert main(["apps", "add", str(out), "--client-id", "sample-app", "--name", "Sample app",
                 "--redirect-uri", f"{base}/index.html", "--launch-url", f"{base}/launch.html"]) == 0
    assert main(["apps", "add", str(out), "--client-id", "cli-app", "--redirect-uri", REDIRECT,
                 "--scope", "launch/patient", "--scope", "patient/*.read", "--scope", "openid", "--scope", "fhirUser"]) == 0
    return out / smart_apps.FILE_NAME


@pytest.fixture(scope="module")
def server(out, registered):
    with serving(out, "--require-auth") as base:
        yield base


@pytest.fixture(scope="module")
def db(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


def _patients(db, n: int = 2) -> list[tuple[int, str, str, str]]:
    """Patients with several observations: (patid, given, family, nhs)."""
    return db.execute("""SELECT p.patid, i.given_name, i.family_name, i.nhs_number FROM patient p
        JOIN patient_identity i USING (patid) WHERE (SELECT count(*) FROM observation o WHERE o.patid = p.patid) > 5
        ORDER BY p.patid LIMIT ?""", [n]).fetchall()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _authorize(server: str, challenge: str, **over) -> httpx.Response:
    args = {"response_type": "code", "client_id": "cli-app", "redirect_uri": REDIRECT, "state": "s-1",
            "scope": "launch/patient patient/*.read openid fhirUser offline_access", "aud": server + "/fhir",
            "code_challenge": challenge, "code_challenge_method": "S256", **over}
    return httpx.get(server + "/auth/authorize", params={k: v for k, v in args.items() if v is not None})


def _code(server: str, patid: int, challenge: str) -> str:
    """A standalone launch as a browser would walk it: authorize, the picker, choose `patid`, the code."""
    picker = _authorize(server, challenge)
    assert picker.status_code == 200 and "Choose a patient" in picker.text
    request_id = re.search(r'name="request_id" value="([^"]+)"', picker.text)[1]
    chosen = httpx.get(server + "/auth/pick", params={"request_id": request_id, "patient": patid})
    assert chosen.status_code == 302
    loc = urlsplit(chosen.headers["location"])
    q = parse_qs(loc.query)
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT and q["state"] == ["s-1"]
    return q["code"][0]


def _token(server: str, code: str, verifier: str) -> httpx.Response:
    return httpx.post(server + "/auth/token", data={"grant_type": "authorization_code", "code": code,
                                                    "redirect_uri": REDIRECT, "client_id": "cli-app", "code_verifier": verifier})


def test_smart_configuration_and_capability(server):
    conf = httpx.get(server + "/fhir/.well-known/smart-configuration").json()
    assert conf == httpx.get(server + "/.well-known/smart-configuration").json()
    assert conf["authorization_endpoint"] == server + "/auth/authorize" and conf["token_endpoint"] == server + "/auth/token"
    assert conf["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "launch-standalone", "context-standalone-patient", "permission-patient"} <= set(conf["capabilities"])
    sec = httpx.get(server + "/fhir/metadata").json()["rest"][0]["security"]
    assert sec["service"][0]["coding"][0]["code"] == "SMART-on-FHIR" and sec["description"].startswith("A bearer token is required")
    uris = {e["url"]: e["valueUri"] for e in sec["extension"][0]["extension"]}
    assert uris == {"authorize": conf["authorization_endpoint"], "token": conf["token_endpoint"]}


def test_standalone_launch_gives_a_patient_scoped_token(server, db):
    (patid, given, family, nhs), (other, *_) = _patients(db)
    verifier, challenge = _pkce()
    code = _code(server, patid, challenge)
    bad = _token(server, code, _pkce()[0])  # a verifier that is not the challenge's
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert _token(server, code, verifier).json()["error"] == "invalid_grant"  # the code was used up by that attempt
    code = _code(server, patid, challenge)
    r = _token(server, code, verifier)
    tok = r.json()
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert tok["patient"] == str(patid) and tok["token_type"] == "Bearer"
    assert tok["scope"] == "launch/patient patient/*.read openid fhirUser"  # offline_access is not granted
    assert _token(server, code, verifier).json()["error"] == "invalid_grant"  # single use
    # the id_token verifies with the published key and names the patient's usual GP
    jwks = jwt.PyJWKSet.from_dict(httpx.get(server + "/auth/jwks.json").json())
    idt = jwt.decode(tok["id_token"], jwks.keys[0].key, algorithms=["RS256"], audience="cli-app")
    gp = httpx.get(f"{server}/fhir/Patient/{patid}", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert idt["fhirUser"].endswith(gp["generalPractitioner"][-1]["reference"]) and "/Practitioner/" in idt["fhirUser"]

    auth = {"Authorization": f"Bearer {tok['access_token']}"}
    p = httpx.get(f"{server}/fhir/Patient/{patid}", headers=auth).json()
    assert p["name"][0]["family"] == family and p["identifier"][0]["value"] == nhs
    # the token's patient only: a search without a patient finds theirs alone, another's is forbidden
    mine = httpx.get(f"{server}/fhir/Observation", params={"_count": 500}, headers=auth).json()
    assert mine["total"] > 0 and {e["resource"]["subject"]["reference"] for e in mine["entry"]} == {f"Patient/{patid}"}
    assert httpx.get(f"{server}/fhir/Observation", params={"patient": other}, headers=auth).json()["total"] == 0
    assert httpx.get(f"{server}/fhir/Patient", headers=auth).json()["total"] == 1
    assert httpx.get(f"{server}/fhir/Patient/{other}", headers=auth).status_code == 403
    tok2 = _token(server, _code(server, other, challenge), verifier).json()["access_token"]
    theirs = httpx.get(f"{server}/fhir/Observation", headers={"Authorization": f"Bearer {tok2}"}).json()["entry"][0]["resource"]["id"]
    assert httpx.get(f"{server}/fhir/Observation/{theirs}", headers={"Authorization": f"Bearer {tok2}"}).status_code == 200
    assert httpx.get(f"{server}/fhir/Observation/{theirs}", headers=auth).status_code == 403
    ev = httpx.get(f"{server}/fhir/Patient/{patid}/$everything", headers=auth)
    assert ev.status_code == 200 and ev.json()["total"] > mine["total"]
    assert httpx.get(f"{server}/fhir/Patient/{other}/$everything", headers=auth).status_code == 403
    # practice-level resources are readable with patient scopes
    assert httpx.get(f"{server}/fhir/Practitioner", headers=auth).json()["total"] > 0


def test_no_token_or_a_bad_one_is_401(server, out, registered, db):
    patid = _patients(db, 1)[0][0]
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwdw=="}):
        r = httpx.get(f"{server}/fhir/Patient/{patid}", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["resourceType"] == "OperationOutcome"
    assert httpx.get(server + "/fhir/metadata").status_code == 200  # discovery stays open
    # without --require-auth the API reads openly, but a bad token is still refused
    with serving(out) as open_server:
        assert httpx.get(f"{open_server}/fhir/Patient/{patid}").status_code == 200
        assert httpx.get(f"{open_server}/fhir/Patient/{patid}", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
        # a token signed by another server (another key) is refused
        verifier, challenge = _pkce()
        tok = _token(server, _code(server, patid, challenge), verifier).json()["access_token"]
        assert httpx.get(f"{open_server}/fhir/Patient/{patid}", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_authorize_errors(server, db):
    _, challenge = _pkce()
    # errors about the client or its redirect URI are shown, never redirected
    for over in ({"client_id": "nobody"}, {"redirect_uri": "http://evil.example/cb"}):
        r = _authorize(server, challenge, **over)
        assert r.status_code == 400 and "location" not in r.headers
        assert ("Unknown client_id" if "client_id" in over else "is not registered") in r.text
    # the others go back to the app, with its state
    for over, error in (({"code_challenge": None}, "invalid_request"), ({"code_challenge_method": "plain"}, "invalid_request"),
                        ({"response_type": "token"}, "unsupported_response_type"), ({"aud": "http://elsewhere/fhir"}, "invalid_request"),
                        ({"launch": "made-up", "scope": "launch patient/*.read"}, "invalid_request"),
                        ({"scope": "openid"}, "invalid_scope"), ({"scope": "user/*.read"}, "invalid_scope")):
        r = _authorize(server, challenge, **over)
        q = parse_qs(urlsplit(r.headers.get("location", "")).query)
        assert r.status_code == 302 and q["error"] == [error] and q["state"] == ["s-1"], over
    assert httpx.get(server + "/auth/pick", params={"request_id": "made-up", "patient": 1}).status_code == 400
    bad = httpx.post(server + "/auth/token", data={"grant_type": "password", "username": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"


def test_app_registration_errors(out, tmp_path, capsys):
    assert main(["apps", "add", str(out), "--client-id", "x y", "--redirect-uri", "http://a/"]) != 0
    assert "client_id 'x y'" in capsys.readouterr().err
    assert main(["apps", "add", str(out), "--client-id", "ok", "--redirect-uri", "ftp://a/"]) != 0
    assert "not an absolute http(s) URL" in capsys.readouterr().err
    assert main(["apps", "add", str(out), "--client-id", "ok", "--redirect-uri", "http://a/", "--scope", "everything"]) != 0
    assert "scopes ['everything'] not understood" in capsys.readouterr().err
    bad = tmp_path / "apps.toml"
    bad.write_text('[[app]]\nclient_id = "a"\nredirect_uris = ["http://a/"]\nsecret = "x"\n')
    with pytest.raises(smart_apps.AppsError, match="unknown field"):
        smart_apps.load(bad)
    bad.write_text('[[app]]\nclient_id = "a"\nredirect_uris = ["http://a/"]\n[[app]]\nclient_id = "a"\nredirect_uris = ["http://b/"]\n')
    with pytest.raises(smart_apps.AppsError, match="registered twice"):
        smart_apps.load(bad)
    assert main(["serve", str(out), "--apps", str(bad), "--port", str(free_port())]) != 0
    assert "registered twice" in capsys.readouterr().err
    assert main(["apps", "list", str(out), "--file", str(tmp_path / "none.toml")]) == 0
    assert "No apps registered" in capsys.readouterr().out


@contextlib.contextmanager
def _sample_app(port: int):
    """The sample app's static pages on their own origin (another port), as a lab's app would be."""
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(SAMPLE_APP)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/launch.html", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_sample_app_launched_in_chromium(server, db, app_port):
    (patid, given, family, nhs), (other, og, ofam, onhs) = _patients(db)
    verifier, challenge = _pkce()
    tok = _token(server, _code(server, patid, challenge), verifier).json()["access_token"]
    n_obs = httpx.get(f"{server}/fhir/Observation?_summary=count", headers={"Authorization": f"Bearer {tok}"}).json()["total"]
    with _sample_app(app_port) as app, chromium_page() as page:
        # EHR launch: the patient page's button opens the app with iss and launch
        page.goto(f"{server}/patient/{patid}")
        link = page.locator("#launch-apps a.launch", has_text="Sample app")
        assert link.count() == 1
        page.goto(server + link.get_attribute("href"))
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Read')", timeout=20_000)
        assert page.url.startswith(app + "/index.html?code=")
        assert page.text_content("#name") == f"{given} {family}" and page.text_content("#nhs") == nhs
        assert page.text_content("#obs-count") == str(n_obs)
        assert "/fhir/Practitioner/" in page.text_content("#user")
        page.screenshot(path=str(SHOTS / "smart-ehr-launch.png"), full_page=True)
        # standalone launch: the app asks for a patient, the sandbox shows the picker
        page.goto(f"{app}/launch.html?iss={server}/fhir")
        page.wait_for_selector("#picker")
        page.fill("#picker-q", f"{og} {ofam}")
        page.click("#picker-search button")
        page.wait_for_selector(f"a.choose[data-patid='{other}']")
        page.screenshot(path=str(SHOTS / "smart-picker.png"), full_page=True)
        page.click(f"a.choose[data-patid='{other}']")
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Read')", timeout=20_000)
        assert page.text_content("#nhs") == onhs and page.text_content("#status") == f"Read Patient/{other}"
