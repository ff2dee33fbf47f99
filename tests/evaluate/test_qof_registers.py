"""QOF register indicators on hand-made patients in a DuckDB file: each indicator's numerator and denominator, the
AF indicator's CHA2DS2-VASc from the record, and prevalence over the register's ages."""

import datetime as dt

import duckdb
import pytest

from synthgp.core import codes, reference
from synthgp.evaluate import qof_registers

LCD = dt.date(2024, 12, 31)
RECENT, OLD = dt.date(2024, 11, 1), dt.date(2020, 6, 1)


def _prod(name: str) -> int:
    return reference.toml("medicines.toml")[name]["levels"][0]["prodcodeid"]


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "qof.duckdb"))
    c.execute("CREATE TABLE practice (pracid INT, name VARCHAR, lcd DATE)")
    c.execute("INSERT INTO practice VALUES (1, 'Test practice', ?)", [LCD])
    c.execute("""CREATE TABLE patient (patid BIGINT, pracid INT, regstartdate DATE, regenddate DATE, emis_ddate DATE,
                 cprd_ddate DATE, patienttypeid INT)""")
    c.execute("CREATE TABLE patient_identity (patid BIGINT, date_of_birth DATE, sex VARCHAR)")
    c.execute("""CREATE TABLE observation (patid BIGINT, obsid BIGINT, obsdate DATE, medcodeid BIGINT, value DOUBLE,
                 parentobsid BIGINT, pracid INT)""")
    c.execute("CREATE TABLE problem (patid BIGINT, obsid BIGINT, probenddate DATE)")
    c.execute("CREATE TABLE drug_issue (patid BIGINT, prodcodeid BIGINT, issuedate DATE)")
    c.execute("CREATE TABLE medical_dictionary (medcodeid BIGINT, cluster VARCHAR)")
    c.executemany("INSERT INTO medical_dictionary VALUES (?, ?)", [(x.medcodeid, x.cluster) for x in codes.table().values()])
    yield c
    c.close()


class Maker:
    def __init__(self, con):
        self.con, self.obsid = con, 0

    def person(self, patid: int, age: int, sex: str = "male", left: bool = False) -> int:
        self.con.execute("INSERT INTO patient VALUES (?, 1, DATE '2000-01-01', ?, NULL, NULL, 3)",
                         [patid, dt.date(2023, 1, 1) if left else None])
        self.con.execute("INSERT INTO patient_identity VALUES (?, ?, ?)", [patid, dt.date(LCD.year - age, 1, 1), sex])
        return patid

    def code(self, patid: int, key: str, day=OLD, value=None) -> None:
        self.obsid += 1
        self.con.execute("INSERT INTO observation VALUES (?, ?, ?, ?, ?, NULL, 1)", [patid, self.obsid, day, codes.medcode(key), value])

    def issue(self, patid: int, drug: str, day=RECENT) -> None:
        self.con.execute("INSERT INTO drug_issue VALUES (?, ?, ?)", [patid, _prod(drug), day])


def _row(con, register):
    return next(r for r in qof_registers.by_practice(con)[1] if r["register"] == register)


def test_diabetes_hba1c_in_the_last_year_at_or_below_58(con):
    m = Maker(con)
    for p, (hba1c, day) in enumerate([(50, RECENT), (58, RECENT), (59, RECENT), (45, OLD)], start=1):
        m.person(p, 60)
        m.code(p, "type2_diabetes")
        m.code(p, "hba1c", day, hba1c)
    m.person(9, 60)  # not diabetic
    m.code(9, "hba1c", RECENT, 40)
    r = _row(con, "diabetes")
    assert (r["indicator"], r["num"], r["den"], r["count"], r["list"]) == ("DM020", 2, 4, 4, 5)


