"""Blood tests in a generated practice (20,000 patients, seed 5), read from its DuckDB file: one draw a day, panels
under their header, ranges and units on every result, results consistent with the truth (lab_truth and the
registers), nothing outside registration."""


from synthgp.core import codes, reference

CFG = reference.toml("labs.toml")
LABS = "m.cluster IN ('LAB', 'PANEL')"


def test_no_patient_has_two_results_of_one_code_on_one_day(con):
    total, dup = con.execute(f"""
        SELECT sum(k), coalesce(sum(k) FILTER (WHERE k > 1), 0) FROM (
            SELECT patid, obsdate, medcodeid, count(*) AS k FROM observation o JOIN medical_dictionary m USING (medcodeid)
            WHERE {LABS} GROUP BY ALL)""").fetchone()
    assert total > 100_000 and dup == 0


def test_every_result_of_a_blood_panel_is_a_child_of_its_header(con):
    """Same patient, day and consultation as the header; the result's code one of that panel's (labs.toml)."""
    pairs = [(codes.medcode(p["header"]), codes.medcode(r)) for p in CFG["panels"].values() for r in p["results"]]
    allowed = " OR ".join(f"(h.medcodeid = {a} AND o.medcodeid = {b})" for a, b in pairs)
    n, orphan, wrong = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE h.obsid IS NULL),
               count(*) FILTER (WHERE h.obsid IS NOT NULL AND NOT ({allowed}
                                OR h.patid <> o.patid OR h.obsdate <> o.obsdate OR h.consid IS DISTINCT FROM o.consid))
        FROM observation o JOIN medical_dictionary m USING (medcodeid) LEFT JOIN observation h ON h.obsid = o.parentobsid
        WHERE m.cluster = 'LAB' AND o.medcodeid <> {codes.medcode("urine_acr")}""").fetchone()
    assert n > 50_000 and orphan == 0 and wrong == 0
    childless = con.execute("""
        SELECT count(*) FROM observation h JOIN medical_dictionary m USING (medcodeid)
        WHERE m.cluster = 'PANEL' AND NOT EXISTS (SELECT 1 FROM observation o WHERE o.parentobsid = h.obsid)""").fetchone()[0]
    assert childless == 0


def test_every_result_has_a_unit_and_a_reference_range(con):
    n, bare = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE o.numunitid IS NULL OR (o.numrangelow IS NULL AND o.numrangehigh IS NULL))
        FROM observation o JOIN medical_dictionary m USING (medcodeid) WHERE m.cluster = 'LAB' AND o.value IS NOT NULL""").fetchone()
    assert n > 0 and bare == 0


def test_haemoglobin_is_below_the_who_threshold_exactly_in_the_years_of_anaemia(con):
    a = CFG["anaemia"]
    rows = con.execute(f"""
        WITH hb AS (SELECT o.patid, o.obsdate, o.value, o.numrangelow, p.gender FROM observation o JOIN patient p USING (patid)
                    JOIN patient_identity i USING (patid)  -- lab_truth covers adults: children's counts are not judged here
                    WHERE o.medcodeid = {codes.medcode("haemoglobin")} AND o.obsdate >= i.date_of_birth + INTERVAL 18 YEAR)
        SELECT EXISTS (SELECT 1 FROM lab_truth t WHERE t.patid = hb.patid AND t.condition LIKE 'anaemia%'
                       AND hb.obsdate BETWEEN t.start AND t."end") AS anaemic,
               count(*), count(*) FILTER (WHERE value < CASE gender WHEN 1 THEN {a["threshold_male"]} ELSE {a["threshold_female"]} END),
               count(*) FILTER (WHERE value < numrangelow)
        FROM hb GROUP BY 1 ORDER BY 1""").fetchall()
    (f, n0, low0, range0), (t, n1, low1, range1) = rows
    assert not f and t and n0 > 100 and n1 > 10
    assert low0 == 0 and low1 == n1  # the truth decides: below the threshold in an anaemic year, never otherwise
    assert range1 / n1 > 3 * range0 / n0  # below the lab's range far more often when anaemic


def test_tsh_is_above_the_range_at_a_hypothyroidism_diagnosis_and_mostly_normal_on_levothyroxine_later(con):
    at_dx, high = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE o.value > o.numrangehigh) FROM observation o
        JOIN observation d ON d.patid = o.patid AND d.obsdate = o.obsdate AND d.medcodeid = {codes.medcode("hypothyroidism")}
        WHERE o.medcodeid = {codes.medcode("tsh")}""").fetchone()
    assert at_dx > 20 and high / at_dx > 0.85
    later, normal = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE o.value BETWEEN o.numrangelow AND o.numrangehigh) FROM observation o
        WHERE o.medcodeid = {codes.medcode("tsh")} AND EXISTS (
            SELECT 1 FROM observation d WHERE d.patid = o.patid AND d.medcodeid = {codes.medcode("hypothyroidism")}
            AND d.obsdate < o.obsdate - INTERVAL 365 DAY)""").fetchone()
    assert later > 50 and 0.5 < normal / later < 0.9  # about a third outside the range on levothyroxine (Taylor 2014)


def test_hba1c_is_diabetic_after_a_diabetes_diagnosis_and_rarely_without(con):
    rows = dict(con.execute(f"""
        SELECT EXISTS (SELECT 1 FROM observation d JOIN medical_dictionary m USING (medcodeid)
                       WHERE d.patid = o.patid AND m.cluster = 'DM' AND d.obsdate <= o.obsdate) AS dm,
               avg((o.value >= 48)::INT)
        FROM observation o WHERE o.medcodeid = {codes.medcode("hba1c")} GROUP BY 1""").fetchall())
    assert rows[True] > 0.9 and rows[False] < 0.05


def test_no_blood_test_outside_registration(con):
    outside = con.execute(f"""
        SELECT count(*) FROM observation o JOIN medical_dictionary m USING (medcodeid) JOIN patient p USING (patid)
        WHERE {LABS} AND (o.obsdate < p.regstartdate OR o.obsdate > coalesce(p.regenddate, p.cprd_ddate, DATE '9999-12-31')
                          OR o.obsdate > coalesce(p.cprd_ddate, DATE '9999-12-31'))""").fetchone()[0]
    assert outside == 0


def test_blood_test_figures_land_on_their_published_figures(small):
    """evaluate/labs.py's figures (calibrations and validations as calibration.toml says) at 20,000 patients; the
    85+ anaemia bands (a few hundred people, SE 3-4 points against a 4-point tolerance) are left to larger runs."""
    from synthgp.evaluate import calibration

    ids = {"anaemia_prevalence", "hba1c_controlled_diabetes", "hba1c_ndh_of_tested", "ltc_blood_tests_per_1000py"}
    rows = [r for r in calibration.for_output(small) if r.id in ids and not r.part.endswith("85+")]
    assert {r.id for r in rows} == ids and len(rows) == 8
    failed = [r for r in rows if not r.passed]
    assert not failed, calibration.format_table(failed)

