"""Flu and COVID-19 vaccinations as FHIR Immunization (UK Core): in the bulk export, the bundles and the FHIR API, each
one valid, and each the same fact as its row in the record."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from fhir.resources.R4B import get_fhir_model_class

from synthgp.core import codes
from synthgp.formats import fhir_resources as fhir

from tests.conftest import generate

PROFILE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Immunization"
PROCEDURE_EXT = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-VaccinationProcedure"
DMD = "https://dmd.nhs.uk"
ORIGIN = "http://terminology.hl7.org/CodeSystem/immunization-origin"
STATUS = {"completed", "entered-in-error", "not-done"}  # FHIR R4 immunization-status (required binding)
FLU_KEYS = ("flu_vaccination", "flu_vaccination_pharmacy", "flu_vaccination_declined")
COVID_KEYS = ("covid_vaccination_first", "covid_vaccination_second", "covid_vaccination_booster")
AT_PRACTICE = ("flu_vaccination", *COVID_KEYS)  # given at the practice's own clinic


def vaccine(key: str) -> dict:
    """The vaccineCode entry (fhir.toml) of a record code."""
    return fhir.mapping()["immunization"]["vaccine"]["covid19" if key in COVID_KEYS else "influenza"]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("imm") / "out", 1500, seed=23,
                    formats=("duckdb", "fhir", "fhir-bundles", "csv"))


@pytest.fixture(scope="module")
def db(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def imms(out, rows) -> list[dict]:
    """The flu and COVID-19 Immunizations (other programmes, clusters IMM*, are tested in test_new_content.py)."""
    return [r for r in (json.loads(line) for line in (out / "fhir" / "Immunization.ndjson").open()) if r["id"] in rows]


@pytest.fixture(scope="module")
def rows(db) -> dict[str, dict]:
    """The record's immunisation observations by obsid: code key, dates, consultation, staff."""
    keys = {codes.snomed(k): k for k in (*FLU_KEYS, *COVID_KEYS)}
    # adults' programmes: children's nasal flu (the childhood pathway's) is tested in test_new_content.py
    cur = db.execute("""SELECT o.obsid, o.patid, o.consid, o.staffid, o.obsdate, o.enterdate, d.snomedctconceptid
        FROM observation o JOIN medical_dictionary d USING (medcodeid) JOIN patient_identity i USING (patid)
        WHERE d.cluster IN ('FLU', 'FLUDECL', 'COVIDVAC') AND o.obsdate >= i.date_of_birth + INTERVAL 18 YEAR""")
    return {str(r[0]): {"patid": r[1], "consid": r[2], "staffid": r[3], "obsdate": r[4], "enterdate": r[5],
                        "key": keys[r[6]]} for r in cur.fetchall()}


def test_every_immunization_parses_with_fhir_resources_and_keeps_uk_core_rules(imms):
    model = get_fhir_model_class("Immunization")
    assert len(imms) > 500
    for r in imms:
        model.model_validate(r)
        assert r["meta"]["profile"] == [PROFILE]
        assert r["status"] in STATUS
        # ukcore-imm-1: a vaccination not given is not-done and says why
        assert (r["status"] == "not-done") == ("statusReason" in r)
        assert r["vaccineCode"]["coding"][0]["system"] == DMD
        # reportOrigin only for what another provider reported (FHIR: imm-1 style rule of primarySource)
        assert ("reportOrigin" in r) == (r["primarySource"] is False)
    # and the validator rejects what FHIR forbids, so passing means something
    with pytest.raises(Exception):
        model.model_validate({**imms[0], "occurrenceDateTime": "2020-02-30"})
    with pytest.raises(Exception):
        model.model_validate({k: v for k, v in imms[0].items() if k != "vaccineCode"})


def test_one_immunization_per_vaccination_observation_and_none_left_as_observations(out, imms, rows):
    assert {r["id"] for r in imms} == set(rows)
    flu = {str(codes.snomed(k)) for k in (*FLU_KEYS, *COVID_KEYS)}
    for line in (out / "fhir" / "Observation.ndjson").open():
        obs = json.loads(line)
        assert not {c["code"] for c in obs["code"].get("coding", [])} & flu, obs["id"]
    manifest = json.loads((out / "fhir" / "export.json").read_text())
    n = sum(1 for _ in (out / "fhir" / "Immunization.ndjson").open())
    assert n >= len(imms) and {"type": "Immunization", "url": "Immunization.ndjson", "count": n} in manifest["output"]
    assert manifest["profiles"]["Immunization"] == PROFILE


