"""Care through time (eras.md, data/eras.toml): the record shows the guidance, risk score, codes and
programmes of its day. Each test puts the same patient on either side of a change."""

import numpy as np
import pytest

from synthgp.pathways.hypertension import diagnosis, treatment

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put
from tests.pathways.test_hypertension import CARE, held, htn_sim, quiet_acr

STAGE_CODES = ("hypertension_stage1", "hypertension_stage1_organ_damage", "hypertension_stage2", "hypertension_severe")


def _diagnosed(on):
    sim = htn_sim()
    p = quiet_acr(sim, 1)
    person(sim, p, age=58, on=on)
    put(sim, p, egfr=90.0)
    diagnosis.diagnose(sim.hypertension, p, np.array([on]), np.array([165.0]), np.array([101.0]), np.array([158.0]),
                       np.array([96.0]), 3)
    return sim, p


@pytest.mark.parametrize("on, code", [(day(2011, 8, 23), "essential_hypertension"), (day(2011, 8, 24), "hypertension_stage2")])
def test_nice_2011_stage_codes_only_from_august_2011(on, code):
    sim, p = _diagnosed(on)
    coded = {k for k in (*STAGE_CODES, "essential_hypertension") if len(emitted(sim, "obs", code=k)["pat"])}
    assert coded == {code}


@pytest.mark.parametrize("on, score", [
    (day(2008, 6, 1), "framingham_risk"),   # before QRISK2 in GP systems
    (day(2012, 6, 1), "qrisk2"),
    (day(2017, 6, 1), "qrisk2"),           # QRISK3 published May 2017, not yet in the systems
    (day(2018, 6, 1), "qrisk3"),
])
def test_the_risk_score_recorded_is_the_one_of_its_day(on, score):
    sim, p = _diagnosed(on)
    got = {k for k in ("framingham_risk", "qrisk2", "qrisk3") if len(emitted(sim, "obs", code=k)["pat"])}
    assert got == {score}


def test_no_qrisk3_before_2017_at_any_check():
    for on in (day(2010, 3, 1), day(2016, 12, 31)):
        sim, _ = _diagnosed(on)
        assert len(emitted(sim, "obs", code="qrisk3")["pat"]) == 0


@pytest.mark.parametrize("on, invited", [(day(2009, 3, 10), False), (day(2009, 4, 10), True)])
def test_nhs_health_checks_begin_in_april_2009(on, invited):
    sim = make_sim(care={"health_check_uptake": 1.0})
    m = month_at(sim, on, act=[0])
    person(sim, 0, age=50, on=on)
    put(sim, 0, dx=False, hc_phase=m.m % 60, egfr=90.0)
    m = month_at(sim, on, act=[0])
    sim.health_check.invite(sim, m)
    checks = emitted(sim, "obs", code="health_check")["day"]
    assert (len(checks) == 1) == invited
    assert (checks >= day(2009, 4, 1)).all()


@pytest.mark.parametrize("on, abpm", [(day(2010, 5, 4), False), (day(2012, 5, 4), True)])
def test_abpm_confirms_a_raised_reading_only_from_cg127(on, abpm):
    sim = make_sim(care={**CARE, "out_of_clinic_done": 1.0, "hbpm_share": 0.0})
    person(sim, 0, age=50, on=on)
    put(sim, 0, bp_level_sbp=40.0, bp_level_dbp=20.0)
    m = month_at(sim, on, act=[0])
    sim.hypertension.checks = (np.empty(0, np.int64),) * 3
    m.bp_screens.append((np.array([0]), np.array([on]), np.array([165.0]), np.array([100.0])))
    sim.hypertension.diagnose(sim, m)
    assert (len(emitted(sim, "obs", code="abpm_systolic")["pat"]) == 1) == abpm
    # before ABPM a nurse repeats the clinic reading one to three weeks later
    repeat = emitted(sim, "obs", code="bp_systolic")["day"]
    assert (len(repeat) == 1 and on + 7 <= repeat[0] <= on + 21) == (not abpm)
    assert get(sim, "dx")[0]


@pytest.mark.parametrize("on, drug", [
    (day(2005, 6, 1), "bendroflumethiazide"),  # CG18: a thiazide first line
    (day(2008, 6, 1), "bendroflumethiazide"),  # CG34: C or D at 55 and over (the thiazide)
    (day(2012, 6, 1), "amlodipine"),    # CG127: a CCB at 55 and over
    (day(2020, 6, 1), "amlodipine"),
])
def test_first_line_at_60_follows_the_guidance_of_the_day(on, drug):
    sim = htn_sim()
    person(sim, 0, age=60, on=on, black=False)
    treatment.start_first_line(sim.hypertension, np.array([0]), on)
    assert [v[0] for v in held(sim, 0).values()] == [drug]


def test_a_thiazide_started_before_cg127_is_kept_and_new_diuretics_are_thiazide_like():
    """Bendroflumethiazide started under CG34 stays through later steps; a diuretic started after CG127
    (here first line with heart failure) is indapamide."""
    sim = htn_sim()
    person(sim, 0, age=60, on=day(2008, 6, 1), black=False)
    treatment.start_first_line(sim.hypertension, np.array([0]), day(2008, 6, 1))
    treatment.step_up(sim.hypertension, np.array([0]), day(2014, 6, 1))
    assert {k: v[0] for k, v in held(sim, 0).items()} == {"A": "ramipril", "D": "bendroflumethiazide"}
    person(sim, 1, age=60, on=day(2020, 6, 1), black=False)
    put(sim, 1, heart_failure_day=day(2019, 1, 1))
    treatment.start_first_line(sim.hypertension, np.array([1]), day(2020, 6, 1))
    assert [v[0] for v in held(sim, 1).values()] == ["indapamide"]


@pytest.mark.parametrize("on, drug", [(day(2015, 6, 1), "ramipril"), (day(2020, 6, 1), "losartan")])
def test_an_arb_for_black_people_from_ng136(on, drug):
    sim = htn_sim()
    person(sim, 0, age=60, on=on, black=True)
    put(sim, 0, known_type2=on - 100, onset_type2=on - 400)
    treatment.start_first_line(sim.hypertension, np.array([0]), on)
    assert held(sim, 0)["A"][0] == drug


def test_a_generated_practice_holds_nothing_before_it_existed(small):
    """The whole engine, 20,000 patients (the shared `small` output): no QRISK3 score before 2017, no
    NHS Health Check before April 2009, no "(NICE 2011)" stage code or ABPM/HBPM before 24 August 2011.
    Before the eras, this practice's seed held thousands of each."""
    import duckdb

    from synthgp.core import codes

    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)

    def count(keys, before):
        ids = ", ".join(str(codes.medcode(k)) for k in keys)
        return con.execute(f"SELECT count(*) FROM observation WHERE medcodeid IN ({ids}) AND obsdate < ?::DATE",
                           [before]).fetchone()[0]

    assert count(["qrisk3"], "2017-01-01") == 0
    assert count(["health_check"], "2009-04-01") == 0
    assert count(list(STAGE_CODES), "2011-08-24") == 0
    assert count(["abpm_systolic", "hbpm_systolic"], "2011-08-24") == 0
    # and what replaced them is there
    assert count(["qrisk2"], "2017-01-01") > 0 and count(["essential_hypertension"], "2011-08-24") > 0
