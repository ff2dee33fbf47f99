"""Records a GP would believe (issue 16): names that follow sex, ethnicity and birth cohort, addresses in the
practice's catchment, no registration before the NHS, and ethnicity codes dated when they could be recorded.

Checked on the registered population of a 20,000-patient practice (seed 17, the issue's figures), generated
once for this module without care pathways (names, addresses, registration and the ethnicity code come from
the population alone)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from synthgp.core import reference, scenario
from synthgp.simulate import run as engine

# Surnames of South Asian (Indian, Pakistani, Bangladeshi) families: the 50 leading "new immigrant" surnames of
# the 1998 electoral roll that Tucker (Nomina 27, 2004, table 8) marks Indian, Muslim or Sikh.
SOUTH_ASIAN = {"Patel", "Begum", "Khan", "Singh", "Hussain", "Ali", "Kaur", "Ahmed", "Shah", "Akhtar", "Bibi", "Miah",
               "Mistry", "Rahman", "Iqbal", "Mohammed", "Mahmood", "Malik", "Sharma", "Uddin", "Ahmad", "Hassan",
               "Parmar", "Rashid", "Choudhury", "Islam", "Kumar", "Chauhan", "Chowdhury", "Aslam", "Parveen", "Bashir",
               "Sheikh", "Ullah", "Johal", "Sidhu", "Aziz", "Zaman", "Joshi", "Bhatti"}
FEMALE_ONLY = {"Begum", "Bibi", "Kaur", "Parveen"}  # honorifics or names borne by women (Tucker 2004)


@pytest.fixture(scope="module")
def con(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    out = tmp_path_factory.mktemp("believable") / "out"
    engine.generate(scenario.build({}), engine.RunOptions(n_patients=20_000, seed=17, out=out, progress=False,
                                                          formats=("duckdb",), care=False))
    return duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)


def _one(con, sql: str):
    return con.execute(sql).fetchone()


def test_no_registration_before_the_nhs(con):
    n, first = _one(con, "SELECT count(*) FILTER (WHERE regstartdate < DATE '1948-07-05'), min(regstartdate) FROM patient")
    assert n == 0, f"{n} registrations before 5 July 1948, the first on {first}"
    assert first == dt.date(1948, 7, 5)  # those registered since birth before the NHS are dated on its first day


def test_census_2011_ethnicity_codes_not_dated_before_the_census(con):
    n, first = _one(con, """SELECT count(*) FILTER (WHERE o.obsdate < DATE '2011-03-27'), min(o.obsdate)
        FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'ETH'""")
    assert n == 0, f"{n} 2011-census ethnicity codes dated before census day, the first {first}"
    # and none before registration: the code is recorded by this practice
    assert _one(con, """SELECT count(*) FROM observation o JOIN medical_dictionary m USING (medcodeid)
        JOIN patient p USING (patid) WHERE m.cluster = 'ETH' AND o.obsdate < p.regstartdate""")[0] == 0


def test_addresses_lie_in_the_practice_catchment(con):
    """Everyone lives in their practice's postcode district (population.toml [catchment])."""
    n, away = _one(con, """SELECT count(*), count(*) FILTER (WHERE split_part(i.postcode, ' ', 1) <> split_part(pr.postcode, ' ', 1))
        FROM patient_identity i JOIN patient p USING (patid) JOIN practice pr USING (pracid)""")
    assert n == 20_000 and away == 0, f"{away} of {n} patients live outside their practice's postcode district"
    assert _one(con, """SELECT count(*) FROM patient_identity i JOIN patient p USING (patid) JOIN practice pr USING (pracid)
        WHERE i.town <> pr.town""")[0] == 0


def test_surnames_follow_ethnicity_and_sex(con):
    rows = con.execute("""SELECT t.ethnicity, i.family_name, i.sex FROM patient_identity i JOIN person_truth t USING (patid)""").fetchall()
    white_british_sa = sum(1 for e, f, _ in rows if e == "white_british" and f in SOUTH_ASIAN)
    assert white_british_sa == 0, f"{white_british_sa} White British patients with South Asian surnames"
    men_female_only = [(f, e) for e, f, s in rows if s == "male" and f in FEMALE_ONLY]
    assert not men_female_only, men_female_only[:5]
    # the South Asian groups do carry their own surnames
    sa = [f for e, f, _ in rows if e in ("asian_indian", "asian_pakistani", "asian_bangladeshi")]
    assert len(sa) > 100 and sum(f in SOUTH_ASIAN for f in sa) / len(sa) > 0.8


def _ons_lists() -> dict[tuple[int, str], set[str]]:
    path = Path(reference.__file__).parent.parent / "data" / "given_names.csv"
    out: dict[tuple[int, str], set[str]] = {}
    with open(path) as fh:
        for r in csv.DictReader(line for line in fh if not line.startswith("#")):
            out.setdefault((int(r["year"]), r["sex"]), set()).add(r["name"].title())
    return out


def test_given_names_follow_birth_cohort(con):
    """White British patients (named from the ONS lists: names.toml) carry a name from ONS's top 100 of a list year at most ten years from their birth year
    (the lists are ten years apart; a name comes from the list either side of the birth), and none born
    before 1950 carries a name first in the top 100 from 1984 on (a Kayleigh born in 1928)."""
    lists = _ons_lists()
    years = sorted({y for y, _ in lists})
    rows = con.execute("""SELECT i.given_name, i.sex, year(i.date_of_birth) FROM patient_identity i JOIN person_truth t USING (patid)
        WHERE t.ethnicity = 'white_british'""").fetchall()
    assert len(rows) > 15_000
    off = []
    for name, sex, yob in rows:
        s = "M" if sex == "male" else "F"
        near = [y for y in years if abs(y - yob) <= 10 or (yob < years[0] and y == years[0]) or (yob > years[-1] and y == years[-1])]
        if not any(name in lists[(y, s)] for y in near):
            off.append((name, sex, yob))
    assert not off, f"{len(off)} White British given names outside their cohort's lists, e.g. {off[:5]}"
    modern = {(n, s) for (y, s), names in lists.items() if y >= 1984 for n in names} - \
        {(n, s) for (y, s), names in lists.items() if y <= 1954 for n in names}
    old = [(name, sex) for name, sex, yob in rows if yob < 1950]
    bad = [r for r in old if (r[0], "M" if r[1] == "male" else "F") in modern]
    assert len(old) > 1000 and not bad, f"{len(bad)} born before 1950 with a name of the 1980s on: {bad[:5]}"


def test_given_names_follow_sex(con):
    lists = _ons_lists()
    male = set().union(*(v for (y, s), v in lists.items() if s == "M"))
    female = set().union(*(v for (y, s), v in lists.items() if s == "F"))
    rows = con.execute("""SELECT i.given_name, i.sex FROM patient_identity i JOIN person_truth t USING (patid)
        WHERE t.ethnicity = 'white_british'""").fetchall()
    wrong = [r for r in rows if (r[1] == "male" and r[0] in female - male) or (r[1] == "female" and r[0] in male - female)]
    assert not wrong, wrong[:5]
