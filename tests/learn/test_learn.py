"""The Bayesian-network synthesizer: structure and latent recovery from data sampled from known
networks, mixed types with missing values, rules, save/load, and its evaluation on a real public
clinical dataset (flchain, shipped in scikit-survival); a small real cohort (WHAS500) gets a hint from the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgp import cli
from synthgp.learn import BayesianNetworkSynthesizer, evaluation

from tests.conftest import SHOTS, chromium_page


def _draw(rng, probs_by_parent, parent):
    """Sample a child given a parent array and a (parent_state x child_state) table."""
    cum = np.cumsum(np.asarray(probs_by_parent)[parent], axis=1)
    return (rng.random(len(parent))[:, None] > cum).sum(1)


def _known_network(n: int, seed: int) -> pd.DataFrame:
    """A -> B, A -> C, B -> D <- C (a v-structure), E on its own."""
    rng = np.random.default_rng(seed)
    a = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    b = _draw(rng, [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]], a)
    c = _draw(rng, [[0.7, 0.3], [0.5, 0.5], [0.1, 0.9]], a)
    d = _draw(rng, [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.05, 0.95]], b * 2 + c)
    e = rng.choice(4, n)
    return pd.DataFrame({"A": a, "B": b, "C": c, "D": d, "E": e}).astype(str)


def test_recovers_a_known_structure():
    m = BayesianNetworkSynthesizer(latent=0, random_state=1).fit(_known_network(30_000, 3))
    skeleton = {frozenset(e) for e in m.edges}
    assert skeleton == {frozenset(p) for p in [("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")]}
    # the v-structure is identifiable from data, so its direction must be right
    assert {p for p, c in m.edges if c == "D"} == {"B", "C"}
    # conditional distributions are the true ones, within sampling error
    cpd = m.cpd("D")
    assert cpd.loc[("0", "0"), "1"] == pytest.approx(0.1, abs=0.02)
    assert cpd.loc[("1", "1"), "1"] == pytest.approx(0.95, abs=0.02)


def test_bootstrap_and_user_edges():
    df = _known_network(8000, 4)
    m = BayesianNetworkSynthesizer(latent=0, bootstrap=5, required_edges=[("E", "A")], forbidden_edges=[("A", "B"), ("B", "A")],
                                   random_state=2).fit(df)
    assert ("E", "A") in m.edges
    assert ("A", "B") not in m.edges and ("B", "A") not in m.edges
    assert len(m.fit_info["edge_frequency"]) == 5
    with pytest.raises(ValueError, match="does not name two columns"):
        BayesianNetworkSynthesizer(required_edges=[("A", "Z")]).fit(df)


def test_finds_a_hidden_common_cause():
    """x1, x2, x3 all depend on an unobserved L; y is noise. The learner should put a latent over the x's."""
    rng = np.random.default_rng(5)
    n = 20_000
    hidden = rng.choice(2, n, p=[0.6, 0.4])
    table = [[0.85, 0.1, 0.05], [0.05, 0.15, 0.8]]
    df = pd.DataFrame({f"x{i}": _draw(rng, table, hidden) for i in (1, 2, 3)} | {"y": rng.choice(3, n)}).astype(str)
    m = BayesianNetworkSynthesizer(latent=2, latent_states=2, random_state=0).fit(df)
    assert len(m.latent_variables) == 1
    (name, children), = m.latent_variables.items()
    assert set(children) == {"x1", "x2", "x3"}
    prior = m.cpd(name).to_numpy().ravel()
    assert sorted(prior) == pytest.approx([0.4, 0.6], abs=0.03)
    # each row's most probable latent state recovers the hidden one (up to the labels' order)
    post = m.latent_posterior(df)
    agree = (post[name].to_numpy() == hidden).mean()
    assert max(agree, 1 - agree) > 0.9 and post[f"{name}_probability"].between(0.5, 1).all()
    s = m.sample(20_000, random_state=1)
    # the dependence the latent carries is reproduced: P(x2 = 2 | x1 = 2)
    real = (df.x2[df.x1 == "2"] == "2").mean()
    assert (s.x2[s.x1 == "2"] == "2").mean() == pytest.approx(real, abs=0.03)


