"""Fidelity, utility and privacy of a synthetic table against the real one it was learned from.

Fidelity comes from synthgp.fidelity (per-column tests, KL against a real-vs-real band, pairwise and
three-way association differences) and kernel MMD over 2-, 3- and 4-column combinations against a
real-resample band (synthgp.learn.mmd). Utility is train-on-synthetic-test-on-real (TSTR) against
train-on-real-test-on-real (TRTR): gradient-boosted trees, AUC on a real holdout the synthesizer never
saw. Privacy: distance to closest record and exact copies beside the holdout's own rates, and the two
attacks anonymeter defines (Giomi et al. 2023), measured here the same way:
  attribute inference - an attacker who knows a target's other columns takes the secret column from
      the nearest synthetic row; success on training rows beside success on holdout rows (the control);
  linkability - the columns are split in two, and a training row is "linked" when its nearest
      synthetic rows on each half coincide; again beside the holdout.
  risk = (main - control) / (1 - control), 0 when the synthetic data tells nothing about the
  training rows that it does not tell about anyone from the same population.
And membership inference by distance: a real row is guessed to be a training row the closer it lies
to a synthetic row; the AUC of that guess over training against holdout rows (0.5 is chance).
anonymeter itself pins numpy < 1.27, which synthgp's other dependencies cannot share, hence our own.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from synthgp.evaluate import fidelity
from synthgp.learn import mmd
from synthgp.learn.tables import read_table, write_table  # noqa: F401 - their old home


def _prepare(frames: list[pd.DataFrame], cols: list[str]) -> list[pd.DataFrame]:
    """Same categories on every frame, categoricals as pandas categories (for native tree support)."""
    out = [f[cols].copy() for f in frames]
    for c in cols:
        if not pd.api.types.is_numeric_dtype(frames[0][c]) or isinstance(frames[0][c].dtype, pd.CategoricalDtype):
            cats = sorted(set().union(*(set(f[c].dropna().astype(str)) for f in frames)))
            for o in out:
                o[c] = pd.Categorical(o[c].astype(str).where(o[c].notna()), categories=cats)
        else:
            for o in out:
                o[c] = pd.to_numeric(o[c], errors="coerce").astype(float)
    return out


def utility(train_real: pd.DataFrame, synth: pd.DataFrame | list[pd.DataFrame], test: pd.DataFrame, target: str,
            exclude: Iterable[str] = (), seed: int = 0) -> dict[str, Any]:
    """TRTR and TSTR AUC on `test` (gradient-boosted trees). `synth` may be several synthetic tables drawn
    from one model: TSTR then scores the mean predicted probability of one classifier per table (a
    generative ensemble: van Breugel, Qian and van der Schaar, ICML 2023; Raisa and Honkela, AISTATS 2025,
    show the variance that a classifier trained on one synthetic table inherits from its draw shrinks as
    1/m over m tables, which one table m times as large does not give). `tstr_auc_single` is the first
    table's classifier alone."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    draws = list(synth) if isinstance(synth, (list, tuple)) else [synth]
    for name, df in (("real", train_real), *(("synthetic", d) for d in draws), ("test", test)):
        if target not in df.columns:
            raise ValueError(f"target column {target!r} is not in the {name} table")
    levels = sorted(train_real[target].dropna().unique().tolist(), key=str)
    if len(levels) != 2:
        raise ValueError(f"target {target!r} must have two values to measure AUC; it has {len(levels)}: {levels[:6]}")
    pos = levels[-1]
    feats = [c for c in train_real.columns if c != target and c not in set(exclude)]
    xr, *xs, xt = _prepare([train_real, *draws, test], feats)
    yr, *ys, yt = ((df[target].astype(str) == str(pos)).to_numpy() for df in (train_real, *draws, test))
    res = {"target": target, "positive": pos, "features": feats, "test_rows": len(test), "synthetic_tables": len(draws)}

    def predict(x, y):
        m = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=200, random_state=seed)
        return m.fit(x, y).predict_proba(xt)[:, 1]

    res["trtr_auc"] = float(roc_auc_score(yt, predict(xr, yr))) if len(set(yr)) == 2 else None
    probs = [predict(x, y) for x, y in zip(xs, ys) if len(set(y)) == 2]
    res["tstr_auc_single"] = float(roc_auc_score(yt, probs[0])) if probs and len(set(ys[0])) == 2 else None
    res["tstr_auc"] = float(roc_auc_score(yt, np.mean(probs, axis=0))) if probs else None
    res["difference"] = (res["trtr_auc"] - res["tstr_auc"]) if res["tstr_auc"] is not None else None
    return res


