"""The cardiovascular repeats added for England's 2019 volume (h17h): anticoagulation after a venous thromboembolism
and a loop diuretic for oedema start at a consultation coding their indication; the angina medicines and ezetimibe follow
the CHD register; no anticoagulant beside another, no oedema furosemide on the heart failure register, no diltiazem
while an antihypertensive slot holds a calcium-channel blocker or beta-blocker (each stops when the other starts), no
flecainide beside CHD or heart failure."""

import numpy as np
import pytest

from synthgp.engine.services.prescribing import SLOTS
from synthgp.pathways.registers.onset import NEVER
from synthgp.pathways.repeats import Medicine

from tests.engine.build import day, emitted, get, make_sim, month_at, person, put
from tests.pathways.test_repeats_more import _diagnosed, _only, _review

ON = day(2019, 3, 4)
NEXT = day(2019, 4, 1)


@pytest.mark.parametrize("drug", ["isosorbide_mononitrate_mr", "nicorandil", "diltiazem_mr", "ezetimibe"])
def test_a_chd_medicine_follows_the_diagnosis_and_codes_nothing(drug):
    sim = make_sim(n=50)
    pos = np.arange(3)
    person(sim, pos, age=70, on=ON, male=True)
    _only(sim, pos, drug)
    _diagnosed(sim, pos, "chd", [ON - 500, ON + 500, NEVER])  # diagnosed, not yet, never
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, drug, np.full(3, ON + 1)).tolist() == [True, False, False]
    assert not emitted(sim, "obs", pos=pos)["pat"].size


def _slots(sim, pos, **drugs):
    held = get(sim, "rx_drug")[pos].copy()
    for slot, name in drugs.items():
        held[:, SLOTS.index(slot)] = sim.rx.meds.index[name]
    put(sim, pos, rx_drug=held)


def test_diltiazem_never_beside_a_calcium_channel_blocker_or_beta_blocker_and_stops_when_one_starts():
    sim = make_sim(n=50)
    pos = np.arange(4)
    person(sim, pos, age=70, on=ON, male=True)
    _only(sim, pos, "diltiazem_mr")
    _diagnosed(sim, pos, "chd", ON - 500)
    _slots(sim, pos[1:2], C="amlodipine")
    _slots(sim, pos[2:3], S="bisoprolol")
    _slots(sim, pos[3:4], A="ramipril")  # an ACE inhibitor does not stop it
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, "diltiazem_mr", np.full(4, ON + 7)).tolist() == [True, False, False, True]
    _slots(sim, pos[:1], S="bisoprolol")  # a beta-blocker starts: diltiazem stops from the next month
    sim.repeats.review(sim, month_at(sim, NEXT, act=pos))
    assert sim.rx.on_regular(pos, "diltiazem_mr", np.full(4, NEXT + 7)).tolist() == [False, False, False, True]


def test_no_anticoagulant_for_a_thromboembolism_beside_the_af_one_and_it_stops_when_that_starts():
    sim = make_sim(n=50)
    pos = np.arange(3)
    person(sim, pos, age=75, on=ON, male=False)
    _only(sim, pos, "rivaroxaban")
    sim.rx.start_regular(pos[:1], "apixaban", np.array([ON - 60]))
    sim.rx.start_regular(pos[1:2], "warfarin", np.array([ON - 60]))
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, "rivaroxaban", np.full(3, ON + 7)).tolist() == [False, False, True]
    sim.rx.start_regular(pos[2:], "apixaban", np.array([ON + 10]))  # AF found later: its DOAC replaces this one
    sim.repeats.review(sim, month_at(sim, NEXT, act=pos))
    assert not sim.rx.on_regular(pos, "rivaroxaban", np.full(3, NEXT + 7)).any()


def test_warfarin_for_a_thromboembolism_gives_way_to_the_doacs_by_2020():
    sim = make_sim(n=50)
    pos = np.arange(1)
    person(sim, pos, age=75, on=day(2021, 3, 1), male=False)
    _only(sim, pos, "warfarin_3mg")
    _review(sim, pos, day(2021, 3, 1))
    assert not sim.rx.on_regular(pos, "warfarin_3mg", np.array([day(2021, 3, 8)])).any()
    person(sim, pos, age=75, on=ON, male=False)
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, "warfarin_3mg", np.array([ON + 7])).all()


def test_oedema_furosemide_never_on_the_heart_failure_register_and_stops_at_its_diagnosis():
    sim = make_sim(n=50)
    pos = np.arange(2)
    person(sim, pos, age=85, on=ON, male=False)
    _only(sim, pos, "furosemide_20")
    _diagnosed(sim, pos, "heart_failure", [ON - 500, NEVER])
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, "furosemide_20", np.full(2, ON + 7)).tolist() == [False, True]
    _diagnosed(sim, pos, "heart_failure", [ON - 500, ON + 20])  # diagnosed: its own furosemide 40 mg follows
    sim.repeats.review(sim, month_at(sim, NEXT, act=pos))
    assert not sim.rx.on_regular(pos, "furosemide_20", np.full(2, NEXT + 7)).any()


def test_an_unknown_slot_fails_clearly():
    spec = {"female": [0.1] * 9, "male": [0.1] * 9, "register": "chd", "not_with_slots": ["C", "X"]}
    with pytest.raises(ValueError, match="not_with_slots"):
        Medicine("diltiazem_mr", spec, np.arange(18.0, 90.0, 8.0), ["chd"])


def test_flecainide_only_on_the_af_register_without_chd_or_heart_failure():
    sim = make_sim(n=50)
    pos = np.arange(4)
    person(sim, pos, age=70, on=ON, male=True)
    _only(sim, pos, "flecainide")
    known = get(sim, "reg_known")[pos].copy()
    regs = sim.repeats.registers
    known[:, regs.index("af")] = [ON - 500, ON - 500, ON - 500, NEVER]
    known[1, regs.index("chd")] = ON - 100
    known[2, regs.index("heart_failure")] = ON - 100
    put(sim, pos, reg_known=known)
    _review(sim, pos, ON)
    assert sim.rx.on_regular(pos, "flecainide", np.full(4, ON + 1)).tolist() == [True, False, False, False]