def test_each_immunization_says_what_its_record_row_says(imms, rows):
    seen = set()
    for r in imms:
        row = rows[r["id"]]
        seen.add(row["key"])
        assert r["patient"] == {"reference": f"Patient/{row['patid']}"}
        assert r["occurrenceDateTime"] == row["obsdate"].isoformat()
        assert r["recorded"] == row["enterdate"].isoformat() >= r["occurrenceDateTime"]
        vmp = vaccine(row["key"])
        assert r["vaccineCode"]["coding"] == [{"system": DMD, "code": vmp["code"], "display": vmp["display"]}]
        sct = str(codes.snomed(row["key"]))
        if row["key"] == "flu_vaccination_declined":
            assert r["status"] == "not-done" and r["primarySource"] is True
            assert r["statusReason"]["coding"][0]["code"] == sct
            assert "extension" not in r and "performer" not in r
            continue
        assert r["status"] == "completed"
        (ext,) = r["extension"]
        assert ext["url"] == PROCEDURE_EXT and ext["valueCodeableConcept"]["coding"][0] == {
            "system": "http://snomed.info/sct", "code": sct, "display": codes.get(row["key"]).term}
        if row["key"] in AT_PRACTICE:  # given at the practice, in a consultation, by its nurse
            assert r["primarySource"] is True and "reportOrigin" not in r
            assert r["encounter"] == {"reference": f"Encounter/{row['consid']}"}
            (perf,) = r["performer"]
            assert perf["actor"] == {"reference": f"Practitioner/{row['staffid']}"}
            assert perf["function"]["coding"][0]["code"] == "AP"
        else:  # by a pharmacist, entered from the pharmacy's notification days later
            assert r["primarySource"] is False
            assert r["reportOrigin"]["coding"] == [{"system": ORIGIN, "code": "provider", "display": "Other Provider"}]
            assert "encounter" not in r and "performer" not in r
            assert r["recorded"] > r["occurrenceDateTime"]
    assert seen == {*FLU_KEYS, *COVID_KEYS}


def test_references_resolve_and_bundles_carry_the_immunizations(out, imms, rows):
    have = {f"{k}/{json.loads(line)['id']}" for k in ("Patient", "Encounter", "Practitioner")
            for line in (out / "fhir" / f"{k}.ndjson").open()}
    for r in imms:
        for ref in [r["patient"], r.get("encounter")] + [p["actor"] for p in r.get("performer", [])]:
            assert ref is None or ref["reference"] in have, (r["id"], ref)
    by_patient: dict[str, list[dict]] = {}
    for r in imms:
        by_patient.setdefault(r["patient"]["reference"].split("/")[1], []).append(r)
    checked = 0
    for path in sorted((out / "fhir-bundles").glob("*/*.json")):
        if path.stem not in by_patient:
            continue
        b = json.loads(path.read_text())
        inside = {e["request"]["url"] for e in b["entry"]}
        got = [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Immunization"
               and e["resource"]["id"] in rows]  # the other programmes' (IMM*) are test_new_content.py's
        assert sorted(got, key=lambda r: r["id"]) == sorted(by_patient[path.stem], key=lambda r: r["id"])
        for r in got:
            for ref in [r["patient"], r.get("encounter")] + [p["actor"] for p in r.get("performer", [])]:
                assert ref is None or ref["reference"] in inside
        checked += 1
        if checked == 40:
            break
    assert checked == 40


@pytest.fixture(scope="module")
def client(out):
    from fastapi.testclient import TestClient

    from synthgp.serve.app import create_app

    with TestClient(create_app(out)) as c:
        yield c


def _unstamped(res: dict) -> dict:
    """A served resource without the meta.versionId and lastUpdated the API adds to the export's."""
    return {**res, "meta": {k: v for k, v in res["meta"].items() if k not in ("versionId", "lastUpdated")}}


