"""State and View: declared fields, read-only reads, no undeclared names, no rebinding."""

import numpy as np
import pytest

from synthgp.engine.state import State


def state() -> State:
    st = State(3)
    st.add("life", "dob", np.array([10, 20, 30]), "date of birth")
    st.add("life", "lst", np.array([100, 200, 300]))
    st.add("rx", "rx_units", np.zeros(3))
    st.add("htn", "dx", np.zeros(3, dtype=bool))
    return st


def test_own_and_written_fields_are_the_state_arrays_themselves():
    st = state()
    v = st.view("htn", own=["dx"], reads=["dob"], writes=["lst"])
    v.dx[1] = True
    v.lst[0] = 50
    assert st.array("dx").tolist() == [False, True, False]
    assert st.array("lst")[0] == 50
    assert np.shares_memory(v.dx, st.array("dx"))


def test_writing_a_read_field_raises_and_leaves_it_unchanged():
    st = state()
    v = st.view("htn", own=["dx"], reads=["dob", "rx_units"])
    with pytest.raises(ValueError, match="read-only"):
        v.dob[0] = 99
    with pytest.raises(ValueError, match="read-only"):
        v.rx_units += 1
    assert st.array("dob").tolist() == [10, 20, 30]
    # the owner still writes it, and the reader sees the change
    st.view("life", own=["dob"]).dob[2] = 31
    assert v.dob[2] == 31


def test_a_field_both_read_and_written_is_writable():
    st = state()
    v = st.view("kidney", own=[], reads=["lst"], writes=["lst"])
    v.lst[1] = 7
    assert st.array("lst")[1] == 7


def test_reading_an_undeclared_field_names_the_component_and_what_it_declared():
    v = state().view("health_check", own=["dx"], reads=["dob"])
    with pytest.raises(AttributeError) as e:
        v.rx_units
    msg = str(e.value)
    assert "health_check" in msg and "'rx_units'" in msg and "declared: dob, dx" in msg


def test_a_field_that_does_not_exist_is_an_attribute_error_listing_the_state():
    st = state()
    with pytest.raises(AttributeError, match="no state field 'egfr'; declared: dob, dx, lst, rx_units"):
        st.array("egfr")
    with pytest.raises(AttributeError, match="egfr"):
        st.view("kidney", own=["egfr"])
    assert "dob" in st and "egfr" not in st


@pytest.mark.parametrize("value", [np.ones(3, dtype=bool), True])
def test_rebinding_a_field_raises(value):
    st = state()
    v = st.view("htn", own=["dx"])
    with pytest.raises(AttributeError, match="never by rebinding"):
        v.dx = value
    assert not st.array("dx").any()


def test_declaring_a_field_twice_raises_naming_both_owners():
    st = state()
    with pytest.raises(ValueError, match="'dob' of conditions is already declared by life"):
        st.add("conditions", "dob", np.zeros(3))
    assert st.owner["dob"] == "life"


@pytest.mark.parametrize("values", [np.zeros(2), np.zeros((4, 2)), np.float64(1.0)])
def test_a_field_must_have_one_entry_per_patient(values):
    with pytest.raises(ValueError, match="for 3 patients"):
        State(3).add("life", "x", values)


def test_per_patient_tables_are_allowed_and_documented():
    st = State(2)
    a = st.add("rx", "rx_drug", np.full((2, 4), -1), "per slot")
    assert st.array("rx_drug") is a and st.doc["rx_drug"] == "per slot" and st.owner["rx_drug"] == "rx"