def _encode_for_distance(frames: list[pd.DataFrame], cols: list[str]) -> list[np.ndarray]:
    ref = frames[0]
    k = fidelity.kinds(ref[cols])
    return [fidelity._matrix(f[cols], k, ref[cols]) for f in frames]


def attribute_inference(train: pd.DataFrame, synth: pd.DataFrame, control: pd.DataFrame, secret: str,
                        n: int = 2000, seed: int = 0) -> dict[str, Any]:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    aux = [c for c in train.columns if c != secret]
    t = train.iloc[rng.choice(len(train), min(n, len(train)), replace=False)]
    c = control.iloc[rng.choice(len(control), min(n, len(control)), replace=False)]
    ms, mt, mc = _encode_for_distance([synth, t, c], aux)
    tree = cKDTree(ms)
    guess = lambda m: synth[secret].to_numpy()[tree.query(m, k=1)[1]]  # noqa: E731
    numeric = secret in fidelity.kinds(train).numeric

    def hit(g, truth):
        if numeric:
            tv = pd.to_numeric(pd.Series(truth), errors="coerce").to_numpy(float)
            gv = pd.to_numeric(pd.Series(g), errors="coerce").to_numpy(float)
            return np.abs(gv - tv) <= 0.05 * np.abs(tv) + 1e-9  # anonymeter's default tolerance for numbers
        return pd.Series(g).astype(str).to_numpy() == pd.Series(truth).astype(str).to_numpy()

    main = float(np.mean(hit(guess(mt), t[secret].to_numpy())))
    ctl = float(np.mean(hit(guess(mc), c[secret].to_numpy())))
    return {"secret": secret, "success_training": main, "success_control": ctl, "risk": _risk(main, ctl)}


