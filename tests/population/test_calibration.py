"""Populations of England (100,000 patients) and the South West (200,000) against calibration.md's figures
(tolerances in calibration.toml)."""

import datetime as dt

import numpy as np

from synthgp.core import scenario
from synthgp.evaluate import calibration
from synthgp.population import people
from synthgp.population import plan as population


def _by_id(rows):
    return {(r.id, r.part): r for r in rows}


POPULATION_FIGURES = {"age_band_share", "adult_male_share", "imd_quintile_share", "ethnicity_broad_share",
                      "aged_65_plus_share", "ethnicity_unrecorded", "crude_death_rate"}


def test_england_population_lands_on_published_figures(england_100k):
    """The population figures (the care pathway's are tested on the default scenario, simulate/test_care_calibration.py)."""
    rows = [r for r in calibration.for_output(england_100k) if r.id in POPULATION_FIGURES]
    assert {r.id for r in rows} == POPULATION_FIGURES
    failed = [r for r in rows if not r.passed]
    assert not failed, calibration.format_table(failed)


def test_south_west_is_older_and_less_diverse(south_west_200k, england_100k):
    sw = _by_id(calibration.for_output(south_west_200k))
    en = _by_id(calibration.for_output(england_100k))
    assert sw[("white_share", "")].passed and sw[("aged_65_plus_share", "")].passed
    assert sw[("aged_65_plus_share", "")].generated > en[("aged_65_plus_share", "")].generated + 0.03


def test_ethnicity_recording_gap_is_in_the_published_range(south_west_200k):
    row = _by_id(calibration.for_output(south_west_200k))[("ethnicity_unrecorded", "")]
    assert 0.10 <= row.generated <= 0.30


def test_mean_list_size_over_many_practices_is_in_the_published_range():
    plan = population.make_plan(scenario.load(), seed=1, n_patients=5_000_000)
    assert plan.n_practices > 250
    assert 9_400 <= plan.list_size.mean() <= 10_400
    assert plan.list_size.std() > 2_500  # real lists vary widely
    assert plan.n_records.sum() == 5_000_000


def test_calibration_catches_a_shifted_population(south_west_200k):
    """The check can fail: an output of the South West profile judged against England's figures."""
    rows = calibration.compare(south_west_200k / "synthgp.duckdb", "england", dt.date(2024, 12, 31), 10.0)
    failed = {(r.id, r.part) for r in rows if not r.passed}
    assert ("ethnicity_broad_share", "White") in failed
    assert any(f[0] == "age_band_share" for f in failed)


def test_practices_and_staff_are_sized_to_the_list(small):
    import duckdb

    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    rows = con.execute("""
        SELECT p.list_size, count(*) FILTER (WHERE s.jobcatid = 1) gps, count(*) FILTER (WHERE s.jobcatid = 2) nurses,
               count(*) FILTER (WHERE s.jobcatid = 5) admin
        FROM practice p JOIN staff s USING (pracid) GROUP BY p.pracid, p.list_size""").fetchall()
    for size, gps, nurses, admin in rows:
        assert 0.5 * size / 1450 <= gps <= 1.5 * size / 1450 + 1
        assert nurses >= 1 and admin >= 2
    assert all(r[0] >= 90001 for r in con.execute("SELECT pracid FROM practice").fetchall())
    # every patient's usual GP is a GP of their own practice
    bad = con.execute("""SELECT count(*) FROM patient p LEFT JOIN staff s ON s.staffid = p.usualgpstaffid
                         WHERE s.jobcatid IS DISTINCT FROM 1 OR s.pracid <> p.pracid""").fetchone()[0]
    assert bad == 0


def test_deaths_follow_age():
    """Leavers who died are much older than leavers who moved (age-specific rates, not a flat rate)."""
    plan = population.make_plan(scenario.load(), seed=4, n_patients=60_000)
    p = people.simulate_people(plan, 0, 60_000)
    died = p.death >= 0
    age_at_death = (p.death[died] - p.dob[died]) / 365.25
    moved = (p.status == people.LEAVER) & ~died
    age_moved = (p.regend[moved] - p.dob[moved]) / 365.25
    assert np.median(age_at_death) > 75
    assert np.median(age_moved) < 45