def test_af_anticoagulation_counts_only_chads_vasc_2_or_more(con):
    m = Maker(con)
    m.person(1, 50)  # score 0: left out
    m.person(2, 70, "female")  # age 65-74 (1) + female (1) = 2, anticoagulated
    m.issue(2, "apixaban")
    m.person(3, 80)  # 75+ (2), warfarin issued two years ago only: not treated now
    m.issue(3, "warfarin", OLD)
    m.person(4, 50)  # stroke (2), treated
    m.code(4, "stroke")
    m.issue(4, "warfarin")
    for p in (1, 2, 3, 4):
        m.code(p, "atrial_fibrillation")
    r = _row(con, "af")
    assert (r["indicator"], r["num"], r["den"], r["count"]) == ("AF007", 2, 3, 4)


def test_chd_statin_stroke_antiplatelet_and_reviews(con):
    m = Maker(con)
    m.person(1, 70)
    m.code(1, "angina")
    m.issue(1, "atorvastatin")
    m.person(2, 70)
    m.code(2, "myocardial_infarction")
    m.issue(2, "atorvastatin", OLD)
    m.person(3, 70)
    m.code(3, "tia")
    m.issue(3, "aspirin")
    m.person(4, 30)
    m.code(4, "asthma")
    m.code(4, "asthma_annual_review", RECENT)
    m.person(5, 30)
    m.code(5, "asthma")
    m.code(5, "asthma_annual_review", OLD)
    m.person(6, 30, left=True)  # left the practice: on no list
    m.code(6, "asthma")
    chd, stroke, asthma = _row(con, "chd"), _row(con, "stroke_tia"), _row(con, "asthma")
    assert (chd["num"], chd["den"]) == (1, 2) and (stroke["num"], stroke["den"]) == (1, 1)
    assert (asthma["indicator"], asthma["num"], asthma["den"], asthma["list"]) == ("AST007", 1, 2, 5)


def test_prevalence_uses_the_registers_age_floor(con):
    m = Maker(con)
    m.person(1, 60)
    m.code(1, "ckd_stage3")
    m.person(2, 10)  # a child counts in the list, not in CKD's 18+ denominator
    m.person(3, 40)
    r = _row(con, "ckd")
    assert (r["count"], r["list"], r["prevalence"]) == (1, 2, 0.5)
    assert _row(con, "asthma")["list"] == 3


def test_every_register_shows_an_indicator_or_says_why_not(con):
    """The dashboard and report cover every register: each has an indicator or a note (evaluate/qof_registers.py)."""
    Maker(con).person(1, 60)
    rows = qof_registers.by_practice(con)[1]
    assert [r["register"] for r in rows] == list(qof_registers.ROWS)
    for r in rows:
        assert r["indicator"] or r["what"], r["register"]


def test_pad_statin_osteoporosis_bone_agent_smi_bp(con):
    m = Maker(con)
    m.person(1, 70)
    m.code(1, "peripheral_arterial_disease")
    m.issue(1, "atorvastatin")
    m.person(2, 70)
    m.code(2, "peripheral_arterial_disease")
    m.person(3, 70, "female")
    m.code(3, "osteoporosis")
    m.issue(3, "alendronic_acid")
    m.person(4, 45, "female")  # under QOF's 50: not in the denominator
    m.code(4, "osteoporosis")
    m.person(5, 40)
    m.code(5, "schizophrenia")
    m.code(5, "bp_systolic", RECENT, 130)
    m.person(6, 40)
    m.code(6, "schizophrenia")
    m.code(6, "bp_systolic", OLD, 130)
    m.person(7, 40)  # clopidogrel alone after a stroke: an antiplatelet (P2Y12 inhibitor) for STIA007
    m.code(7, "stroke")
    m.issue(7, "clopidogrel")
    pad, ost, smi, stia = _row(con, "pad"), _row(con, "osteoporosis"), _row(con, "smi"), _row(con, "stroke_tia")
    assert (pad["indicator"], pad["num"], pad["den"]) == ("CHOL003", 1, 2)
    assert (ost["indicator"], ost["num"], ost["den"]) == ("OST", 1, 1)
    assert (smi["indicator"], smi["num"], smi["den"]) == ("MH003", 1, 2)
    assert (stia["num"], stia["den"]) == (1, 1)


