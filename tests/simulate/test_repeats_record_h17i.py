"""h17i's long-term repeats in the shared 20,000-patient practice, read from its DuckDB file: every issue follows a
coded indication or register diagnosis, trimethoprim prophylaxis goes to women only, and fluoxetine for anxiety stops
once depression is diagnosed (the register's antidepressants take over)."""

import pytest

from synthgp.core import codes, reference

# medicine -> the indication or register diagnosis coded on or before every issue
INDICATION = {"fluoxetine": "anxiety", "mesalazine": "ulcerative_colitis", "co_beneldopa": "parkinsons_disease",
              "trimethoprim_100": "recurrent_urinary_tract_infection", "hydroxychloroquine": "rheumatoid_arthritis",
              "topiramate": "migraine", "carbamazepine": "epilepsy", "levothyroxine_25": "hypothyroidism"}


def _prods(name: str) -> str:
    return ", ".join(str(lv["prodcodeid"]) for lv in reference.toml("medicines.toml")[name]["levels"])


@pytest.mark.parametrize("drug", sorted(INDICATION))
def test_every_issue_follows_its_indication(con, drug):
    key = INDICATION[drug]
    issued, unexplained = con.execute(f"""
        WITH dx AS (SELECT patid, min(obsdate) AS first FROM observation WHERE medcodeid = {codes.medcode(key)} GROUP BY 1)
        SELECT count(*), count(*) FILTER (WHERE dx.first IS NULL OR dx.first > i.issuedate)
        FROM drug_issue i LEFT JOIN dx USING (patid) WHERE i.prodcodeid IN ({_prods(drug)})""").fetchone()
    assert issued > 0, f"no {drug} issued in 20,000 patients"
    assert unexplained == 0, f"{unexplained} of {issued} {drug} issues without a prior {key} code"


def test_trimethoprim_prophylaxis_for_women_only(con):
    sexes = dict(con.execute(f"""SELECT i.sex, count(*) FROM drug_issue d JOIN patient_identity i USING (patid)
        WHERE d.prodcodeid IN ({_prods("trimethoprim_100")}) GROUP BY 1""").fetchall())
    assert sexes.get("female", 0) > 0 and "male" not in sexes, sexes


def test_fluoxetine_for_anxiety_stops_once_depression_is_diagnosed(con):
    """The pathway reviews each person monthly, so an issue may follow a depression code within the month it was
    made in, never later."""
    late = con.execute(f"""
        WITH dx AS (SELECT o.patid, min(o.obsdate) AS first FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster = 'DEPR' GROUP BY 1)
        SELECT count(*) FROM drug_issue i JOIN dx USING (patid)
        WHERE i.prodcodeid IN ({_prods("fluoxetine")}) AND i.issuedate > dx.first + INTERVAL 62 DAY""").fetchone()[0]
    assert late == 0
