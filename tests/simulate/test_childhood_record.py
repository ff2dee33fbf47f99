"""Children's care in a generated practice, read back from the record: vaccinations only inside registration
(or transferred with the record), never after death, none before its programme started; coverage against COVER."""

import datetime as dt

import duckdb
import numpy as np

from synthgp.core import codes, dates, reference
from synthgp.evaluate import calibration

from tests.pathways.test_childhood import DOSES, VISITS


def _rows(out):
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    try:
        return con.execute("""
            SELECT o.patid, o.obsdate, o.enterdate, o.medcodeid, p.regstartdate, p.regenddate, p.cprd_ddate,
                   i.date_of_birth, s.jobcatid
            FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN patient p USING (patid)
            JOIN patient_identity i USING (patid) LEFT JOIN staff s ON s.staffid = o.staffid
            WHERE m.cluster IN ('IMM_DTAP', 'IMM_MENC', 'IMM_HIBMENC', 'IMM_PCV', 'IMM_ROTA', 'IMM_MENB', 'IMM_MMR')
            """).fetchall()  # the childhood programme's clusters (adults' PPV and shingles: the prevention pathway's)
    finally:
        con.close()


def test_vaccinations_inside_registration_and_programme(small):
    rows = _rows(small)
    assert len(rows) > 10_000  # 20,000 records: about 1,900 children under 6 at some time, ~15 doses each
    start = {}
    for d in DOSES:  # earliest day each code can be given by the schedule's rows
        first = max(d.due_from, d.born_from + VISITS[d.visit].age_days)
        start[codes.medcode(d.code)] = min(start.get(codes.medcode(d.code), 10**9), first)
    transferred = 0
    for patid, day, enter, medcode, reg, regend, death, dob, job in rows:
        end = min(x for x in (regend, death, dt.date(2100, 1, 1)) if x is not None)
        assert day <= end, f"patient {patid}: vaccination on {day} after leaving or death ({end})"
        assert day >= dob
        if day < reg:  # history from a previous practice, filed once registered here
            assert enter >= reg, f"patient {patid}: vaccination dated before registration and entered before it"
            transferred += 1
        assert dates.to_days(day) >= start[medcode], f"medcodeid {medcode} on {day}, before its programme started"
    assert 0 < transferred < len(rows) / 2
    # entered by a practice nurse (aurum_lookups.toml JobCat: ids follow job_keys from 1)
    nurse = reference.toml("aurum_lookups.toml")["JobCat"]["job_keys"].index("nurse") + 1
    jobs = np.array([r[8] for r in rows])
    assert (jobs == nurse).mean() > 0.99


def test_childhood_coverage_calibrates(south_west_200k):
    """A calibration: the attendance of each visit is solved from these COVER figures. 200,000 patients give a
    cohort of about 1,100 children a year (SE about 0.9 points against the 4.5-point tolerance)."""
    rows = [r for r in calibration.for_output(south_west_200k) if r.id.startswith("imm_")]
    assert len(rows) == 8
    failed = [r for r in rows if not r.passed]
    assert not failed, calibration.format_table(failed)


def test_postnatal_checks_are_womens_of_childbearing_age_by_a_gp_inside_registration(small):
    """The mother's 6-8 week check: women only, aged 15-50 at it, by a GP at a face-to-face consultation on a working
    day, inside registration and before death; about 0.6 births' worth a year per 100 women of 15-44 (ONS's general
    fertility rate of 5.6% times the 62% checked, so 2.2-4.5 in a 20,000-patient record: a wide band for its few
    hundred checks)."""
    con = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    try:
        rows = con.execute(f"""
            SELECT p.gender, date_diff('day', i.date_of_birth, o.obsdate) / 365.25, o.obsdate, p.regstartdate, p.regenddate,
                   p.cprd_ddate, s.jobcatid, c.conssourceid, c.consdate
            FROM observation o JOIN patient p USING (patid) JOIN patient_identity i USING (patid)
            JOIN consultation c ON c.consid = o.consid AND c.patid = o.patid JOIN staff s ON s.staffid = c.staffid
            WHERE o.medcodeid = {codes.medcode("postnatal_check")}""").fetchall()
        woman_years = con.execute("""
            SELECT sum(date_diff('day', greatest(p.regstartdate, i.date_of_birth + INTERVAL 15 YEAR, DATE '2015-01-01'),
                                 least(coalesce(p.regenddate, DATE '2024-12-31'), coalesce(p.cprd_ddate, DATE '2024-12-31'),
                                       i.date_of_birth + INTERVAL 45 YEAR, DATE '2024-12-31')) / 365.25)
            FROM patient p JOIN patient_identity i USING (patid) WHERE p.gender = 2
              AND least(coalesce(p.regenddate, DATE '2024-12-31'), coalesce(p.cprd_ddate, DATE '2024-12-31'),
                        i.date_of_birth + INTERVAL 45 YEAR, DATE '2024-12-31')
                  > greatest(p.regstartdate, i.date_of_birth + INTERVAL 15 YEAR, DATE '2015-01-01')""").fetchone()[0]
        gp = con.execute("SELECT jobcatid FROM lookup_JobCat WHERE description = 'General Medical Practitioner'").fetchone()[0]
    finally:
        con.close()
    assert len(rows) > 100
    recent = 0
    for gender, age, on, reg, regend, death, job, source, consdate in rows:
        assert gender == 2 and 15 <= age < 50.5
        assert reg <= on <= min(x for x in (regend, death, dt.date(2100, 1, 1)) if x is not None)
        assert job == gp and source == 1 and on == consdate and on.weekday() < 5
        recent += on >= dt.date(2015, 1, 1)
    per_100 = 100 * recent / woman_years
    assert 2.2 < per_100 < 4.5, per_100
