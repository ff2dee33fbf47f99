"""Long-term repeats (pathways/repeats.py) in the shared 20,000-patient practice, read from its DuckDB file: each
repeat follows its coded indication, the pills and HRT go to women of the age, trimethoprim prophylaxis to women only,
fluoxetine for anxiety stops once depression is diagnosed, the stoma bag reaches about the published share of the list,
and the record carries the shares of data/repeats.toml (a check of the pathway against its own input, not a
validation)."""

import datetime as dt

import numpy as np
import pytest

from synthgp.core import codes, reference

# medicine -> the indication coded on or before every issue, and which issues (SQL on drug_issue i) are repeats
INDICATION = {"omeprazole": ("dyspepsia", "TRUE"),  # the acute item follows the same reason
              "co_codamol": ("chronic_pain", "i.duration = 28"),  # the acute pack lasts 7 days
              "paracetamol": ("chronic_pain", "TRUE"), "gabapentin": ("neuropathic_pain", "TRUE"), "allopurinol": ("gout", "TRUE"),
              "tamsulosin": ("benign_prostatic_hyperplasia", "TRUE"), "combined_pill": ("contraception", "TRUE"),
              "desogestrel": ("contraception", "TRUE"), "hrt": ("menopausal_flushing", "TRUE"),
              "amitriptyline": ("neuropathic_pain", "TRUE"), "colecalciferol": ("vitamin_d_deficiency", "TRUE"),
              "lactulose": ("constipation", "i.duration = 28"),  # the acute bottle lasts 15 days
              # the skin and allergy repeats: the acute items (30, 14, 50 and 30 days) also follow a rash or hay fever
              "emollient": ("eczema", "i.duration = 28"), "hydrocortisone_cream": ("eczema", "i.duration = 56"),
              "beclometasone_nasal": ("hay_fever", "i.duration = 56"), "cetirizine": ("hay_fever", "i.duration = 28"),
              # the common conditions' repeats (England's 2019 volumes), and two keyed on a register's diagnosis
              "tramadol": ("chronic_pain", "TRUE"), "morphine_mr": ("chronic_pain", "TRUE"), "diazepam": ("anxiety", "TRUE"),
              "finasteride": ("benign_prostatic_hyperplasia", "TRUE"), "ranitidine": ("dyspepsia", "TRUE"),
              "mebeverine": ("irritable_bowel_syndrome", "TRUE"), "ibuprofen_gel": ("osteoarthritis", "TRUE"),
              "hypromellose_eye_drops": ("dry_eyes", "TRUE"),
              "montelukast": ("asthma", "TRUE"), "carbocisteine": ("copd", "TRUE"),
              # h17e: two more on the epilepsy register, one beside gabapentin, those keyed on the truth's risk factors
              # (coded from entry), the strips on the type 2 register, and oral iron after a low haemoglobin
              "lamotrigine": ("epilepsy", "TRUE"), "sodium_valproate": ("epilepsy", "TRUE"),
              "pregabalin": ("neuropathic_pain", "TRUE"), "quetiapine": ("schizophrenia", "TRUE"),
              "sildenafil": ("erectile_dysfunction", "TRUE"), "sumatriptan": ("migraine", "TRUE"),
              "methotrexate": ("rheumatoid_arthritis", "TRUE"), "folic_acid": ("rheumatoid_arthritis", "TRUE"),
              "glucose_test_strips": ("type2_diabetes", "TRUE"), "lymecycline": ("acne", "TRUE"),
              "memantine": ("dementia", "TRUE"), "loperamide": ("irritable_bowel_syndrome", "TRUE"), "ferrous_fumarate": ("iron_deficiency_anaemia", "TRUE"),
              # h17i: conditions' medicines beyond the registers' own, and two more keyed on a register's diagnosis
              "fluoxetine": ("anxiety", "TRUE"), "mesalazine": ("ulcerative_colitis", "TRUE"),
              "co_beneldopa": ("parkinsons_disease", "TRUE"), "trimethoprim_100": ("recurrent_urinary_tract_infection", "TRUE"),
              "hydroxychloroquine": ("rheumatoid_arthritis", "TRUE"), "topiramate": ("migraine", "TRUE"),
              "carbamazepine": ("epilepsy", "TRUE"), "levothyroxine_25": ("hypothyroidism", "TRUE"),
              # h17j: the dressing and the stoma bag
              "film_dressing": ("leg_ulcer", "TRUE"), "ileostomy_bag": ("ileostomy", "TRUE")}
REPEAT_ONLY = {"co_codamol", "emollient", "cetirizine"}  # their acute packs are issued too: the repeat is the 28-day one
DAY = dt.date(2024, 7, 1)


