"""The pandemic's disruption of routine care in the shared 20,000-patient practice's record (South West, seed 5):
reviews, Health Checks and the QOF-style hypertension figures fall in 2020-21 and recover (data/covid.toml
[disruption]); read from the DuckDB file alone."""

import datetime as dt

import pytest

from synthgp.core import codes
from synthgp.evaluate import covid

REVIEWS = ("hypertension_annual_review", "diabetes_annual_review", "asthma_annual_review", "copd_annual_review",
           "dementia_annual_review", "heart_failure_annual_review", "hypothyroidism_annual_review")


def _count(con, keys, year: int) -> int:
    """Codes of `keys` dated April to June of `year`."""
    ids = ", ".join(str(codes.medcode(k)) for k in keys)
    return con.execute(f"""SELECT count(*) FROM observation WHERE medcodeid IN ({ids})
                           AND obsdate BETWEEN DATE '{year}-04-01' AND DATE '{year}-06-30'""").fetchone()[0]


@pytest.mark.parametrize("keys", [REVIEWS, ("health_check",)], ids=["annual reviews", "health checks"])
def test_routine_care_falls_in_the_first_lockdown_and_recovers(con, keys):
    """April-June 2020 against 2019: routine_held 0.1 of those due go ahead (the deferred come back from June), so
    well under 0.4; by 2022 care is as usual again (at least 0.75 of 2019, allowing for the list's drift)."""
    before, during, after = (_count(con, keys, y) for y in (2019, 2020, 2022))
    assert before > 50
    assert during < 0.4 * before
    assert after > 0.75 * before


def test_the_qof_style_hypertension_figures_dip_and_recover(con):
    """The calibrate figures (a calibration for under 80, validations otherwise): well below 1 in February 2021
    against March 2020; between two years before the pandemic, about 1 (no dip from the measurement itself)."""
    dip = covid.disruption(con)
    assert set(dip) == {"covid_disruption_bp_recorded", "covid_disruption_controlled_under80",
                        "covid_disruption_controlled_80_plus"}
    assert dip["covid_disruption_controlled_under80"] < 0.8 and dip["covid_disruption_bp_recorded"] < 0.85
    for on in (dt.date(2018, 3, 1), dt.date(2019, 3, 1), dt.date(2022, 6, 1)):
        rows = con.execute(covid.hypertension_care_sql(on)).fetchall()
        people, recorded = sum(r[1] for r in rows), sum(r[2] for r in rows)
        assert people > 500 and recorded / people > 0.8  # before and after, most of the register has a BP in a year
