"""Care plans: the asthma self-management plan agreed at asthma reviews (pathways/registers/plans.py), and the
CarePlan resources (formats/fhir_requests.py) and Synthea careplans.csv rows the exports make of them."""

from __future__ import annotations

import copy
import csv
import json
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pytest
from fhir.resources.R4B import get_fhir_model_class

from synthgp.core import codes, reference
from synthgp.pathways.registers import onset
from synthgp.pathways.registers.plans import CarePlans

from tests.formats.clients import ukcore

PLAN = "asthma_self_management_plan"


@pytest.fixture(scope="module")
def db(clients_out: Path):
    con = duckdb.connect(str(clients_out / "synthgp.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def plans(clients_out: Path) -> list[dict]:
    return [json.loads(line) for line in (clients_out / "fhir" / "CarePlan.ndjson").open()]


@pytest.fixture(scope="module")
def recorded(db) -> dict[str, tuple]:
    """obsid -> (patid, obsdate, consid) of every plan the record holds."""
    rows = db.execute("""SELECT o.obsid, o.patid, o.obsdate, o.consid FROM observation o JOIN medical_dictionary d USING (medcodeid)
                         WHERE d.cluster = 'CAREPLAN'""").fetchall()
    return {str(r[0]): (str(r[1]), r[2].isoformat(), r[3]) for r in rows}


def test_every_plan_in_the_record_is_one_careplan_and_never_an_observation(clients_out, plans, recorded):
    assert len(recorded) > 100  # a 2,000-patient practice's asthma reviews over ten years agree a few hundred
    assert sorted(r["id"] for r in plans) == sorted(recorded)
    for r in plans:
        patid, day, _ = recorded[r["id"]]
        assert r["subject"]["reference"] == f"Patient/{patid}" and r["period"]["start"] == day == r["created"]
    sct = str(codes.snomed(PLAN))
    for line in (clients_out / "fhir" / "Observation.ndjson").open():
        assert sct not in line
    with (clients_out / "csv" / "careplans.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(plans) and {r["CODE"] for r in rows} == {sct}
    with (clients_out / "csv" / "observations.csv").open() as f:
        assert all(r["CODE"] != sct for r in csv.DictReader(f))


def test_careplans_are_valid_fhir_r4_and_uk_core(plans):
    model = get_fhir_model_class("CarePlan")
    for r in plans:
        model.model_validate(r)
        assert not ukcore.check(r), ukcore.check(r)
        assert r["meta"]["profile"] == [ukcore.PROFILE_BASE + "CarePlan"]
        assert r["status"] in {"active", "completed"} and r["intent"] == "plan"
        (cat,) = r["category"]
        assert cat["coding"] == [{"system": "http://snomed.info/sct", "code": str(codes.snomed(PLAN)),
                                  "display": codes.get(PLAN).term}]
    # the validator rejects what FHIR R4 forbids, so passing means something: subject and intent are 1..1
    for field in ("subject", "intent", "status"):
        bad = copy.deepcopy(plans[0])
        del bad[field]
        with pytest.raises(Exception):
            model.model_validate(bad)


def test_each_careplan_addresses_the_patient_s_asthma_condition(clients_out, plans):
    conditions = {json.loads(line)["id"]: json.loads(line) for line in (clients_out / "fhir" / "Condition.ndjson").open()}
    asthma = {str(codes.snomed(k)) for k, c in codes.table().items() if c.cluster == "AST" and c.snomed}
    for r in plans:
        (ref,) = r["addresses"]  # every plan is agreed at the review of someone on the asthma register
        cond = conditions[ref["reference"].removeprefix("Condition/")]
        assert cond["subject"] == r["subject"]
        assert cond["code"]["coding"][0]["code"] in asthma
        assert cond["onsetDateTime"] <= r["period"]["start"]


def test_a_plan_runs_until_the_next_one_or_the_patient_s_end(db, plans):
    ends = {str(p): (d, e) for p, d, e in db.execute(
        "SELECT patid, emis_ddate, regenddate FROM patient").fetchall()}
    by_patient = defaultdict(list)
    for r in plans:
        by_patient[r["subject"]["reference"].removeprefix("Patient/")].append(r)
    n_replaced = 0
    for patid, rs in by_patient.items():
        rs.sort(key=lambda r: (r["period"]["start"], int(r["id"])))
        death, left = ends[patid]
        last = min([d.isoformat() for d in (death, left) if d is not None], default=None)
        for r, nxt in zip(rs, rs[1:] + [None]):
            end = nxt["period"]["start"] if nxt is not None else last
            assert r["period"].get("end") == end
            assert end is None or r["period"]["start"] <= end  # nothing agreed after the patient's death or leaving
            assert r["status"] == ("active" if end is None else "completed")
            n_replaced += nxt is not None
    assert n_replaced > 20  # yearly reviews: many people have a plan replaced by the next


def test_plans_are_coded_at_an_asthma_review(db):
    """Each plan is written at a consultation where the asthma annual review is coded, for someone on the asthma
    register; and it is agreed at the share of reviews data/care_plans.toml gives for its year (an input, not a
    calibration: the check is that the pathway applies it)."""
    rows = db.execute("""
      WITH rv AS (SELECT DISTINCT o.consid, o.obsdate FROM observation o JOIN medical_dictionary d USING (medcodeid)
                  WHERE d.medcodeid = $review),
           pl AS (SELECT o.consid FROM observation o JOIN medical_dictionary d USING (medcodeid) WHERE d.cluster = 'CAREPLAN')
      SELECT year(rv.obsdate) AS y, count(*) AS reviews, count(pl.consid) AS plans,
             (SELECT count(*) FROM pl WHERE consid NOT IN (SELECT consid FROM rv)) AS stray
      FROM rv LEFT JOIN pl USING (consid) GROUP BY 1 ORDER BY 1""",
                      {"review": codes.medcode("asthma_annual_review")}).fetchall()
    assert all(r[3] == 0 for r in rows)
    spec = reference.toml("care_plans.toml")["asthma"]
    for years, share in (((2005, 2012), spec["share"][0]), ((2016, 2024), spec["share"][-1])):
        reviews = sum(r[1] for r in rows if years[0] <= r[0] <= years[1])
        agreed = sum(r[2] for r in rows if years[0] <= r[0] <= years[1])
        assert reviews > 200
        # binomial: 4 standard errors (about 0.09 at 250 reviews) keeps a fixed seed's draw from failing by chance
        assert abs(agreed / reviews - share) < 4 * np.sqrt(share * (1 - share) / reviews), (years, agreed, reviews)


def test_care_plans_toml_is_checked():
    conditions = onset.load()[1]
    good = reference.toml("care_plans.toml")
    assert [p[1] for p in CarePlans(conditions, good).plans] == ["asthma"]
    for bad, message in (({"asthmaa": good["asthma"]}, "no register condition"),
                         ({"asthma": {**good["asthma"], "share": [0.2, 0.3, 1.2]}}, "share"),
                         ({"asthma": {**good["asthma"], "years": [2016, 2015, 2013]}}, "years"),
                         ({"asthma": {**good["asthma"], "code": "asthma_annual_review"}}, "CAREPLAN")):
        with pytest.raises(ValueError, match=message):
            CarePlans(conditions, bad)
