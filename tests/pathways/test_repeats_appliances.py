"""Dressings and stoma appliances (h17j, BNF pseudo-chapters 20 and 23): each starts at a consultation coding its
indication, is issued as its pack in its own unit, and in a generated practice goes only to people whose record
carries the indication, the stoma bag at about the published share of the list."""

import duckdb
import numpy as np
import pytest

from synthgp.core import codes, reference

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put

ON = day(2018, 3, 5)
MEDS = reference.toml("medicines.toml")
UNITS = {d: i for i, d in reference.toml("aurum_lookups.toml")["QuantUnit"]["rows"]}
APPLIANCES = [("film_dressing", "leg_ulcer"), ("ileostomy_bag", "ileostomy")]


def _k(sim, name: str) -> int:
    return [m.name for m in sim.repeats.meds].index(name)


@pytest.mark.parametrize("drug, code", APPLIANCES)
def test_an_appliance_starts_at_a_consultation_coding_its_indication(drug, code):
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=80, on=ON, male=False)
    u = get(sim, "rep_u")[pos].copy()
    u[:] = 1.0
    u[0, _k(sim, drug)] = 0.0  # the first wants it, the second nothing
    put(sim, pos, rep_u=u)
    sim.repeats.review(sim, month_at(sim, ON, act=pos))
    assert sim.rx.on_regular(pos, drug, np.full(2, ON + 7)).tolist() == [True, False]
    assert emitted(sim, "obs", pos=pos, code=code)["pat"].tolist() == [0]


@pytest.mark.parametrize("drug, code", APPLIANCES)
def test_an_appliance_is_issued_as_its_pack_every_28_days(drug, code):
    sim = make_sim(n=20)
    person(sim, [0], age=80, on=ON)
    sim.rx.start_regular(np.array([0]), drug, np.array([ON]))
    for k in range(6):
        sim.rx.issue(sim, month_at(sim, ON + k * 28, act=[0]))
    issued = emitted(sim, "issue", pos=[0])
    qty, unit, every = MEDS[drug]["repeat_pack"][:3]
    assert len(issued["day"]) >= 5
    assert (issued["qty"] == qty).all() and (issued["qunit"] == UNITS[unit]).all()
    assert (np.abs(np.diff(issued["day"]) - every) <= 3).all()  # each moved to a working day at most


@pytest.fixture(scope="module")
def con(small):
    c = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    yield c
    c.close()


def _dmd(drug: str) -> int:
    return MEDS[drug]["levels"][0]["dmd"]


@pytest.mark.parametrize("drug, code", APPLIANCES)
def test_in_a_practice_every_issue_follows_its_indication(con, drug, code):
    n, without = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (
            SELECT 1 FROM observation o WHERE o.patid = i.patid AND o.medcodeid = ? AND o.obsdate <= i.issuedate))
        FROM drug_issue i JOIN product_dictionary p USING (prodcodeid) WHERE p.dmdid = ?""",
        [codes.medcode(code), _dmd(drug)]).fetchone()
    assert n > 100  # 20,000 patients over the record's years: hundreds of issues
    assert without == 0


def test_in_a_practice_the_stoma_bag_reaches_about_the_published_share(con):
    """Colostomy UK 2022: 0.3% of the UK lives with a stoma; repeats.toml gives that share by age (not fitted to a run).
    On 1 July 2019 about 12,000 are registered, so about 36 expected; 0.15%-0.45% is about three Poisson sds."""
    on, share = con.execute("""
        WITH reg AS (SELECT p.patid FROM patient p JOIN person_truth t USING (patid)
                     WHERE p.regstartdate <= DATE '2019-07-01' AND t.date_of_birth <= DATE '2019-07-01'
                       AND coalesce(p.regenddate, DATE '9999-01-01') > DATE '2019-07-01'
                       AND coalesce(p.cprd_ddate, DATE '9999-01-01') > DATE '2019-07-01'),
             bag AS (SELECT DISTINCT i.patid FROM drug_issue i JOIN product_dictionary p USING (prodcodeid)
                     WHERE p.dmdid = ? AND i.issuedate BETWEEN DATE '2019-06-01' AND DATE '2019-07-05')
        SELECT count(b.patid), count(b.patid) / count(*) FROM reg r LEFT JOIN bag b USING (patid)""",
        [_dmd("ileostomy_bag")]).fetchone()
    assert on > 10 and 0.0015 <= share <= 0.0045
