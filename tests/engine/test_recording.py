"""Recording and the event log: what is kept, in what order, and with which ids."""

import numpy as np
import pytest

from synthgp.core import codes, dates
from synthgp.core.ids import PATID_MULT
from synthgp.record.log import BP_DIASTOLIC, BP_SYSTOLIC, PLAIN, EventLog

from tests.engine.build import emitted, finish, make_sim

PRACID = np.array([20001, 20002, 20001])
PATID = np.array([1, 2, 3]) * PATID_MULT + PRACID


def log3() -> EventLog:
    """Three patients in the record on days 100-200, 0-50 and 300-300."""
    return EventLog(np.array([100, 0, 300]), np.array([200, 50, 300]))


def test_rows_outside_a_patients_time_are_dropped_at_finish():
    log = log3()
    pat = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    day = np.array([99, 100, 200, 201, 0, 51, 299, 300, 301])
    log.observation(pat, day, 5)
    log.consultation(pat, day, 7, 1)
    log.issue(pat, day, 7, 2001, 28.0, 1, 28, 1.0, 0, "OD1")
    fin = log.finish(PATID, PRACID)
    for t in (fin.obs, fin.cons, fin.issue):
        assert list(zip(t["pat"], t["day"])) == [(0, 100), (0, 200), (1, 0), (2, 300)]
    # the map from emission key to obsid marks the dropped ones
    assert (fin.obs_map == -1).tolist() == [True, False, False, True, False, True, True, False, True]


def test_a_death_moving_last_day_earlier_drops_what_follows():
    log = log3()
    log.observation(np.array([0, 0]), np.array([150, 160]), 5)
    log.last_day[0] = 155
    assert log.finish(PATID, PRACID).obs["day"].tolist() == [150]


def test_blood_pressure_pair_diastolic_has_the_systolic_as_parent():
    log = log3()
    log.observation(np.array([0]), np.array([120]), 5)  # a plain row before, same patient and day
    log.blood_pressure(np.array([0, 2]), np.array([120, 300]), np.array([150.0, 128.0]), np.array([95.0, 80.0]),
                       np.array([-1, -1]), (11, 12), unit=3, obstype=4)
    o = log.finish(PATID, PRACID).obs
    assert o["kind"].tolist() == [PLAIN, BP_SYSTOLIC, BP_DIASTOLIC, BP_SYSTOLIC, BP_DIASTOLIC]
    assert o["medcode"].tolist() == [5, 11, 12, 11, 12] and o["value"][1:].tolist() == [150, 95, 128, 80]
    assert o["parentobsid"].tolist() == [-1, -1, o["obsid"][1], -1, o["obsid"][3]]
    assert (o["unit"][1:] == 3).all() and (o["obstype"][1:] == 4).all()


def emit(log: EventLog, batches: list[np.ndarray]) -> None:
    """The same rows (patient, day, code) emitted batch by batch, with a consultation for each."""
    for b in batches:
        pat, day, code = b[:, 0], b[:, 1], b[:, 2]
        cons = log.consultation(pat, day, 9 * PATID_MULT + PRACID[pat], 1)
        log.observation(pat, day, code, cons=cons, value=code * 1.5)
        log.issue(pat, day, 7, code, 28.0, 1, 28, 1.0, pat * 10 + code % 2, "OD1")


ROWS = np.array([[0, 150, 1], [2, 300, 2], [0, 120, 3], [1, 10, 4], [0, 150, 5], [1, 10, 6], [0, 110, 7]])


@pytest.mark.parametrize("batches", [[ROWS[:3], ROWS[3:]], [ROWS[i:i + 1] for i in range(len(ROWS))],
                                     [ROWS[:0], ROWS[:5], ROWS[5:]]])
def test_ids_do_not_depend_on_the_batching(batches):
    one, many = log3(), log3()
    emit(one, [ROWS])
    emit(many, batches)
    a, b = one.finish(PATID, PRACID), many.finish(PATID, PRACID)
    for t in ("cons", "obs", "issue"):
        for k, v in getattr(a, t).items():
            assert np.array_equal(v, getattr(b, t)[k], equal_nan=v.dtype.kind == "f"), (t, k)


def test_ids_do_not_depend_on_the_order_patients_are_emitted_in():
    one, other = log3(), log3()
    emit(one, [ROWS])
    by_patient = ROWS[np.argsort(-ROWS[:, 0], kind="stable")]  # patients in reverse, each one's rows in order
    emit(other, [by_patient])
    a, b = one.finish(PATID, PRACID), other.finish(PATID, PRACID)
    ia, ib = np.argsort(a.obs["obsid"]), np.argsort(b.obs["obsid"])
    assert np.array_equal(a.obs["obsid"][ia], b.obs["obsid"][ib]) and np.array_equal(a.obs["medcode"][ia], b.obs["medcode"][ib])


