"""The generated record end to end (the shared 20,000-patient practice): record invariants, NG136
conformance of new starts, the truth kept apart from the record, ids."""

import duckdb

from synthgp.core import codes
from synthgp.evaluate import integrity


def _con(path, read_only=True):
    return duckdb.connect(str(path / "synthgp.duckdb"), read_only=read_only)


def test_generated_record_keeps_every_invariant(small):
    assert integrity.check(_con(small)) == {k: 0 for k in integrity.CHECKS}


def test_the_record_is_rich_enough_to_check(small):
    con = _con(small)
    n = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert n("SELECT count(*) FROM drug_issue") > 10_000
    assert n("SELECT count(DISTINCT prodcodeid) FROM drug_issue") >= 8
    assert n("SELECT count(*) FROM referral") > 0
    assert n("""SELECT count(*) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                WHERE m.snomedctconceptid = 314446007""") > 50  # ABPM
    assert n("""SELECT count(*) FROM drug_issue i JOIN product_dictionary p USING (prodcodeid)
                WHERE p.drugsubstancename = 'Spironolactone'""") > 0
    qrisk = con.execute("""SELECT min(value), max(value) FROM observation o JOIN medical_dictionary m USING (medcodeid)
                           WHERE m.snomedctconceptid = 1085871000000105""").fetchone()
    assert 0 <= qrisk[0] and qrisk[1] <= 100


def test_first_line_drugs_follow_ng136(small):
    """Every new start recorded in the truth since NG136 (28 August 2019; the eras before it: tests/pathways/
    test_eras.py) follows 1.4.32-1.4.37 given age, family origin and diabetes (type 1: an ACEi/ARB, NG17)."""
    con = _con(small)
    rows = con.execute(f"""
        SELECT d.drug, date_diff('day', t.date_of_birth, d.date) / 365.25 AS age, t.ethnicity_broad = 'Black' AS black,
               EXISTS (SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
                       WHERE o.patid = d.patid AND m.snomedctconceptid = 44054006 AND o.obsdate <= d.date)
               OR EXISTS (SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
                          WHERE o.patid = d.patid AND m.snomedctconceptid = {codes.snomed("type1_diabetes")}) AS dm
        FROM decision_truth d JOIN person_truth t USING (patid)
        WHERE d.decision = 'start' AND d.rule LIKE '1.4.32%' AND d.date >= DATE '2019-08-28'""").fetchall()
    assert len(rows) > 100
    for drug, age, black, t2dm in rows:
        if t2dm or (age < 55 and not black):
            assert drug in ("ramipril", "losartan"), (drug, age, black, t2dm)
            assert drug == "losartan" or not black
        else:
            assert drug in ("amlodipine", "indapamide"), (drug, age, black, t2dm)


def test_truth_is_apart_from_the_record(small):
    for f in (small / "aurum").rglob("*.txt"):
        header = f.read_text().split("\n", 1)[0]
        for truth_col in ("usual_sbp", "adherence", "true_hypertension_onset", "ethnicity"):
            assert truth_col not in header


def test_ids_of_different_tables_never_coincide(small):
    con = _con(small)
    clash = con.execute("""SELECT (SELECT count(*) FROM observation o JOIN drug_issue i ON i.issueid = o.obsid)
                                + (SELECT count(*) FROM observation o JOIN consultation c ON c.consid = o.obsid)
                                + (SELECT count(*) FROM consultation c JOIN drug_issue i ON i.issueid = c.consid)""").fetchone()[0]
    assert clash == 0
    assert con.execute("SELECT count(*) FROM drug_issue WHERE probobsid IS NOT NULL").fetchone()[0] > 0