def linkability(train: pd.DataFrame, synth: pd.DataFrame, control: pd.DataFrame, n: int = 2000, k: int = 1,
                seed: int = 0) -> dict[str, Any]:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    cols = list(train.columns)
    perm = [cols[i] for i in rng.permutation(len(cols))]
    a, b = perm[: len(cols) // 2], perm[len(cols) // 2:]
    t = train.iloc[rng.choice(len(train), min(n, len(train)), replace=False)]
    c = control.iloc[rng.choice(len(control), min(n, len(control)), replace=False)]

    def linked(target: pd.DataFrame) -> float:
        (sa, ta), (sb, tb) = _encode_for_distance([synth, target], a), _encode_for_distance([synth, target], b)
        ia = cKDTree(sa).query(ta, k=k)[1].reshape(len(target), -1)
        ib = cKDTree(sb).query(tb, k=k)[1].reshape(len(target), -1)
        return float(np.mean([len(set(x) & set(y)) > 0 for x, y in zip(ia, ib)]))

    main, ctl = linked(t), linked(c)
    return {"columns_a": a, "columns_b": b, "neighbours": k, "success_training": main, "success_control": ctl,
            "risk": _risk(main, ctl)}


def membership_inference(train: pd.DataFrame, holdout: pd.DataFrame, synth: pd.DataFrame,
                         categorical=()) -> dict[str, Any]:
    """Distance-to-closest-synthetic-row membership attack: AUC of -distance for training rows against
    held-out rows. 0.5 is chance; `null_se` is a useless attack's standard error (Mann-Whitney)."""
    from scipy.spatial import cKDTree
    from scipy.stats import rankdata

    k = fidelity.kinds(train, categorical)
    tree = cKDTree(fidelity._matrix(synth, k, train))
    d_in = tree.query(fidelity._matrix(train, k, train), k=1)[0]
    d_out = tree.query(fidelity._matrix(holdout, k, train), k=1)[0]
    r = rankdata(-np.concatenate([d_in, d_out]))  # ties share their rank: an uninformative tie scores 0.5
    n1, n0 = len(d_in), len(d_out)
    auc = float((r[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    return {"auc": auc, "members": n1, "non_members": n0, "null_se": math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))}


def _risk(main: float, control: float) -> float:
    return 0.0 if control >= 1 else max(0.0, (main - control) / (1 - control))


def evaluate(real: pd.DataFrame, synth: pd.DataFrame, target: str | None = None, holdout: pd.DataFrame | None = None,
             exclude: Iterable[str] = (), secrets: Iterable[str] = (), categorical: Iterable[str] = (),
             seed: int = 0, kernel_mmd: bool = True, generator=None, shadow_games: int = 16) -> dict[str, Any]:
    """Every measure as plain data. `generator(table, seed) -> synthetic table` (the learner as fitted,
    e.g. `shadow.generator(model)`) adds the shadow-model membership attack, `shadow_games` real games
    per target (it refits the learner about 3 x (20 + shadow_games) times). `real` is what the synthesizer learned from; `holdout` is real data
    it never saw (without one, a third of `real` is held out for the utility test and the privacy
    control, which then overlaps the synthesizer's training rows: say so when reporting)."""
    missing = [c for c in real.columns if c not in synth.columns]
    if missing:
        raise ValueError(f"the synthetic table lacks columns of the real one: {missing}")
    synth = synth[list(real.columns)]
    note = None
    if holdout is None:
        idx = np.random.default_rng(seed).permutation(len(real))
        cut = len(real) * 2 // 3
        real, holdout = real.iloc[idx[:cut]], real.iloc[idx[cut:]]
        note = "no holdout given: a third of the real table served as one, though the synthesizer saw it"
    cat = list(categorical)
    out: dict[str, Any] = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "rows": {"real": len(real), "synthetic": len(synth), "holdout": len(holdout)}, "note": note,
        "columns": fidelity.columns(real, synth, cat, seed=seed),
        "pairs": fidelity.pairs(real, synth, cat, seed=seed),
        "triples": fidelity.triples(real, synth, cat, seed=seed),
    }
    out["mmd"] = mmd.combinations(real, synth, cat, seed=seed) if kernel_mmd else {"sizes": {}, "note": "not asked for"}
    out["utility"] = utility(real, synth, holdout, target, exclude, seed) if target else None
    priv = fidelity.privacy(real, synth, cat, seed=seed, holdout=holdout)
    secrets = list(secrets) or ([target] if target else [])
    priv["attribute_inference"] = [attribute_inference(real, synth, holdout, s, seed=seed) for s in secrets]
    priv["linkability"] = linkability(real, synth, holdout, seed=seed)
    priv["membership_inference"] = membership_inference(real, holdout, synth, cat)
    if generator is not None:
        from synthgp.learn import shadow

        priv["shadow_membership"] = shadow.attack(real, holdout, generator, games=shadow_games, seed=seed, categorical=cat)
    out["privacy"] = priv
    cols = out["columns"]
    out["summary"] = {
        "columns_kl_within_band": sum(c["kl_within_band"] for c in cols), "columns": len(cols),
        "mean_tv": float(np.mean([c["tv"] for c in cols])), "mean_abs_association_diff": out["pairs"]["mean_abs_diff"],
        "mean_triple_tv": out["triples"]["mean_tv"],
        "mmd_within_band": {k: f"{v['within_band']} of {v['combinations']}" for k, v in out["mmd"]["sizes"].items()},
        "tstr_auc": out["utility"]["tstr_auc"] if out["utility"] else None,
        "trtr_auc": out["utility"]["trtr_auc"] if out["utility"] else None,
        "exact_copies": priv["exact_copies"], "membership_auc": priv["membership_inference"]["auc"],
        "shadow_membership_auc": priv["shadow_membership"]["auc"] if "shadow_membership" in priv else None,
    }
    return out


def figures(real: pd.DataFrame, synth: pd.DataFrame, result: dict[str, Any], model=None) -> dict[str, str]:
    from synthgp.evaluate import plots

    figs = plots.columns(result["columns"], real, synth, ("real", "synthetic"))
    figs["associations"] = plots.heatmap(result["pairs"], "Cramer's V, synthetic minus real")
    figs["dcr"] = plots.dcr(result["privacy"], "Distance to closest real record", ("synthetic", "real holdout"))
    if result.get("utility") and result["utility"].get("tstr_auc") is not None:
        u = result["utility"]
        figs["utility"] = plots.bars(["train real, test real", "train synthetic, test real"],
                                     {"AUC": [u["trtr_auc"], u["tstr_auc"]]}, f"Predicting {u['target']}", "AUC")
    if model is not None:
        figs["network"] = plots.network(model.nodes, model.edges, set(model.latent_variables))
    return figs


def write_report(real: pd.DataFrame, synth: pd.DataFrame, dest, model=None, **kw) -> tuple[Any, dict[str, Any]]:
    from synthgp.evaluate import html as report

    result = evaluate(real, synth, **kw)
    figs = figures(real, synth, result, model)
    for k in ("dcr_synthetic", "dcr_holdout"):
        result["privacy"][k] = {"n": len(result["privacy"][k])}
    if model is not None:
        result["model"] = {"edges": model.edges, "latent_variables": model.latent_variables, "fit": model.fit_info,
                           "privacy_budget": model.fit_info.get("privacy"), "missing": model.fit_info.get("missing")}
    return report.write(dest, "learn.html", report.json_ready(result), figs), result
