"""Acute items at everyday consultations (data/consultations.toml [reason.*] `items`): only at a consultation whose
reason lists the medicine, on its day, at or above the item's minimum age, at the configured rate, never outside
registration or after death; a bad item is named."""

import copy

import duckdb
import numpy as np
import pytest

from synthgp.core import codes, reference
from synthgp.pathways.consultations import load_reasons

from tests.engine.build import day, emitted, make_sim
from tests.pathways.test_consultations import DATA, REASONS, med_index, reason_rows, run_months

ON = day(2016, 2, 10)
ANTIBIOTICS = {n for v in DATA["reason"].values() if "antibiotic" in v for n in v["antibiotic"][1:]}
ITEM_MEDS = {x[0] for v in DATA["reason"].values() for x in v.get("items", [])}


def items_by_reason(sim) -> tuple[dict, dict]:
    """(reason rows, issues) of a simulated year, and for each (patient, day) the reasons recorded."""
    rows, issues = reason_rows(sim), emitted(sim, "issue")
    by = {codes.medcode(k): k for k in REASONS}
    seen: dict[tuple[int, int], set[str]] = {}
    for p, d, m in zip(rows["pat"], rows["day"], rows["medcode"]):
        seen.setdefault((int(p), int(d)), set()).add(by[int(m)])
    return rows, issues, seen


def allowed_meds(reasons: set[str]) -> set[str]:
    out = set()
    for k in reasons:
        spec = DATA["reason"][k]
        out |= {x[0] for x in spec.get("items", [])} | set(spec.get("antibiotic", [None, None, None])[1:])
    return out


@pytest.mark.parametrize("age,male", [(40.0, False), (70.0, True), (14.0, False)])
def test_an_acute_item_is_issued_only_at_a_consultation_whose_reason_lists_it_and_at_its_age(age, male):
    sim = make_sim()
    run_months(sim, age, ON, 12, male=male, frailty=8.0)
    rows, issues, seen = items_by_reason(sim)
    meds = sim.rx.meds
    name = {int(meds.prod[i, 0]): k for k, i in meds.index.items()}
    assert len(issues["pat"]) > 100
    for p, d, prod in zip(issues["pat"], issues["day"], issues["prod"]):
        med = name[int(prod)]
        if med not in ITEM_MEDS | ANTIBIOTICS:  # a long-term repeat a blood test started (iron), not an acute item
            assert sim.rx.meds.spec[med]["class"] != "acute", med
            continue
        assert med in allowed_meds(seen.get((int(p), int(d)), set())), (med, seen.get((int(p), int(d))))
    given = {name[int(x)] for x in issues["prod"]}
    # minimum ages: codeine from 18, cyclizine from 16, NSAID tablets from 12; prednisolone is never an acute item
    if age < 16:
        assert not given & {"codeine", "prednisolone", "cyclizine", "metoclopramide"}, given
    else:
        assert "codeine" in given and "prednisolone" not in given, given


@pytest.mark.parametrize("reason,med,age", [("low_back_pain", "codeine", 40.0), ("knee_pain", "naproxen", 70.0),
                                            ("conjunctivitis", "chloramphenicol_eye_drops", 2.0),
                                            ("menorrhagia", "tranexamic_acid", 35.0)])
def test_the_share_of_a_reasons_consultations_given_an_item_is_its_probability(reason, med, age):
    sim = make_sim()
    run_months(sim, age, ON, 12, male=False, frailty=12.0)
    rows, issues, _ = items_by_reason(sim)
    at = rows["medcode"] == codes.medcode(reason)
    prod = sim.rx.meds.prod[sim.rx.meds.index[med], 0]
    pairs = set(zip(issues["pat"][issues["prod"] == prod].tolist(), issues["day"][issues["prod"] == prod].tolist()))
    n = int(at.sum())
    given = sum((int(p), int(d)) in pairs for p, d in zip(rows["pat"][at], rows["day"][at]))
    p = next(x[1] for x in DATA["reason"][reason]["items"] if x[0] == med)
    assert n > 60, n
    # binomial: within 4 standard errors (one consultation a day for a reason, so each gives at most one)
    assert given / n == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n)), (given, n, p)


def test_a_bad_item_is_named():
    for item in (["naproxen", 1.5], ["naproxen", 0.2, 200], ["naproxen", 0.2, 12, "x"]):
        bad = copy.deepcopy(DATA)
        bad["reason"]["knee_pain"]["items"] = [item]
        with pytest.raises(ValueError, match="knee_pain"):
            load_reasons(bad, med_index())
    bad = copy.deepcopy(DATA)
    bad["reason"]["knee_pain"]["items"] = [["no_such_cream", 0.2]]
    with pytest.raises(ValueError, match="no_such_cream"):
        load_reasons(bad, med_index())


def test_every_acute_item_of_a_practice_is_inside_registration_and_at_a_matching_consultation(small):
    """The 20,000-patient practice (seed 5): each issue of a medicine only consultations give (acute items, no
    repeat of it) falls within the patient's registration, not after death, on the day of a reason that lists it."""
    meds = reference.toml("medicines.toml")
    only_acute = sorted(ITEM_MEDS - {k for k, v in meds.items() if isinstance(v, dict)
                                     and (v["class"] != "acute" or v.get("repeat"))})
    prods = {meds[k]["levels"][0]["prodcodeid"]: k for k in only_acute}
    reason_of = {codes.get(k).medcodeid: k for k in REASONS}
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    ids = ", ".join(map(str, prods))
    rows = con.execute(f"""SELECT i.patid, i.issuedate, i.prodcodeid, p.regstartdate, p.regenddate, p.cprd_ddate,
        list(o.medcodeid) FROM drug_issue i JOIN patient p USING (patid)
        LEFT JOIN observation o ON o.patid = i.patid AND o.obsdate = i.issuedate
        WHERE i.prodcodeid IN ({ids}) GROUP BY ALL""").fetchall()
    assert len(rows) > 200
    assert {prods[r[2]] for r in rows} >= {"codeine", "fusidic_acid_cream", "tranexamic_acid"}
    for patid, on, prod, start, end, died, obs in rows:
        assert on >= start and (end is None or on <= end) and (died is None or on <= died), (patid, on)
        reasons = {reason_of[m] for m in obs if m in reason_of}
        assert prods[prod] in allowed_meds(reasons), (patid, on, prods[prod], reasons)