def _prods(name: str) -> str:
    return ", ".join(str(lv["prodcodeid"]) for lv in reference.toml("medicines.toml")[name]["levels"])


@pytest.mark.parametrize("drug", sorted(INDICATION))
def test_every_repeat_follows_its_indication(con, drug):
    key, repeat = INDICATION[drug]
    issued, unexplained = con.execute(f"""
        WITH dx AS (SELECT patid, min(obsdate) AS first FROM observation WHERE medcodeid = {codes.medcode(key)} GROUP BY 1)
        SELECT count(*), count(*) FILTER (WHERE dx.first IS NULL OR dx.first > i.issuedate)
        FROM drug_issue i LEFT JOIN dx USING (patid) WHERE i.prodcodeid IN ({_prods(drug)}) AND {repeat}""").fetchone()
    assert issued > 0, f"no {drug} issued in 20,000 patients"
    assert unexplained == 0, f"{unexplained} of {issued} {drug} issues without a prior {key} code"


def test_maintenance_antidepressant_follows_depression_and_never_overlaps_sertraline(con):
    issued, unexplained = con.execute(f"""
        WITH dx AS (SELECT o.patid, min(o.obsdate) AS first FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE m.cluster = 'DEPR' GROUP BY 1)
        SELECT count(*), count(*) FILTER (WHERE dx.first IS NULL OR dx.first > i.issuedate)
        FROM drug_issue i LEFT JOIN dx USING (patid) WHERE i.prodcodeid IN ({_prods("citalopram")})""").fetchone()
    assert issued > 0 and unexplained == 0, (issued, unexplained)
    # two SSRIs held at once would be issued together (regular medicines share the person's cycle); a switch from
    # sertraline's course to citalopram is not
    both = con.execute(f"""SELECT count(*) FROM drug_issue c JOIN drug_issue s USING (patid, issuedate)
        WHERE c.prodcodeid IN ({_prods("citalopram")}) AND s.prodcodeid IN ({_prods("sertraline")})""").fetchone()[0]
    assert both == 0


def _age_sex_sql(drug: str) -> str:
    return f"""SELECT i.sex, date_diff('day', i.date_of_birth, d.issuedate) / 365.25 AS age
               FROM drug_issue d JOIN patient_identity i USING (patid) WHERE d.prodcodeid IN ({_prods(drug)})"""


def test_pills_and_hrt_for_women_of_the_age_tamsulosin_for_men(con):
    for drug, sex, lo, hi in (("combined_pill", "female", 18, 50), ("desogestrel", "female", 13, 55),
                              ("hrt", "female", 45, 120), ("tamsulosin", "male", 35, 120)):
        rows = con.execute(_age_sex_sql(drug)).fetchall()
        assert rows, drug
        assert all(s == sex for s, _ in rows), f"{drug} issued to the other sex"
        ages = np.array([a for _, a in rows])
        assert ages.min() >= lo and ages.max() < hi, (drug, ages.min(), ages.max())
    # UKMEC 3: no combined pill once hypertension is diagnosed
    after = con.execute(f"""SELECT count(*) FROM drug_issue i WHERE i.prodcodeid IN ({_prods("combined_pill")})
        AND EXISTS (SELECT 1 FROM observation o JOIN medical_dictionary m USING (medcodeid)
                    WHERE o.patid = i.patid AND m.cluster = 'HYP' AND o.obsdate < i.issuedate - INTERVAL 31 DAY)""").fetchone()[0]
    assert after == 0


def test_pills_are_issued_three_months_at_a_time(con):
    """Every pill issue is an 84-day pack, and the combined pill's come no closer than the pack allows."""
    for drug in ("combined_pill", "desogestrel"):
        rows = con.execute(f"""SELECT patid, issuedate, duration FROM drug_issue WHERE prodcodeid IN ({_prods(drug)})
                               ORDER BY patid, issuedate""").fetchall()
        assert {d for _, _, d in rows} == {84}, drug
        gaps = [(b[1] - a[1]).days for a, b in zip(rows, rows[1:]) if a[0] == b[0]]
        # the next pack when a fortnight is left (prescribing.RUN_OUT), on a working day: 70 days at the least, less
        # two for a weekend; desogestrel is also an acute item (the same 84-day pack) at a contraception consultation
        if drug == "combined_pill":
            assert gaps and min(gaps) >= 70 - 2, (drug, min(gaps))


@pytest.mark.parametrize("drug", ["co_codamol", "paracetamol", "gabapentin", "allopurinol", "tamsulosin", "hrt",
                                  "omeprazole", "amitriptyline", "colecalciferol", "emollient", "cetirizine"])