def test_hand_seeded_latents_are_kept_and_checked():
    """The regulator's method seeds latents by hand: a seeded group is kept even where the score would
    drop it (here over a column of pure noise), its score gain reported; a bad group is refused."""
    df = _known_network(3000, 6)
    m = BayesianNetworkSynthesizer(latent=0, latent_groups=[["B", "E"]], random_state=0).fit(df)
    assert m.latent_variables == {"latent_1": ["B", "E"]}
    (prop,) = m.fit_info["latent_proposals"]
    assert prop["seeded"] and prop["kept"] and prop["score_gain"] < 0
    with pytest.raises(ValueError, match="'Z' is not a column"):
        BayesianNetworkSynthesizer(latent_groups=[["A", "Z"]]).fit(df)
    with pytest.raises(ValueError, match="2-4 different columns"):
        BayesianNetworkSynthesizer(latent_groups=[["A"]]).fit(df)


def test_settings_are_chosen_from_the_data():
    """On 300 rows held-out likelihood picks settings that keep more of the links than the old fixed
    choice (BIC, 10 bins), age-BMI among them; above 5,000 rows the choice is BIC, 10 bins, 1
    pseudo-row; settings the caller fixes are kept."""
    small = BayesianNetworkSynthesizer(latent=0, random_state=0).fit(_mixed(300, 1))
    st = small.settings
    assert st["how"] == "3-fold held-out likelihood" and len(st["candidates"]) == 27
    assert st["candidates"][0]["held_out_loglik_per_row"] >= st["candidates"][-1]["held_out_loglik_per_row"]
    assert (st["bins"], st["penalty"], st["smoothing"]) == tuple(st["candidates"][0][k] for k in ("bins", "penalty", "smoothing"))
    old = BayesianNetworkSynthesizer(latent=0, bins=10, penalty="bic", smoothing=1.0, random_state=0).fit(_mixed(300, 1))
    assert len(small.edges) > len(old.edges) and frozenset(("age", "bmi")) in {frozenset(e) for e in small.edges}
    fixed = BayesianNetworkSynthesizer(latent=0, bins=6, random_state=0).fit(_mixed(300, 1)).settings
    assert fixed["bins"] == 6 and {c["bins"] for c in fixed["candidates"]} == {6}
    big = BayesianNetworkSynthesizer(latent=0, random_state=0).fit(_mixed(6000, 1)).settings
    assert (big["bins"], big["penalty"], big["smoothing"]) == (10, "bic", 1.0)
    for bad in (dict(bins=1), dict(penalty=0), dict(smoothing=-1), dict(penalty="bayes")):
        with pytest.raises(ValueError):
            BayesianNetworkSynthesizer(**bad)


def test_a_continuous_value_keeps_its_place_inside_the_bin():
    """x rises with a binary parent y, and is cut into two bins. Drawn inside its bin from the marginal
    alone, x would forget the part of that shift inside each bin; with the within-bin tables (synthgp/learn/within.py) the synthetic
    E[x | y = 1] - E[x | y = 0] stays within 10% of the real one, and beats the marginal draw."""
    rng = np.random.default_rng(12)
    n = 4000
    y = (rng.random(n) < 0.3).astype(int)
    df = pd.DataFrame({"y": y.astype(str), "x": rng.gamma(3.0, 1.0, n) + 1.5 * y})
    m = BayesianNetworkSynthesizer(latent=0, bins=2, required_edges=[("y", "x")], random_state=0).fit(df)
    assert list(m.within) == [1] and m.within[1]["parents"] == [0]

    def shift(t):
        return t.x[t.y == "1"].mean() - t.x[t.y == "0"].mean()

    real, cond = shift(df), shift(m.sample(40_000, random_state=1))
    m.within = {}
    flat = shift(m.sample(40_000, random_state=1))
    assert cond == pytest.approx(real, rel=0.1)
    assert abs(flat - real) > 2 * abs(cond - real)


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, n)
    sex = rng.choice(["F", "M"], n)
    bmi = np.round(22 + 0.06 * age + rng.gamma(2.0, 2.0, n), 1)
    chol = np.where(rng.random(n) < 0.3, np.nan, 4 + 0.02 * age + rng.normal(0, 0.8, n))  # 30% never measured
    smoker = rng.choice(["never", "ex", "current", None], n, p=[0.5, 0.3, 0.15, 0.05])
    rare = np.where(rng.random(n) < 0.002, "rare-kind", "common")
    ed = ((sex == "M") & (rng.random(n) < 0.02 + 0.003 * (age - 18))).astype(int)
    ed[rng.choice(np.flatnonzero(sex == "F"), 15, replace=False)] = 1  # coding errors a rule must remove
    return pd.DataFrame({"age": age, "sex": sex, "bmi": bmi, "cholesterol": chol, "smoking": smoker,
                         "kind": rare, "erectile_dysfunction": ed})


