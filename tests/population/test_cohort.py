"""The bridge from the learner to the simulator: a scenario names a learned model, and its cohort's
risk factors are matched to the practice's people and carried through the care simulation."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pandas as pd
import pytest

from synthgp import cli
from synthgp.core import scenario
from synthgp.evaluate import practice as evaluate
from synthgp.learn import BayesianNetworkSynthesizer
from synthgp.population import cohort, risk_factors
from synthgp.simulate import run as engine

# the cohort's truth, unlike the built-in network's: BMI set by sex and age, type 2 diabetes by sex
BMI_WOMEN, BMI_MEN, BMI_PER_YEAR = 34.0, 25.0, 0.1
T2_WOMEN, T2_MEN = 0.30, 0.04


def _cohort(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.5
    age = rng.uniform(18, 95, n)
    bmi = np.where(female, BMI_WOMEN, BMI_MEN) + BMI_PER_YEAR * (age - 50) + rng.normal(0, 3, n)
    t2 = rng.random(n) < np.where(female, T2_WOMEN, T2_MEN)
    smoking = np.where(rng.random(n) < np.where(female, 0.05, 0.6), "heavy", "never")
    return pd.DataFrame({"sex": np.where(female, "F", "M"), "age": age.round(1), "bmi": bmi.round(1),
                         "type2": t2.astype(int), "smoking": smoking})


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("cohort") / "cohort.npz"
    BayesianNetworkSynthesizer(bins=20, latent=0, random_state=1).fit(_cohort(40_000, 2)).save(path)
    return path


def _people(n: int, seed: int, age: np.ndarray) -> risk_factors.Person:
    rng = np.random.default_rng(seed)
    return risk_factors.Person(np.arange(n), rng.random(n) < 0.5, np.full(n, "White"),
                               np.full(n, "white_british"), rng.integers(1, 6, n))


def test_people_take_risk_factors_from_their_own_sex_and_age_stratum(model):
    sc = scenario.build({"risk_factors": {"model": str(model)}})
    n = 40_000
    age = np.random.default_rng(3).uniform(18, 95, n)
    person = _people(n, 4, age)
    given = cohort.draw(7, sc.risk_factors, person, age)
    assert set(given) == {"bmi", "type2", "smoking"}
    # within a stratum the cohort's conditional law holds: BMI by sex and 5-year age band (the band
    # spreads age by +-2.5 years, 0.25 BMI units, inside the tolerance), type 2 and smoking by sex
    for male, base in ((False, BMI_WOMEN), (True, BMI_MEN)):
        for lo in (23, 48, 78):
            sel = (person.male == male) & (age >= lo) & (age < lo + 5)
            assert given["bmi"][sel].mean() == pytest.approx(base + BMI_PER_YEAR * (lo + 2.5 - 50), abs=0.5)
    f, m = ~person.male, person.male
    assert given["type2"][f].mean() == pytest.approx(T2_WOMEN, abs=0.02)
    assert given["type2"][m].mean() == pytest.approx(T2_MEN, abs=0.01)
    assert (given["smoking"][m] == 4).mean() == pytest.approx(0.6, abs=0.02)  # heavy is level 4
    # the draw is a pure function of seed and patient: a subset asks for the same rows
    sub = np.arange(5_000, 6_000)
    part = risk_factors.Person(person.ids[sub], person.male[sub], person.ethnicity_broad[sub],
                               person.ethnicity_group[sub], person.imd[sub])
    again = cohort.draw(7, sc.risk_factors, part, age[sub])
    assert np.array_equal(again["bmi"], given["bmi"][sub])
    assert not np.array_equal(cohort.draw(8, sc.risk_factors, part, age[sub])["bmi"], again["bmi"])

    # the built-in network fills in the rest, conditional on what was learned; a liability
    # condition's onset age agrees with the learned status (type 1 excludes type 2, as built in)
    rf = risk_factors.sample(7, person, age, given=given)
    assert np.array_equal(rf["bmi"], np.clip(given["bmi"], 14, 65))
    agree = rf["type2"] == (given["type2"] > 0.5)
    assert np.all(agree | rf["type1"])
    assert np.array_equal(rf["onset_type2"] <= age, rf["type2"])
    assert rf["type2"][~rf["type2"]].size and (rf["onset_type2"][~rf["type2"]] < 900).any()  # some get it later


def test_a_learned_cohort_is_carried_through_the_simulation(model, tmp_path):
    sc = scenario.build({"risk_factors": {"model": str(model)}})

    def run(out, **kw):
        return engine.generate(sc, engine.RunOptions(n_patients=6_000, seed=3, out=tmp_path / out, progress=False, **kw))

    m = run("one")
    run("two", workers=2, block_size=2_500)
    digests = []
    for out in ("one", "two"):
        con = duckdb.connect(str(tmp_path / out / engine.DB_NAME), read_only=True)
        digests.append([hashlib.sha256(repr(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()).encode()).hexdigest()
                        for t in ("risk_factor_truth", "observation", "drug_issue")])
    assert digests[0] == digests[1]
    assert m["risk_factor_model"]["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()

    con = duckdb.connect(str(tmp_path / "one" / engine.DB_NAME), read_only=True)
    truth = dict(con.execute("""SELECT p.gender, avg(r.bmi) FROM risk_factor_truth r JOIN patient p USING (patid)
                                GROUP BY ALL""").fetchall())
    # gender 1 male, 2 female; the practice is adults of all ages, so the cohort's age slope averages out
    # to within about 1.5 units; the built-in network has women and men within 0.5 of each other
    assert truth[2] - truth[1] == pytest.approx(BMI_WOMEN - BMI_MEN, abs=1.5)
    # what the practice recorded, by the simulation's own measuring and diagnosing, shows the cohort
    rec = dict(con.execute("""SELECT p.gender, avg(o.value) FROM observation o JOIN patient p USING (patid)
                              JOIN medical_dictionary d USING (medcodeid)
                              WHERE d.snomedctconceptid = 60621009 GROUP BY ALL""").fetchall())
    assert rec[2] - rec[1] > 6
    dx = dict(con.execute("""SELECT p.gender, avg((o.patid IS NOT NULL)::int) FROM patient p
                             JOIN risk_factor_truth r USING (patid)
                             LEFT JOIN (SELECT DISTINCT patid FROM observation JOIN medical_dictionary USING (medcodeid)
                                        WHERE snomedctconceptid = 44054006) o USING (patid) GROUP BY ALL""").fetchall())
    assert dx[2] > 2.5 * dx[1]  # the built-in network has more type 2 diabetes in men than women
    con.close()

    # the evaluation report says where the risk factors came from
    html, report = evaluate.write_report(tmp_path / "one")
    assert report["risk_factor_model"] == {"path": str(model.resolve()), "sha256": m["risk_factor_model"]["sha256"],
                                           "matched_on": ["sex", "age"]}
    assert "matched on each person's sex and age" in html.read_text()


def test_a_bad_model_is_named_before_any_work(model, tmp_path):
    with pytest.raises(scenario.ScenarioError, match="risk_factors.model: model file not found"):
        scenario.build({"risk_factors": {"model": str(tmp_path / "nope.npz")}})
    with pytest.raises(scenario.ScenarioError, match="no column imd to match people on"):
        cohort.check_scenario(scenario.build({"risk_factors": {"model": str(model), "match": ["sex", "imd"]}}))
    with pytest.raises(scenario.ScenarioError, match="risk_factors.match: must be distinct names from sex, age"):
        scenario.build({"risk_factors": {"model": str(model), "match": ["postcode"]}})
    unrelated = tmp_path / "unrelated.npz"
    BayesianNetworkSynthesizer(latent=0).fit(pd.DataFrame({"sex": ["M", "F"] * 50, "age": np.arange(100.0),
                                                           "shoe_size": np.arange(100) % 7})).save(unrelated)
    with pytest.raises(scenario.ScenarioError, match="none of the risk factors the simulator uses"):
        cohort.check_scenario(scenario.build({"risk_factors": {"model": str(unrelated)}}))
    # and a run refuses it before any work starts
    with pytest.raises(scenario.ScenarioError, match="none of the risk factors"):
        engine.generate(scenario.build({"risk_factors": {"model": str(unrelated)}}),
                        engine.RunOptions(n_patients=10, seed=1, out=tmp_path / "never", progress=False))
    assert not (tmp_path / "never").exists()
    # a scenario file names the model relative to itself; the CLI refuses a bad one with exit 2 and no output
    f = tmp_path / "sc" / "scenario.toml"
    f.parent.mkdir()
    f.write_text('risk_factors.model = "../cohort-missing.npz"\n')
    out = tmp_path / "out"
    assert cli.main(["generate", "--patients", "10", "--seed", "1", "--out", str(out), "--scenario", str(f)]) == 2
    assert not out.exists()
    f.write_text(f'risk_factors.model = "{model.name}"\n')
    (f.parent / model.name).write_bytes(model.read_bytes())
    assert scenario.load(f).risk_factors.model == str((f.parent / model.name).resolve())