def test_the_record_carries_the_published_shares(con, drug):
    """Adults holding the repeat on 1 July 2024 (an issue in the 31 days before: a 28-day cycle moved to a working day)
    against the share data/repeats.toml gives their age, sex and year; within 15% (each expects a few hundred people,
    a binomial standard deviation of 5-7%). Omeprazole's acute items (a 28-day pack too) count with it, so its check is
    looser above."""
    cfg = reference.toml("repeats.toml")
    med, bands = cfg["medicine"][drug], np.array(cfg["bands"], dtype=float)
    years, scale = zip(*med.get("trend", [[2000.0, 1.0]]))
    s = np.interp(2024.5, years, scale)
    rows = con.execute(f"""
        SELECT i.sex = 'female', date_diff('day', i.date_of_birth, DATE '{DAY}') / 365.25 AS age,
               EXISTS (SELECT 1 FROM drug_issue d WHERE d.patid = p.patid AND d.prodcodeid IN ({_prods(drug)})
                       AND d.issuedate BETWEEN DATE '{DAY}' - INTERVAL 31 DAY AND DATE '{DAY}'
                       {"AND d.duration = 28" if drug in REPEAT_ONLY else ""}) AS held
        FROM patient p JOIN patient_identity i USING (patid)
        WHERE p.regstartdate <= DATE '{DAY}' - INTERVAL 31 DAY AND coalesce(p.regenddate, DATE '2100-01-01') > DATE '{DAY}'
          AND coalesce(p.cprd_ddate, DATE '2100-01-01') > DATE '{DAY}'""").fetchall()
    female, age, held = (np.array(x) for x in zip(*rows))
    adult = age >= bands[0]
    band = np.searchsorted(bands, age[adult], side="right") - 1
    share = np.where(female[adult], np.array(med["female"])[band], np.array(med["male"])[band]) * s
    expected, observed = share.sum(), held[adult].sum()
    assert expected > 50, (drug, expected)
    hi = 1.35 if drug == "omeprazole" else 1.15
    assert 0.85 * expected <= observed <= hi * expected, (drug, observed, round(expected))


def test_finasteride_for_men_only_and_ranitidine_ends_after_its_recall(con):
    """Finasteride goes to men only; ranitidine (every product recalled from October 2019) is not issued
    from 2021, and was issued before the recall (data/repeats.toml's trend)."""
    for drug in ("finasteride",):
        sexes = dict(con.execute(f"SELECT sex, count(*) FROM ({_age_sex_sql(drug)}) GROUP BY 1").fetchall())
        assert sexes.get("male", 0) > 100 and "female" not in sexes, (drug, sexes)
    before, after = con.execute(f"""SELECT count(*) FILTER (WHERE issuedate < DATE '2019-10-01'),
        count(*) FILTER (WHERE issuedate >= DATE '2021-01-01') FROM drug_issue WHERE prodcodeid IN ({_prods("ranitidine")})""").fetchone()
    assert before > 100 and after == 0, (before, after)


def test_truth_repeats_go_only_to_those_with_the_risk_factor(con):
    """Sildenafil to men whose truth has erectile dysfunction, quetiapine to those with SMI and never with olanzapine,
    methotrexate to those with rheumatoid arthritis, sumatriptan to those with migraine (risk_factor_truth)."""
    for drug, flag in (("sildenafil", "impotence"), ("quetiapine", "semi"), ("methotrexate", "ra"), ("sumatriptan", "migraine")):
        issued, outside = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE NOT coalesce(t."{flag}"::BOOLEAN, FALSE))
            FROM drug_issue d LEFT JOIN risk_factor_truth t USING (patid) WHERE d.prodcodeid IN ({_prods(drug)})""").fetchone()
        assert issued > 100 and outside == 0, (drug, issued, outside)
    women = con.execute(f"SELECT count(*) FROM ({_age_sex_sql('sildenafil')}) WHERE sex = 'female'").fetchone()[0]
    assert women == 0
    both = con.execute(f"""SELECT count(*) FROM drug_issue q JOIN drug_issue o USING (patid, issuedate)
        WHERE q.prodcodeid IN ({_prods("quetiapine")}) AND o.prodcodeid IN ({_prods("olanzapine")})""").fetchone()[0]
    assert both == 0


def test_folic_acid_and_strips_come_with_their_partner(con):
    """Folic acid only while methotrexate is issued, the glucose strips only while gliclazide or insulin is: each
    issue has one of its partner's within the 31 days before or on its day (regular medicines share a cycle; a
    later start is issued on its own day first)."""
    for drug, partners in (("folic_acid", ["methotrexate"]), ("glucose_test_strips", ["gliclazide", "insulin_glargine"])):
        prods = ", ".join(_prods(p) for p in partners)
        issued, alone = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM drug_issue p
                WHERE p.patid = d.patid AND p.prodcodeid IN ({prods})
                  AND p.issuedate BETWEEN d.issuedate - INTERVAL 31 DAY AND d.issuedate))
            FROM drug_issue d WHERE d.prodcodeid IN ({_prods(drug)})""").fetchone()
        assert issued > 100 and alone == 0, (drug, issued, alone)