def test_mixed_types_missing_values_and_rare_categories():
    df = _mixed(6000, 7)
    m = BayesianNetworkSynthesizer(random_state=3).fit(df)
    kinds = {c.name: c.kind for c in m.columns}
    assert kinds["age"] == kinds["bmi"] == kinds["cholesterol"] == "numeric"
    assert kinds["sex"] == kinds["smoking"] == kinds["erectile_dysfunction"] == "categorical"
    s = m.sample(30_000)
    assert s["cholesterol"].isna().mean() == pytest.approx(0.3, abs=0.02)
    assert s["smoking"].isna().mean() == pytest.approx(df["smoking"].isna().mean(), abs=0.01)
    assert s["age"].between(18, 94).all() and (s["age"] % 1 == 0).all()  # integers stay integers, in range
    assert s["bmi"].mean() == pytest.approx(df["bmi"].mean(), abs=0.3)
    assert "rare-kind" in m.cpd("kind").columns and (s["kind"] == "rare-kind").sum() > 10  # kept, not lost
    # the age-cholesterol link survives (correlation within 0.05)
    assert s[["age", "cholesterol"]].corr().iloc[0, 1] == pytest.approx(df[["age", "cholesterol"]].corr().iloc[0, 1], abs=0.05)
    with pytest.raises(ValueError, match="not seen when fitting"):
        from synthgp.learn import encode
        encode.encode(pd.DataFrame({c: ["unknown"] if c == "sex" else [df[c].iloc[0]] for c in df.columns}), m.columns)


def test_the_alias_draw_follows_each_conditional_table():
    """Sampling draws each node by Walker's alias method (one uniform, two lookups per row). Over
    4,000,000 rows and 100 parent combinations of a skewed 10-state table the counts must fit the table:
    a chi-squared test at the 0.1% level (seeded: measured p = 0.20)."""
    from scipy import stats

    from synthgp.learn import structure

    rng = np.random.default_rng(1)
    n = 4_000_000
    codes = np.asfortranarray(rng.integers(0, 10, (n, 4)).astype(np.int32))
    table = rng.dirichlet(np.full(10, 0.5), size=100)
    table[7] = np.eye(10)[3]  # a certain state: never anything else
    out = np.empty(n, dtype=np.int32)
    structure.Draws(n).node(codes, [10] * 4, (0, 1), table, rng, out)
    cfg = codes[:, 0] * 10 + codes[:, 1]
    assert (out[cfg == 7] == 3).all()
    counts = np.zeros_like(table)
    np.add.at(counts, (cfg, out), 1)
    expected = table * counts.sum(1, keepdims=True)
    ok = expected > 5
    chi2 = float(((counts - expected)[ok] ** 2 / expected[ok]).sum())
    assert stats.chi2.sf(chi2, ok.sum() - 100) > 0.001, chi2


def test_rules_hold_in_every_sample_without_distorting_the_rest():
    df = _mixed(6000, 8)
    rule = "not (sex == 'F' and erectile_dysfunction == 1)"
    free = BayesianNetworkSynthesizer(random_state=4).fit(df)
    ruled = BayesianNetworkSynthesizer(random_state=4, rules=[rule]).fit(df)
    assert free.edges == ruled.edges
    for seed in range(5):
        s = ruled.sample(5000, random_state=seed)
        assert len(s) == 5000 and not ((s.sex == "F") & (s.erectile_dysfunction == 1)).any()
    a, b = free.sample(40_000, random_state=9), ruled.sample(40_000, random_state=9)
    assert ((a.sex == "F") & (a.erectile_dysfunction == 1)).sum() > 0  # the rule had something to do
    men_a, men_b = a[a.sex == "M"], b[b.sex == "M"]
    assert men_b.erectile_dysfunction.mean() == pytest.approx(men_a.erectile_dysfunction.mean(), abs=0.01)
    assert (b.sex == "F").mean() == pytest.approx((a.sex == "F").mean(), abs=0.01)


def test_save_and_load_sample_identically(tmp_path):
    m = BayesianNetworkSynthesizer(random_state=11, rules=["bmi > 20"]).fit(_mixed(3000, 9))
    path = m.save(tmp_path / "model.npz")
    back = BayesianNetworkSynthesizer.load(path)
    assert back.edges == m.edges and back.latent_variables == m.latent_variables
    pd.testing.assert_frame_equal(m.sample(2000, random_state=7), back.sample(2000, random_state=7))
    assert not m.sample(2000, random_state=7).equals(m.sample(2000, random_state=8))
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a synthgp model"):
        BayesianNetworkSynthesizer.load(tmp_path / "junk.npz")
    with pytest.raises(RuntimeError, match="not fitted"):
        BayesianNetworkSynthesizer().sample(5)