def test_ids_follow_patient_and_day_keeping_emission_order_within_a_day_and_are_unique():
    log = log3()
    emit(log, [ROWS])
    f = log.finish(PATID, PRACID)
    o = f.obs
    # rows come back as emitted; their ids order them by patient, then day, then emission
    assert list(o["medcode"]) == list(ROWS[:, 2])
    by_id = np.argsort(o["obsid"])
    assert list(zip(o["pat"][by_id], o["day"][by_id], o["medcode"][by_id])) == [
        (0, 110, 7), (0, 120, 3), (0, 150, 1), (0, 150, 5), (1, 10, 4), (1, 10, 6), (2, 300, 2)]
    # each observation points at the consultation emitted with it
    c = f.cons
    assert np.array_equal(o["consid"], c["consid"]) and np.array_equal(o["day"], c["day"])
    ids = np.concatenate([c["consid"], o["obsid"], f.issue["issueid"]])
    assert len(np.unique(ids)) == len(ids)  # unique across the three tables too
    assert (ids % PATID_MULT == np.tile(PRACID[o["pat"]], 3)).all()
    # a course's drug record id is the id of its first issue (the lowest: ids follow day order)
    i = f.issue
    for course in np.unique(i["course"]):
        sel = i["course"] == course
        assert (i["drugrecid"][sel] == i["issueid"][sel].min()).all()


def test_a_batch_may_give_one_value_for_all_rows():
    log = log3()
    log.observation(np.array([0, 0]), np.array([120, 130]), np.array([5, 6]), unit=9, value=np.array([1.0, 2.0]))
    log.observation(np.array([0]), np.array([140]), 7, unit=np.array([8]))
    o = log.finish(PATID, PRACID).obs
    assert o["unit"].tolist() == [9, 9, 8] and o["medcode"].tolist() == [5, 6, 7]
    assert np.isnan(o["low"]).all() and o["cons"].tolist() == [-1, -1, -1] and o["consid"].tolist() == [-1, -1, -1]


def test_enter_delay_dates_the_entry():
    log = log3()
    log.observation(np.array([0, 0]), np.array([120, 130]), 5, enter_delay=np.array([0, 3]))
    o = log.finish(PATID, PRACID).obs
    assert (o["enter"] - o["day"]).tolist() == [0, 3]


# ---------------------------------------------------------------- the recording service

def test_recording_writes_by_simulated_position_with_named_codes():
    sim = make_sim()
    rec, pos = sim.record, np.array([4, 9])
    rec.diagnosis(pos, np.array([sim.study_start, sim.study_start + 1]), rec.code("hypertension_stage1"))
    raw = sim.log._obs
    assert raw.column("pat").tolist() == sim.P[pos].tolist()  # the log holds block indices
    rows = emitted(sim, "obs", code="hypertension_stage1")
    assert rows["pat"].tolist() == [4, 9]
    assert (rows["problem"] == 1).all() and (rows["obstype"] == rec.obstype("Diagnosis")).all()
    assert rec.codes("bp_systolic", "bmi").tolist() == [codes.medcode("bp_systolic"), codes.medcode("bmi")]


@pytest.mark.parametrize("kind, sys_code, dia_code", [("clinic", "bp_systolic", "bp_diastolic"),
                                                      ("abpm", "abpm_systolic", "abpm_diastolic"),
                                                      ("hbpm", "hbpm_systolic", "hbpm_diastolic")])
def test_recording_blood_pressure_kinds(kind, sys_code, dia_code):
    sim = make_sim()
    rec = sim.record
    rec.blood_pressure(np.array([3]), np.array([sim.study_start]), np.array([141.0]), np.array([92.0]), np.array([-1]), kind)
    o = finish(sim).obs
    assert o["medcode"].tolist() == [codes.medcode(sys_code), codes.medcode(dia_code)]
    assert o["value"].tolist() == [141.0, 92.0] and o["parentobsid"][1] == o["obsid"][0]
    assert (o["unit"] == rec.unit("mmHg")).all() and o["pat"].tolist() == [sim.P[3]] * 2


def test_the_record_keeps_nothing_before_registration_for_a_real_patient():
    sim = make_sim()
    pos = int(np.argmax(sim.people.regstart[sim.P] > sim.start))  # someone who joined during the burn-in or study
    first = sim.log.first_day[sim.P[pos]]
    sim.record.observation(np.array([pos, pos]), np.array([first - 1, first]), sim.record.code("bmi"))
    o = finish(sim, keep_all=False).obs
    assert o["day"][o["pat"] == sim.P[pos]].tolist() == [first]


def test_a_problem_ends_at_the_first_end_of_its_code_on_or_after_it():
    log = EventLog(np.zeros(3, dtype=np.int64), np.full(3, 1000, dtype=np.int64))
    a, b = 11, 22  # two codes
    log.observation(np.array([0, 0, 1, 2]), np.array([100, 100, 100, 100]), np.array([a, b, a, a]), problem=1)
    log.observation(np.array([0]), np.array([50]), np.array([a]))  # not a problem: never ended
    log.end_problem(np.array([0, 0, 1, 2, 2]), np.array([90, 300, 100, 2000, 400]), np.array([a, a, b, a, a]))
    log.end_problem(np.array([0]), np.array([200]), np.array([a]))
    o = log.finish(np.arange(3) * 100_000 + 7, np.full(3, 7)).obs
    got = {(int(p), int(m), int(d)): int(e) for p, m, d, e, pr in zip(o["pat"], o["medcode"], o["day"], o["probend"], o["problem"]) if pr}
    # patient 0: the end before the problem is ignored, the first after wins; code b has no end; patient 1's end is of
    # another code; patient 2's first end falls after their last day, so the next one (day 400) counts
    assert got == {(0, a, 100): 200, (0, b, 100): dates.NONE, (1, a, 100): dates.NONE, (2, a, 100): 400}