def test_iron_follows_a_low_haemoglobin_in_iron_deficiency_and_is_a_course(con):
    """Each course of oral iron starts a week after a full blood count whose haemoglobin is below the sex's threshold
    (data/labs.toml), in a year the truth's anaemia is of iron deficiency (lab_truth), and lasts data/repeats.toml's
    course (six or seven issues: the first on its day, then the person's 28-day cycle; fewer at a death or a move). Its first issue is on the start day, or
    on the person's next repeat-cycle day when the month's issues were already made (up to 28 days later)."""
    iron, anaemia = reference.toml("repeats.toml")["iron"], reference.toml("labs.toml")["anaemia"]
    first = con.execute(f"""WITH i AS (SELECT patid, issuedate, lag(issuedate) OVER (PARTITION BY patid ORDER BY issuedate) AS prev
                                       FROM drug_issue WHERE prodcodeid IN ({_prods("ferrous_fumarate")}))
        SELECT patid, issuedate FROM i WHERE prev IS NULL OR issuedate > prev + INTERVAL {iron["course_days"]} DAY""").df()
    assert len(first) > 200, len(first)
    con.register("first_iron", first)
    unexplained = con.execute(f"""SELECT count(*) FROM first_iron f WHERE NOT EXISTS (
        SELECT 1 FROM observation o JOIN patient_identity pi USING (patid)
        JOIN lab_truth t ON t.patid = o.patid AND t.condition = 'anaemia_iron_deficiency' AND o.obsdate BETWEEN t.start AND t."end"
        WHERE o.patid = f.patid AND o.medcodeid = {codes.medcode("haemoglobin")}
          AND o.value < CASE WHEN pi.sex = 'male' THEN {anaemia["threshold_male"]} ELSE {anaemia["threshold_female"]} END
          AND o.obsdate BETWEEN f.issuedate - INTERVAL {iron["after_days"] + 28 + 5} DAY AND f.issuedate)""").fetchone()[0]
    assert unexplained == 0, f"{unexplained} of {len(first)} iron courses without a low haemoglobin before"
    # runs of issues (gaps of at most 35 days): a course is six; a low haemoglobin as one ends starts another at once
    runs = con.execute(f"""WITH i AS (SELECT patid, issuedate, CASE WHEN issuedate - lag(issuedate) OVER w <= 35 THEN 0 ELSE 1
                                      END AS new FROM drug_issue WHERE prodcodeid IN ({_prods("ferrous_fumarate")})
                                      WINDOW w AS (PARTITION BY patid ORDER BY issuedate)),
        r AS (SELECT patid, sum(new) OVER (PARTITION BY patid ORDER BY issuedate) AS run FROM i)
        SELECT count(*) AS n FROM r GROUP BY patid, run""").df().n
    course = iron["course_days"] // 28
    assert runs.median() in (course, course + 1) and (runs <= course + 1).mean() > 0.9, str(runs.value_counts().sort_index().to_dict())


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


def test_in_a_practice_the_stoma_bag_reaches_about_the_published_share(con):
    """Colostomy UK 2022: 0.3% of the UK lives with a stoma; repeats.toml gives that share by age (not fitted to a run).
    On 1 July 2019 about 12,000 are registered, so about 36 expected; 0.15%-0.45% is about three Poisson sds."""
    on, share = con.execute("""
        WITH reg AS (SELECT p.patid FROM patient p JOIN person_truth t USING (patid)
                     WHERE p.regstartdate <= DATE '2019-07-01' AND t.date_of_birth <= DATE '2019-07-01'
                       AND coalesce(p.regenddate, DATE '9999-01-01') > DATE '2019-07-01'
                       AND coalesce(p.cprd_ddate, DATE '9999-01-01') > DATE '2019-07-01'),
             bag AS (SELECT DISTINCT i.patid FROM drug_issue i JOIN product_dictionary p USING (prodcodeid)
                     WHERE p.dmdid = ? AND i.issuedate BETWEEN DATE '2019-06-01' AND DATE '2019-07-05')
        SELECT count(b.patid), count(b.patid) / count(*) FROM reg r LEFT JOIN bag b USING (patid)""",
        [reference.toml("medicines.toml")["ileostomy_bag"]["levels"][0]["dmd"]]).fetchone()
    assert on > 10 and 0.0015 <= share <= 0.0045