@pytest.fixture(scope="module")
def flchain():
    from sksurv.datasets import load_flchain

    x, y = load_flchain()
    df = x.copy()
    df["death"] = y["death"].astype(int)
    df["futime"] = y["futime"]
    idx = np.random.default_rng(0).permutation(len(df))
    return df.iloc[idx[:5250]].reset_index(drop=True), df.iloc[idx[5250:]].reset_index(drop=True)


def test_real_public_dataset_fidelity_utility_privacy(flchain):
    """flchain (Mayo Clinic serum free light chain study, 7,874 people; scikit-survival). Learned on
    two thirds, judged against the third it never saw. Validation, not calibration: nothing was tuned
    to these figures."""
    train, holdout = flchain
    m = BayesianNetworkSynthesizer(random_state=1).fit(train)
    synth = m.sample(len(train))
    r = evaluation.evaluate(train, synth, target="death", holdout=holdout, exclude=["chapter", "futime"])
    s = r["summary"]
    assert s["columns_kl_within_band"] >= 0.8 * s["columns"], [c["column"] for c in r["columns"] if not c["kl_within_band"]]
    assert s["trtr_auc"] - s["tstr_auc"] <= 0.05 and s["tstr_auc"] > 0.7
    assert s["exact_copies"] == 0
    assert r["privacy"]["linkability"]["risk"] < 0.05
    mia = r["privacy"]["membership_inference"]
    assert abs(s["membership_auc"] - 0.5) < 3 * mia["null_se"]
    # and the yardstick can fail: a table of independent columns breaks the associations and the utility
    indep = pd.DataFrame({c: synth[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(synth.columns)})
    bad = evaluation.evaluate(train, indep, target="death", holdout=holdout, exclude=["chapter", "futime"])
    assert bad["summary"]["mean_abs_association_diff"] > 3 * s["mean_abs_association_diff"]
    assert bad["summary"]["tstr_auc"] < s["tstr_auc"] - 0.1
    # kernel MMD over 2-4 columns: the model's sample sits within the real-resample band almost everywhere,
    # the independent columns' sample falls out of it where the columns hang together (most 4-way sets)
    good_mmd, bad_mmd = r["mmd"]["sizes"], bad["mmd"]["sizes"]
    assert sum(v["within_band"] for v in good_mmd.values()) >= 0.85 * sum(v["combinations"] for v in good_mmd.values())
    assert bad_mmd["4"]["within_band"] < good_mmd["4"]["within_band"] - 10
    # a verbatim copy is caught by the privacy measures
    leak = evaluation.evaluate(train, train.copy(), holdout=holdout, kernel_mmd=False)
    assert leak["summary"]["exact_copies"] == len(train) and leak["privacy"]["share_closer_than_holdout_p5"] > 0.9
    assert leak["summary"]["membership_auc"] > 0.9


def test_cli_fit_sample_evaluate_and_report_in_chromium(flchain, tmp_path, capsys):
    train, holdout = flchain
    train.to_csv(tmp_path / "real.csv", index=False)
    holdout.to_parquet(tmp_path / "holdout.parquet")
    model, synth = tmp_path / "m.npz", tmp_path / "s.parquet"
    rule = "not (death == 0 and chapter == chapter)"  # no cause of death for the living
    assert cli.main(["learn", "fit", str(tmp_path / "real.csv"), "--out", str(model), "--rule", rule,
                     "--categorical", "sample.yr"]) == 0
    assert cli.main(["learn", "fit", str(tmp_path / "real.csv"), "--out", str(model)]) == 2  # exists
    assert cli.main(["learn", "sample", str(model), "--rows", "3000", "--out", str(synth)]) == 0
    s = pd.read_parquet(synth)
    assert len(s) == 3000 and not ((s.death == 0) & s.chapter.notna()).any()
    assert cli.main(["learn", "sample", str(model), "--rows", "10", "--out", str(tmp_path / "s.txt")]) == 2
    assert not (tmp_path / "s.txt").exists()
    assert cli.main(["learn", "evaluate", str(tmp_path / "real.csv"), str(synth), "--holdout", str(tmp_path / "holdout.parquet"),
                     "--target", "death", "--exclude", "chapter,futime", "--model", str(model), "--out", str(tmp_path / "rep")]) == 0
    assert cli.main(["learn", "evaluate", str(tmp_path / "real.csv"), str(synth), "--target", "sex_x",
                     "--out", str(tmp_path / "rep2")]) == 2
    assert "target column 'sex_x'" in capsys.readouterr().err and not (tmp_path / "rep2").exists()
    with chromium_page() as page:
        page.goto((tmp_path / "rep" / "report.html").resolve().as_uri())
        for sec in ("summary", "columns", "pairs", "utility", "privacy", "model"):
            assert page.locator(f"section#{sec}").is_visible(), sec
        assert page.locator("#columns figure svg").count() == 11
        assert page.locator("#mmd-table tbody tr").count() == 3
        assert "membership inference by distance" in page.locator("#privacy-table").inner_text()
        page.screenshot(path=str(SHOTS / "learn.png"), full_page=True)


def test_a_small_real_cohort_keeps_its_links_under_the_defaults(tmp_path, capsys):
    """WHAS500 (500 heart-attack admissions, shipped in scikit-survival). Under fixed BIC with 10 bins the
    penalty outweighs every link and the CLI says what to try; the defaults choose bins, penalty and
    prior by held-out likelihood and keep age and BMI linked, with no flag."""
    from sksurv.datasets import load_whas500

    x, _ = load_whas500()
    data = tmp_path / "whas.csv"
    x[["age", "gender", "bmi", "afb"]].to_csv(data, index=False)
    model = tmp_path / "whas.npz"
    assert cli.main(["learn", "fit", str(data), "--out", str(model), "--latent", "0", "--bins", "10", "--penalty", "bic"]) == 0
    assert "no edges" in capsys.readouterr().err
    assert cli.main(["learn", "fit", str(data), "--out", str(model), "--latent", "0", "--overwrite"]) == 0
    out = capsys.readouterr()
    assert "no edges" not in out.err and "held-out likelihood" in out.out
    m = BayesianNetworkSynthesizer.load(model)
    assert frozenset(("age", "bmi")) in {frozenset(e) for e in m.edges}
    assert m.fit_info["settings"]["bins"] in (4, 6, 10) and len(m.fit_info["settings"]["candidates"]) == 27
    with pytest.raises(SystemExit, match="2"):
        cli.main(["learn", "fit", str(data), "--out", str(model), "--overwrite", "--penalty", "-1"])
    assert "share of BIC's penalty above 0" in capsys.readouterr().err


def test_cli_sample_writes_the_models_rows_without_loading_the_heavy_modules(tmp_path):
    """`learn sample` writes exactly what `sample()` returns (dtypes and missing values too), and its start-up
    leaves out what only fitting, evaluating or exporting need (pandas, DuckDB, SciPy, scikit-learn, numba,
    causal-learn): each costs 0.1-0.3 s before the first row (python -X importtime). A column of a type
    only pandas holds (nullable Int64) takes the pandas route, with the same rows."""
    import subprocess
    import sys

    df = _mixed(2000, 12)
    df["flag"] = df["age"] > 60  # booleans are bit-packed for Parquet
    model, out = tmp_path / "m.npz", tmp_path / "s.parquet"
    m = BayesianNetworkSynthesizer(random_state=5).fit(df)
    m.save(model)
    probe = ("import sys; from synthgp import cli; rc = cli.main(sys.argv[1:]); "
             "print(rc, sorted(k for k in ('pandas', 'duckdb', 'scipy', 'sklearn', 'numba', 'causallearn') if k in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe, "learn", "sample", str(model), "--rows", "5000", "--seed", "3",
                          "--out", str(out)], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines()[-1] == "0 []", run.stdout + run.stderr
    back, want = pd.read_parquet(out), m.sample(5000, random_state=3)
    numeric = want.select_dtypes("number").columns
    assert len(numeric) >= 3 and (back.dtypes[numeric] == want.dtypes[numeric]).all() and back["flag"].dtype == bool
    text = want.columns.difference(numeric)
    back[text], want[text] = back[text].astype(object), want[text].astype(object)  # pandas reads text back as str
    pd.testing.assert_frame_equal(back.where(back.notna(), None), want.where(want.notna(), None))
    df["visits"] = pd.array(np.arange(len(df)) % 7, dtype="Int64")
    m = BayesianNetworkSynthesizer(random_state=5).fit(df)
    assert m.sample_arrays(10) is None
    assert cli.main(["learn", "sample", str(m.save(model)), "--rows", "500", "--out", str(out), "--overwrite"]) == 0
    assert pd.read_parquet(out)["visits"].dtype == "Int64"
    pd.testing.assert_series_equal(pd.read_parquet(out)["visits"], m.sample(500)["visits"])