def test_cancer_care_review_within_a_year_of_a_recent_diagnosis(con):
    m = Maker(con)
    recent = dt.date(2024, 1, 10)
    m.person(1, 60)
    m.code(1, "cancer_breast", recent)
    m.code(1, "cancer_care_review", dt.date(2024, 6, 1))
    m.person(2, 60)
    m.code(2, "cancer_colon", dt.date(2023, 3, 1))
    m.code(2, "cancer_care_review", dt.date(2024, 6, 1))  # more than 12 months after: not met
    m.person(3, 60)
    m.code(3, "cancer_lung", OLD)  # diagnosed over 24 months ago: not in the denominator
    r = _row(con, "cancer")
    assert (r["indicator"], r["num"], r["den"], r["count"]) == ("CAN004", 1, 2, 3)


def test_doac_share_of_anticoagulant_issues_by_year(con):
    """evaluate/registers.py doac_share: DOAC issues over DOAC and warfarin issues, each calendar year (the
    calibrate validation against Ho et al. 2020); other drugs do not count."""
    from synthgp.evaluate import registers

    m = Maker(con)
    m.person(1, 70)
    for d in (dt.date(2014, 3, 1), dt.date(2014, 4, 1), dt.date(2014, 5, 1)):
        m.issue(1, "warfarin", d)
    m.issue(1, "apixaban", dt.date(2014, 6, 1))
    m.issue(1, "apixaban", dt.date(2019, 6, 1))
    m.issue(1, "atorvastatin", dt.date(2019, 6, 1))
    assert registers.doac_share(con) == {"2014": 0.25, "2019": 1.0}


def test_obesity_register_is_adults_whose_latest_bmi_in_12_months_is_30_or_more(con):
    """QOF OB002 from the record's BMI values: aged 18+, latest BMI in the 12 months to the date >= 30."""
    from synthgp.evaluate import registers

    m = Maker(con)
    m.person(1, 40)
    m.code(1, "bmi", RECENT, 32.0)  # on
    m.person(2, 40)
    m.code(2, "bmi", dt.date(2024, 3, 1), 33.0)
    m.code(2, "bmi", RECENT, 28.5)  # the latest is under 30: off
    m.person(3, 40)
    m.code(3, "bmi", OLD, 35.0)  # not in the last 12 months: off
    m.person(4, 17)
    m.code(4, "bmi", RECENT, 31.0)  # under 18: in neither count
    m.person(5, 70)
    m.code(5, "bmi", dt.date(2024, 1, 2), 30.0)  # exactly 30, within 12 months: on
    m.person(6, 40, left=True)
    m.code(6, "bmi", RECENT, 40.0)  # on no list
    m.person(7, 40)  # no BMI: in the denominator only
    m.person(8, 40)
    m.code(8, "bmi", dt.date(2022, 6, 1), 31.0)  # on 31 March 2023, not at the end
    r = _row(con, "obesity")
    assert (r["count"], r["list"], r["indicator"]) == (2, 6, None) and r["what"].startswith("OB002")
    assert registers.prevalence(con)["obesity"] == pytest.approx(2 / 6)
    # on 31 March 2023 (QOF 2022-23): person 8 only, of 6 adults (3's BMI of June 2020 is too old; 6 had left)
    assert registers.obesity(con, "2023-03-31") == pytest.approx(1 / 6)
    # 2016-17 is left out: the record's first observation (June 2020) leaves no 12 months before 31 March 2017
    assert registers.obesity_by_year(con) == {"2022-23": pytest.approx(1 / 6)}
    with pytest.raises(ValueError):
        registers.obesity(con, "2023-02-30")