def test_fhir_api_reads_and_searches_immunizations(client, imms, rows):
    one = next(r for r in imms if r["primarySource"] is False)
    got = client.get(f"/fhir/Immunization/{one['id']}")
    # byte for byte the export's resource, with the API's meta.versionId and lastUpdated
    assert got.status_code == 200 and _unstamped(got.json()) == one and got.json()["meta"]["versionId"] == "1"
    patid = one["patient"]["reference"].split("/")[1]
    mine = sorted((r for r in imms if r["patient"]["reference"] == f"Patient/{patid}"),
                  key=lambda r: (r["occurrenceDateTime"], r["id"]))
    b = client.get("/fhir/Immunization", params={"patient": patid, "_count": 500}).json()
    ours = [_unstamped(e["resource"]) for e in b["entry"] if e["resource"]["id"] in rows]  # flu and COVID-19 (adults)
    assert b["total"] == len(b["entry"]) >= len(mine) and ours == mine
    cut = mine[len(mine) // 2]["occurrenceDateTime"]
    later = client.get("/fhir/Immunization", params={"patient": f"Patient/{patid}", "date": f"ge{cut}", "_count": 500}).json()
    assert sum(e["resource"]["id"] in rows for e in later["entry"]) == sum(r["occurrenceDateTime"] >= cut for r in mine)
    assert all(e["resource"]["occurrenceDateTime"] >= cut for e in later["entry"])
    # across everyone: by status and by vaccine code, with the patient included
    declined = sum(v["key"] == "flu_vaccination_declined" for v in rows.values())
    # (other programmes' declines, IMM*DECL, add to the flu declines of adults)
    assert client.get("/fhir/Immunization", params={"status": "not-done", "_count": 0}).json()["total"] >= declined
    for name, keys in (("influenza", FLU_KEYS), ("covid19", COVID_KEYS)):
        vmp = fhir.mapping()["immunization"]["vaccine"][name]["code"]
        want = sum(v["key"] in keys for v in rows.values())
        assert want and client.get("/fhir/Immunization", params={"vaccine-code": f"{DMD}|{vmp}", "_count": 0}).json()["total"] == want
    assert client.get("/fhir/Immunization", params={"vaccine-code": "12345", "_count": 0}).json()["total"] == 0
    inc = client.get("/fhir/Immunization", params={"patient": patid, "_include": "Immunization:patient"}).json()
    assert inc["entry"][-1]["search"]["mode"] == "include" and inc["entry"][-1]["resource"]["id"] == patid
    for url in ("/fhir/Immunization/abc", "/fhir/Immunization/1"):
        assert client.get(url).status_code == 404
    for params in ({"subject": patid}, {"date": "2020-13"}, {"status": "done;"}, {"_include": "Immunization:subject"}):
        r = client.get("/fhir/Immunization", params=params)
        assert r.status_code == 400 and r.json()["resourceType"] == "OperationOutcome", params


def test_capability_statement_lists_immunization(client):
    cap = client.get("/fhir/metadata").json()
    (imm,) = [r for r in cap["rest"][0]["resource"] if r["type"] == "Immunization"]
    assert imm["profile"] == PROFILE
    assert {p["name"]: p["type"] for p in imm["searchParam"]} == {
        "patient": "reference", "vaccine-code": "token", "date": "date", "status": "token", "_id": "token"}
    assert imm["searchInclude"] == ["Immunization:patient"]


# Synthea's immunizations.csv (CSV data dictionary, v3): its columns in order, with their types
IMMUNIZATIONS_CSV = [("DATE", "TIMESTAMP"), ("PATIENT", "UUID"), ("ENCOUNTER", "UUID"), ("CODE", "VARCHAR"),
                     ("DESCRIPTION", "VARCHAR"), ("BASE_COST", "DOUBLE")]


def test_synthea_immunizations_csv_holds_the_vaccinations_given(out, imms, rows):
    path = out / "csv" / "immunizations.csv"
    with path.open() as f:
        assert next(csv.reader(f)) == [c for c, _ in IMMUNIZATIONS_CSV]
    con = duckdb.connect()
    typed = "{" + ", ".join(f"'{c}': '{t}'" for c, t in IMMUNIZATIONS_CSV) + "}"
    got = con.execute(f"SELECT * FROM read_csv('{path.as_posix()}', header=true, columns={typed}, "
                      "timestampformat='%Y-%m-%dT%H:%M:%SZ')").fetchall()  # an unparseable value raises here
    flu_covid = {vaccine(k)["code"] for k in ("flu_vaccination", *COVID_KEYS)}
    got = [r for r in got if r[3] in flu_covid]  # other programmes (IMM*): test_new_content.py
    given = [r for r in imms if r["status"] == "completed"]
    assert len(got) == len(given) > 0
    assert {(r[3], r[4]) for r in got} == {(vaccine(k)["code"], vaccine(k)["display"]) for k in ("flu_vaccination", *COVID_KEYS)}
    # the practice's own carry their consultation and its fee; the pharmacy's the pharmacy fee and, having no
    # consultation, that day's consultation if any, else the encounter of the day the notification was entered
    cost = fhir.mapping()["immunization"]["base_cost"]
    given_rows = [v["key"] for v in rows.values() if v["key"] != "flu_vaccination_declined"]
    assert sorted(r[5] for r in got) == sorted(cost[k] for k in given_rows)
    assert all(r[2] is not None for r in got)
    assert sum(str(r[2]).startswith("00000002") for r in got) >= sum(k in AT_PRACTICE for k in given_rows)
    encounters = {str(r[0]) for r in con.execute(f"SELECT Id FROM read_csv('{(out / 'csv' / 'encounters.csv').as_posix()}')").fetchall()}
    assert {str(r[2]) for r in got if r[2] is not None} <= encounters
    # per patient, as many as the FHIR export's completed Immunizations (joined through the NHS number)
    nhs = {json.loads(line)["identifier"][0]["value"]: json.loads(line)["id"] for line in (out / "fhir" / "Patient.ndjson").open()}
    uuid_to_patid = {str(u): nhs[s] for u, s in con.execute(
        f"SELECT Id, SSN FROM read_csv('{(out / 'csv' / 'patients.csv').as_posix()}', types={{'SSN': 'VARCHAR'}})").fetchall()}
    assert Counter(uuid_to_patid[str(r[1])] for r in got) == Counter(r["patient"]["reference"].split("/")[1] for r in given)
    # a vaccination given is no longer an observation; one declined still is (immunizations.csv has no status)
    obs_codes = Counter(r[0] for r in con.execute(
        f"SELECT CODE::VARCHAR FROM read_csv('{(out / 'csv' / 'observations.csv').as_posix()}', types={{'CODE': 'VARCHAR'}})").fetchall())
    assert obs_codes[str(codes.snomed("flu_vaccination"))] == obs_codes[str(codes.snomed("flu_vaccination_pharmacy"))] == 0
    assert obs_codes[str(codes.snomed("flu_vaccination_declined"))] == len(rows) - len(given)


def _coverage_by_hand(db, season: int) -> tuple[int, int]:
    """65+ flu coverage of a season, in Python from the record rows (the definition in evaluate/flu.py)."""
    start, end, age_on = dt.date(season, 9, 1), dt.date(season + 1, 3, 1) - dt.timedelta(days=1), dt.date(season + 1, 3, 31)
    jabs: dict[int, list[dt.date]] = {}
    for patid, d in db.execute("""SELECT o.patid, o.obsdate FROM observation o JOIN medical_dictionary m USING (medcodeid)
                                  WHERE m.cluster = 'FLU'""").fetchall():
        jabs.setdefault(patid, []).append(d)
    cohort = vaccinated = 0
    for patid, typ, reg, left, died, born in db.execute("""SELECT p.patid, p.patienttypeid, p.regstartdate, p.regenddate,
            p.cprd_ddate, i.date_of_birth FROM patient p JOIN patient_identity i USING (patid)""").fetchall():
        age = age_on.year - born.year - ((age_on.month, age_on.day) < (born.month, born.day))
        if typ == 3 and reg <= start and (left is None or left > end) and (died is None or died > end) and age >= 65:
            cohort += 1
            vaccinated += any(start <= d <= end for d in jabs.get(patid, []))
    return cohort, vaccinated


def test_flu_coverage_follows_its_definition(db):
    from synthgp.evaluate import flu

    (pracid, season, end, complete, cohort, vaccinated), = db.execute(flu.coverage_sql()).fetchall()
    lcd = db.execute("SELECT lcd FROM practice").fetchone()[0]
    assert complete and end < lcd and dt.date(season + 2, 3, 1) - dt.timedelta(days=1) > lcd  # the latest complete one
    assert (cohort, vaccinated) == _coverage_by_hand(db, season) and cohort > 100 and 0.5 < vaccinated / cohort < 0.95
    for year in (2016, 2020):
        got = db.execute(flu.coverage_sql(year)).fetchall()[0]
        assert got[1] == year and got[4:] == _coverage_by_hand(db, year)
    assert db.execute(flu.coverage_sql(lcd.year)).fetchall()[0][3] is False  # not yet over


def test_viewer_shows_vaccinations_and_flu_coverage(client, db, rows):
    from synthgp.evaluate import flu

    season, cohort, vaccinated = (lambda r: (r[1], r[4], r[5]))(db.execute(flu.coverage_sql()).fetchall()[0])
    page = client.get("/").text
    assert f"Flu vaccination 65+ {flu.season_label(season)}" in page
    assert f"{100 * vaccinated / cohort:.1f}%" in page and f"({vaccinated}/{cohort})" in page
    assert 'id="flu-definition"' in page and "31 March" in page
    # a patient vaccinated both at the practice and at a pharmacy
    keys: dict[int, set[str]] = {}
    for v in rows.values():
        keys.setdefault(v["patid"], set()).add(v["key"])
    patid = min(p for p, k in keys.items() if {"flu_vaccination", "flu_vaccination_pharmacy"} <= k)
    html = client.get(f"/patient/{patid}").text
    table = html.split('id="vaccinations"')[1].split("<tbody>")[1].split("</tbody>")[0]
    mine = [v for v in rows.values() if v["patid"] == patid]
    flu_covid = [r for r in table.split("<tr class=")[1:] if "influenza" in r or "COVID-19" in r]
    assert len(flu_covid) == len(mine)  # beside them, the adult programmes' PPV and shingles rows
    shown = "".join(flu_covid)
    assert shown.count("Community pharmacy") == sum(v["key"] == "flu_vaccination_pharmacy" for v in mine)
    assert shown.count("At the practice") == sum(v["key"] in AT_PRACTICE for v in mine)
    assert shown.count("COVID-19, ") == sum(v["key"] in COVID_KEYS for v in mine)
    # COVID-19 coverage of adults at the end of 2021, from the record, on the dashboard
    assert 'id="covid-definition"' in page and "COVID-19 vaccinated 18+" in page
    newest = max(v["obsdate"] for v in mine)
    assert table.index(newest.strftime("%d %b %Y")) < table.index("</tr>")  # newest first


def test_vaccinations_and_coverage_render_in_headless_chromium(out, rows):
    from tests.conftest import SHOTS, chromium_page
    from tests.serve.running import serving

    with serving(out) as base:
        patid = min(v["patid"] for v in rows.values() if v["key"] == "flu_vaccination_pharmacy")
        with chromium_page() as page:
            page.goto(base + "/")
            assert page.locator("#practices td.flu").first.is_visible()
            assert "%" in page.inner_text("#practices td.flu >> nth=0")
            page.goto(f"{base}/patient/{patid}")
            table = page.locator("#vaccinations")
            table.scroll_into_view_if_needed()
            assert table.is_visible()
            flu_covid = page.locator("#vaccinations tbody tr", has_text=re.compile("influenza|COVID-19"))
            assert flu_covid.count() == sum(v["patid"] == patid for v in rows.values())
            assert page.locator("#vaccinations tbody tr.pharmacy").count() >= 1
            page.screenshot(path=str(SHOTS / "vaccinations.png"), full_page=True)


def test_calibration_figure_is_the_record_coverage_against_ukhsa(out, db):
    from synthgp.core import reference
    from synthgp.evaluate import calibration, flu

    uptake = reference.toml("flu.toml")["uptake"]
    (fig,) = [f for f in reference.toml("calibration.toml")["figure"] if f["id"] == "flu_coverage_65_plus"]
    assert fig["role"] == "calibration" and fig["season"] == 2023
    assert calibration._target(fig) == uptake["age_65_plus"][uptake["season"].index(2023)] == 0.778
    rows = [r for r in calibration.for_output(out) if r.id == "flu_coverage_65_plus"]
    (row,) = rows
    _, _, _, _, cohort, vaccinated = db.execute(flu.coverage_sql(2023)).fetchall()[0]
    assert row.part == "2023/24" and row.target == 0.778 and row.generated == vaccinated / cohort
    assert row.passed == (abs(row.generated - 0.778) <= 0.03)
    # a study that ends before the season does, or starts after it began, has no such figure
    for end, years in ((dt.date(2024, 2, 1), 10), (dt.date(2024, 12, 31), 1)):
        rows = calibration.compare(out / "synthgp.duckdb", "south_west", end, years)
        assert not [r for r in rows if r.id == "flu_coverage_65_plus"] and rows


# ---- the other programmes (codes.csv clusters IMM*): the dm+d VMP of fhir.toml [immunization.cluster]/[immunization.code]

def _expected_vmp(cluster: str, key: str | None, when: dt.date) -> dict | None:
    """fhir.toml's vaccine for a vaccination, restated in Python: its code's ([immunization.code]), else its cluster's,
    the first dated entry whose `until` is after `when` (the last from then on); None where it names none."""
    im = fhir.mapping()["immunization"]
    if key in im["code"]:
        return im["vaccine"][im["code"][key]]
    named = im["cluster"].get(cluster, {}).get("vaccine")
    if isinstance(named, list):
        named = next(v["vaccine"] for v in named if "until" not in v or when < v["until"])
    return im["vaccine"][named] if named else None


def test_every_imm_cluster_names_a_vaccine_with_a_valid_dm_d_id():
    """Every vaccination cluster of codes.csv (IMM*, not a declined one) has a vaccine; each VMP id is a SNOMED CT
    extension concept of dm+d's namespace (1000001) with a valid check digit, and says where it came from."""
    im = fhir.mapping()["immunization"]
    clusters = {c.cluster for c in codes.table().values() if c.cluster.startswith("IMM") and not c.cluster.endswith("DECL")}
    assert clusters and clusters <= {c for c, v in im["cluster"].items() if "vaccine" in v}
    assert set(im["code"]) <= set(codes.table()) and set(im["code"].values()) <= set(im["vaccine"])
    for name, v in im["vaccine"].items():
        i = int(v["code"])
        assert codes.verhoeff_ok(i) and codes.partition(i) == 10 and str(i)[-10:-3] == "1000001", name
        assert v["display"] and v["source"], name


def test_the_vaccine_follows_the_programme_s_change_on_either_side_of_its_date():
    """Dated clusters: the pentavalent DTaP/IPV/Hib up to 31 July 2017 and the hexavalent from 1 August; the live
    shingles vaccine up to 31 August 2023 and the recombinant from 1 September. A code that names its product
    keeps it at any date (a pentavalent dose late in 2017, a Shingrix dose in 2021, the pre-school booster)."""
    vac = fhir.mapping()["immunization"]["vaccine"]
    cases = [("IMM_DTAP", None, "2017-07-31", "dtap_ipv_hib"), ("IMM_DTAP", None, "2017-08-01", "dtap_ipv_hib_hepb"),
             ("IMM_SHINGLES", "shingles_vaccination", "2023-08-31", "zoster_live"),
             ("IMM_SHINGLES", "shingles_vaccination", "2023-09-01", "zoster_recombinant"),
             ("IMM_SHINGLES", "shingles_vaccination_first", "2021-10-01", "zoster_recombinant"),
             ("IMM_DTAP", "imm_dtap_ipv_hib", "2017-11-20", "dtap_ipv_hib"),
             ("IMM_DTAP", "imm_dtap_ipv_booster", "2021-01-05", "dtap_ipv_booster"),
             ("IMM_MMR", "imm_mmr_1", "2010-01-05", "mmr"), ("IMM_TEST", None, "2020-01-01", None)]
    rows = ", ".join(f"({i}, '{c}', {codes.snomed(k) if k else 'NULL'}, DATE '{d}')" for i, (c, k, d, _) in enumerate(cases))
    got = dict(duckdb.connect().execute(f"""SELECT i, {fhir.vaccine_sql('c', 'code', None, 'd', 's')}
        FROM (VALUES {rows}) t(i, c, s, d)""").fetchall())
    assert got == {i: vac[name]["code"] if name else None for i, (*_, name) in enumerate(cases)}
    assert [_expected_vmp(c, k, dt.date.fromisoformat(d)) for c, k, d, _ in cases] == [vac[n] if n else None for *_, n in cases]
    with pytest.raises(ValueError, match="date"):
        fhir.vaccine_sql("c", "code")  # a dated cluster cannot be read without the vaccination's date


@pytest.fixture(scope="module")
def programme(out, db) -> list[tuple[dict, dict]]:
    """Each vaccination of an IMM* cluster: its record row (cluster, code key, date, date of birth) and its Immunization."""
    keys = {c.snomed: k for k, c in codes.table().items() if c.cluster.startswith("IMM")}
    rec = {str(r[0]): {"cluster": r[1], "key": keys.get(r[2]), "obsdate": r[3], "born": r[4]} for r in db.execute(
        """SELECT o.obsid, d.cluster, d.snomedctconceptid, o.obsdate, i.date_of_birth FROM observation o
           JOIN medical_dictionary d USING (medcodeid) JOIN patient_identity i USING (patid)
           WHERE starts_with(d.cluster, 'IMM')""").fetchall()}
    return [(rec[r["id"]], r) for r in (json.loads(line) for line in (out / "fhir" / "Immunization.ndjson").open())
            if r["id"] in rec]


def test_every_programme_vaccination_carries_its_dm_d_vaccine(programme):
    """Every childhood and adult vaccination given (every IMM* cluster) names its dm+d VMP as fhir.toml gives it for its
    code and date; the seed-23 record holds both DTaP products, the first the babies born before August 2017 had."""
    assert programme and len({rec["cluster"] for rec, _ in programme}) >= 6
    seen = Counter()
    for rec, imm in programme:
        assert imm["status"] == "completed"
        want = _expected_vmp(rec["cluster"], rec["key"], rec["obsdate"])
        assert want, rec
        assert imm["vaccineCode"] == {"coding": [{"system": DMD, "code": want["code"], "display": want["display"]}],
                                      "text": want["display"]}, rec
        seen[rec["cluster"], want["code"], rec["born"] >= dt.date(2017, 8, 1)] += 1
    vac = fhir.mapping()["immunization"]["vaccine"]
    assert seen["IMM_DTAP", vac["dtap_ipv_hib"]["code"], False] > 0 and seen["IMM_DTAP", vac["dtap_ipv_hib"]["code"], True] == 0
    assert seen["IMM_DTAP", vac["dtap_ipv_hib_hepb"]["code"], True] > 0
    assert seen["IMM_DTAP", vac["dtap_ipv_hib_hepb"]["code"], False] == 0
    assert sum(n for (c, code, _), n in seen.items() if code == vac["zoster_live"]["code"]) > 0


def test_synthea_immunizations_code_is_the_fhir_vaccine_code(out, imms, programme):
    """immunizations.csv's CODE and DESCRIPTION are the FHIR export's vaccineCode for every vaccination given (flu,
    COVID-19 and every programme), patient by patient and day by day."""
    con = duckdb.connect()
    nhs = {json.loads(line)["identifier"][0]["value"]: json.loads(line)["id"] for line in (out / "fhir" / "Patient.ndjson").open()}
    uuid_to_patid = {str(u): nhs[s] for u, s in con.execute(
        f"SELECT Id, SSN FROM read_csv('{(out / 'csv' / 'patients.csv').as_posix()}', types={{'SSN': 'VARCHAR'}})").fetchall()}
    csv_rows = Counter((uuid_to_patid[str(p)], str(d)[:10], c, t) for p, d, c, t in con.execute(
        f"""SELECT PATIENT, DATE, CODE, DESCRIPTION FROM read_csv('{(out / 'csv' / 'immunizations.csv').as_posix()}',
            types={{'CODE': 'VARCHAR'}})""").fetchall())
    every = [json.loads(line) for line in (out / "fhir" / "Immunization.ndjson").open()]
    fhir_rows = Counter((r["patient"]["reference"].split("/")[1], r["occurrenceDateTime"][:10],
                         r["vaccineCode"]["coding"][0]["code"], r["vaccineCode"]["text"]) for r in every if r["status"] == "completed")
    assert csv_rows == fhir_rows
    assert sum(1 for k in csv_rows.elements() if k[2] == fhir.mapping()["immunization"]["vaccine"]["mmr"]["code"]) > 0
