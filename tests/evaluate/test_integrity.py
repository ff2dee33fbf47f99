"""The record integrity checks (evaluate/integrity.py) each catch a fault planted in a good record."""

import shutil

import duckdb
import pytest

from synthgp.evaluate import integrity


def _con(path, read_only=True):
    return duckdb.connect(str(path / "synthgp.duckdb"), read_only=read_only)


@pytest.fixture()
def faulty(small, tmp_path):
    out = tmp_path / "faulty"
    out.mkdir()
    shutil.copy(small / "synthgp.duckdb", out)  # all the checks read (not the Aurum files or other exports)
    return out


def test_each_integrity_check_can_fail(faulty):
    con = _con(faulty, read_only=False)
    # a prescription after death
    con.execute("""INSERT INTO drug_issue SELECT i.* REPLACE (p.cprd_ddate + 20 AS issuedate, p.cprd_ddate + 20 AS enterdate,
                   i.issueid + 7 AS issueid) FROM drug_issue i JOIN patient p USING (patid)
                   WHERE p.cprd_ddate IS NOT NULL LIMIT 1""")
    # a lone systolic
    con.execute("""DELETE FROM observation WHERE obsid = (SELECT min(d.obsid) FROM observation d
                   JOIN medical_dictionary m USING (medcodeid) WHERE m.snomedctconceptid = 163031004)""")
    # an ACE inhibitor and an ARB on the same day
    con.execute("""INSERT INTO drug_issue SELECT i.* REPLACE (i.issueid + 3 AS issueid,
                   (SELECT prodcodeid FROM product_dictionary WHERE drugsubstancename = 'Losartan' LIMIT 1) AS prodcodeid)
                   FROM drug_issue i JOIN product_dictionary p USING (prodcodeid) WHERE p.drugsubstancename = 'Ramipril' LIMIT 1""")
    # spironolactone after a potassium of 5.2
    con.execute("""UPDATE observation SET value = 5.2 WHERE medcodeid = (SELECT medcodeid FROM medical_dictionary
                   WHERE snomedctconceptid = 1000651000000109) AND patid IN (SELECT patid FROM drug_issue i
                   JOIN product_dictionary p USING (prodcodeid) WHERE p.drugsubstancename = 'Spironolactone')""")
    # a code missing from the dictionary
    con.execute("UPDATE observation SET medcodeid = 999999 WHERE obsid = (SELECT max(obsid) FROM observation)")
    got = integrity.check(con)
    for name in ("prescription_outside_registration", "systolic_without_diastolic", "acei_and_arb_together",
                 "spironolactone_without_prior_potassium", "code_not_in_dictionary"):
        assert got[name] > 0, name
