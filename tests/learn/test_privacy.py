"""Formal privacy (PrivBayes-style epsilon-DP learning) and the shadow-model membership attack."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from synthgp import cli
from synthgp.evaluate import fidelity
from synthgp.learn import BayesianNetworkSynthesizer, evaluation, privbayes, shadow

from tests.learn.test_learn import _known_network


def _with_numeric(n: int, seed: int) -> pd.DataFrame:
    df = _known_network(n, seed)
    rng = np.random.default_rng(seed + 1)
    df["x"] = 40 + 10 * df["A"].astype(int) + rng.gamma(2.0, 4.0, n)  # continuous, shifted by A
    return df


def test_the_budget_is_spent_as_recorded_and_noise_costs_fidelity(tmp_path):
    data, fresh = _with_numeric(5_000, 1), _with_numeric(20_000, 2)
    worst = {}
    for eps in (0.05, 1.0, math.inf):
        m = BayesianNetworkSynthesizer(epsilon=eps, dp_seed=7, random_state=0).fit(data)  # seeded: a repeatable test
        acc = m.fit_info["privacy"]
        assert acc["randomness"].startswith("seeded by dp_seed")
        if math.isfinite(eps):
            assert sum(acc["spent"].values()) == pytest.approx(eps)  # sequential composition adds up to epsilon
            assert acc["spent"]["structure"] == pytest.approx(0.3 * eps)  # PrivBayes' beta
        assert acc["range_from_data"] == ["x"] and not m.within and m.settings["penalty"] is None
        m.save(tmp_path / "m.npz")
        back = BayesianNetworkSynthesizer.load(tmp_path / "m.npz")
        assert back.fit_info["privacy"] == json.loads(json.dumps(acc)) and back.params["epsilon"] == eps
        s = back.sample(5_000, random_state=3)
        worst[eps] = fidelity.pairs(fresh, s)["mean_abs_diff"]
    # without noise the greedy network keeps the links (Cramer's V within 0.03 of a fresh sample);
    # at epsilon 0.05 the table of 5,000 rows affords no parents at all, so the links are lost
    assert worst[math.inf] < 0.03 < worst[0.05]
    assert worst[1.0] < worst[0.05]


def test_no_noise_picks_the_most_informative_parents_and_bounds_hold():
    data = _with_numeric(5_000, 4)
    m = BayesianNetworkSynthesizer(epsilon=math.inf, max_parents=2, dp_seed=0, random_state=0).fit(data)
    skeleton = {frozenset(e) for e in m.edges}
    assert {frozenset("AB"), frozenset("AC")} <= skeleton or {frozenset("BD"), frozenset("CD")} <= skeleton
    assert frozenset("EA") not in skeleton and frozenset("EB") not in skeleton  # E is independent of all
    b = BayesianNetworkSynthesizer(epsilon=1.0, bounds={"x": (30, 90)}, random_state=0).fit(data)
    assert b.fit_info["privacy"]["randomness"] == "operating-system entropy"  # random_state does not seed the noise
    again = BayesianNetworkSynthesizer(epsilon=1.0, bounds={"x": (30, 90)}, random_state=0).fit(data)
    assert not all(np.array_equal(x, y) for x, y in zip(b.cpts, again.cpts))
    s = b.sample(3_000)
    assert s["x"].between(30, 90).all() and b.fit_info["privacy"]["range_from_data"] == []
    with pytest.raises(ValueError, match="not continuous columns"):
        BayesianNetworkSynthesizer(epsilon=1.0, bounds={"A": (0, 2)}).fit(data)
    with pytest.raises(ValueError, match="epsilon must be"):
        BayesianNetworkSynthesizer(epsilon=0)
    with pytest.raises(ValueError, match="not supported under"):
        BayesianNetworkSynthesizer(epsilon=1.0, latent_groups=[["A", "B"]])


def test_mutual_information_sensitivity_bounds_a_real_replacement():
    """Replacing one row never moves the empirical mutual information by more than Lemma 4.1's bound."""
    rng = np.random.default_rng(0)
    n = 200
    codes = np.stack([rng.integers(0, 3, n), rng.integers(0, 3, n)], 1)
    codes[:, 1] = np.where(rng.random(n) < 0.7, codes[:, 0], codes[:, 1])
    base = privbayes._mi(codes, [3, 3], 1, (0,))
    worst = 0.0
    for i in rng.choice(n, 40, replace=False):
        for a in range(3):
            for b in range(3):
                c = codes.copy()
                c[i] = (a, b)
                worst = max(worst, abs(privbayes._mi(c, [3, 3], 1, (0,)) - base))
    assert 0 < worst <= privbayes.mi_sensitivity(n)


def test_cli_fit_under_epsilon_and_the_report_states_the_budget(tmp_path, capsys):
    data = _with_numeric(2_000, 5)
    data.iloc[:1500].to_csv(tmp_path / "real.csv", index=False)
    data.iloc[1500:].to_csv(tmp_path / "holdout.csv", index=False)
    assert cli.main(["learn", "fit", str(tmp_path / "real.csv"), "--out", str(tmp_path / "m.npz"), "--epsilon", "2"]) == 0
    assert "privacy budget spent: epsilon 2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["learn", "fit", str(tmp_path / "real.csv"), "--out", str(tmp_path / "n.npz"), "--epsilon", "-1"])
    assert "give a privacy budget above 0" in capsys.readouterr().err
    assert cli.main(["learn", "sample", str(tmp_path / "m.npz"), "--rows", "1500", "--out", str(tmp_path / "s.csv")]) == 0
    real, synth = pd.read_csv(tmp_path / "real.csv"), pd.read_csv(tmp_path / "s.csv")
    model = BayesianNetworkSynthesizer.load(tmp_path / "m.npz")
    html, rep = evaluation.write_report(real, synth, tmp_path / "r", model=model, kernel_mmd=False,
                                        holdout=pd.read_csv(tmp_path / "holdout.csv"))
    assert rep["model"]["privacy_budget"]["epsilon"] == 2.0
    assert "ε = 2.0 spent as" in html.read_text()


def test_the_shadow_attack_catches_a_copy_and_not_a_model():
    """A generator that releases its training rows is caught (each outlying target sits at distance 0
    exactly when it was in); the learner's games stay within the margin. Fixed seeds; 16 real games for
    each of 2 targets give a margin of 3 x 0.105 over chance."""
    data = _with_numeric(400, 6)
    train, ref = data.iloc[:200].reset_index(drop=True), data.iloc[200:].reset_index(drop=True)
    copy = shadow.attack(train, ref, lambda d, s: d.copy(), targets=2, shadows=12, games=16)
    assert copy["auc"] > copy["limit"] and not copy["passes"]
    m = BayesianNetworkSynthesizer(bins=4, penalty="bic", smoothing=4.0, latent=0, restarts=0, random_state=0).fit(train)
    res = shadow.attack(train, ref, shadow.generator(m), targets=2, shadows=12, games=16)
    assert res["passes"] and res["limit"] == pytest.approx(0.5 + 3 * math.sqrt(17 / 768) / math.sqrt(2))
