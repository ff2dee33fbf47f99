"""Learner benchmark: fit on 100,000 rows x 25 columns and sample 1,000,000 rows, beside pgmpy's
hill-climbing (BIC) + maximum-likelihood fit + sampling on the same data, in the same run, and each
model's held-out log-likelihood on a fresh sample of the true network (the same bins for both).

The data come from a known random network (25 discrete and continuous columns, some parents), so
fidelity can be scored the same way for both: mean total variation over columns and mean |difference|
in pairwise Cramer's V against a fresh sample of the true network. pgmpy gets the same discretised
table synthgp learns from (it has no continuous sampling of its own). Needs `pip install -e '.[bench]'`.

    python benchmarks/learn.py                       # 100,000 x 25, sample 1,000,000 (and the CLI end to end)
    python benchmarks/learn.py --rows 20000 --sample 100000
    python benchmarks/learn.py --epsilon-curve flchain   # the DP learner against epsilon, figures into docs/figures
    python benchmarks/learn.py --latents                 # cprd-cvd: FCI-found latents against hand-seeded ones
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import pandas as pd


def true_network(n: int, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    tables = np.random.default_rng(99)  # the network's parameters are fixed; only the sample varies
    for j in range(p):
        parents = [f"v{k}" for k in sorted(tables.choice(j, min(j, 2), replace=False))] if j else []
        base = sum((cols[q] if cols[q].dtype.kind in "iu" else (cols[q] > np.median(cols[q])).astype(int)) * (i + 1)
                   for i, q in enumerate(parents)) if parents else np.zeros(n, dtype=int)
        if j % 3 == 0:  # continuous: a mean that moves with the parents, skewed noise
            cols[f"v{j}"] = 50 + 8 * base + rng.gamma(2.0, 5.0 + tables.random(), n)
        else:
            k = 2 + j % 4
            logits = tables.normal(0, 1.5, (int(base.max()) + 1, k))
            pr = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
            cum = np.cumsum(pr[base], 1)
            cols[f"v{j}"] = (rng.random(n)[:, None] > cum).sum(1)
    return pd.DataFrame(cols)


def score(ref: pd.DataFrame, synth: pd.DataFrame) -> tuple[float, float]:
    from synthgp.evaluate import fidelity

    cols = fidelity.columns(ref, synth, resamples=2)
    pairs = fidelity.pairs(ref, synth, max_rows=50_000)
    return float(np.mean([c["tv"] for c in cols])), pairs["mean_abs_diff"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--cols", type=int, default=25)
    ap.add_argument("--sample", type=int, default=1_000_000)
    ap.add_argument("--epsilon-curve", metavar="TABLE", help="instead: fidelity and utility against epsilon on a public table")
    ap.add_argument("--latents", action="store_true", help="instead: latent discovery against hand-seeded latents on cprd-cvd")
    a = ap.parse_args()
    if a.latents:
        return latent_comparison()
    if a.epsilon_curve:
        return epsilon_curve(a.epsilon_curve)
    from synthgp.learn import BayesianNetworkSynthesizer, encode

    load0 = " / ".join(f"{x:.2f}" for x in os.getloadavg())  # 1, 5, 15 minutes: the machine is shared
    data = true_network(a.rows, a.cols, 1)
    fresh = true_network(100_000, a.cols, 2)
    rows = []

    t0, c0 = time.perf_counter(), time.process_time()
    m = BayesianNetworkSynthesizer(random_state=0).fit(data)
    fit_s, fit_c = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    s = m.sample(a.sample, random_state=1)
    sample_s, sample_c = time.perf_counter() - t0, time.process_time() - c0
    rows.append(("synthgp", fit_s, sample_s, fit_c, sample_c, len(m.edges), *score(fresh, s.iloc[:100_000]),
                 held_out_loglik(m, fresh), 0))

    from pgmpy.causal_discovery import HillClimbSearch
    from pgmpy.models import DiscreteBayesianNetwork

    codes = pd.DataFrame(encode.encode(data, m.columns), columns=data.columns).astype(int)
    t0, c0 = time.perf_counter(), time.process_time()
    dag = HillClimbSearch(scoring_method="bic-d", return_type="dag", show_progress=False, max_indegree=3).fit(codes).causal_graph_
    bn = DiscreteBayesianNetwork(dag.edges())
    bn.add_nodes_from(codes.columns)
    bn.fit(codes)
    fit_p, fit_pc = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    sp = bn.simulate(n_samples=a.sample, seed=1, show_progress=False)
    sample_p, sample_pc = time.perf_counter() - t0, time.process_time() - c0
    sp = encode.decode(sp[list(codes.columns)].to_numpy(), m.columns, np.random.default_rng(1))  # same decoding
    ll_p, zero_p = pgmpy_loglik(bn, pd.DataFrame(encode.encode(fresh, m.columns), columns=fresh.columns).astype(int))
    rows.append(("pgmpy", fit_p, sample_p, fit_pc, sample_pc, len(dag.edges()), *score(fresh, sp.iloc[:100_000]), ll_p, zero_p))

    base_tv, base_v = score(fresh, true_network(100_000, a.cols, 3))
    cli = [end_to_end(m, a.sample) for _ in range(3)]
    print(f"{a.rows:,} rows x {a.cols} columns; sampling {a.sample:,} rows; 2 cores; peak {peak_mb():,.0f} MB; "
          f"load average {load0} at the start, {' / '.join(f'{x:.2f}' for x in os.getloadavg())} at the end\n")
    print(f"{'learner':>8} {'fit s':>7} {'sample s':>9} {'fit CPU s':>10} {'sample CPU s':>13} {'edges':>6} {'mean TV':>8} "
          f"{'mean |dV|':>10} {'held-out loglik/row':>20} {'rows at p=0':>12}")
    for name, f, sm, fc, sc, e, tv, dv, ll, zero in rows:
        print(f"{name:>8} {f:7.1f} {sm:9.1f} {fc:10.1f} {sc:13.1f} {e:6d} {tv:8.4f} {dv:10.4f} {ll:20.4f} {zero:12,d}")
    print(f"{'truth':>8} {'':>7} {'':>9} {'':>10} {'':>13} {'':>6} {base_tv:8.4f} {base_v:10.4f}   <- a fresh sample of the true network")
    print("CPU s: user + system of this process (all threads), which a loaded machine inflates less than wall time")
    print("held-out loglik: mean log P(row) over the 100,000 fresh rows of the true network, both models on the same "
          "bins (pgmpy's maximum-likelihood tables give some rows probability 0; its mean is over the others)")
    print(f"\n`synthgp learn sample MODEL --rows {a.sample:,} --out FILE.parquet`, end to end (a fresh process: start-up, "
          f"loading the model, sampling, writing Parquet), 3 runs: wall {', '.join(f'{w:.2f}' for w, _, _ in cli)} s; "
          f"CPU {', '.join(f'{c:.2f}' for _, c, _ in cli)} s; load average (1 min) {', '.join(f'{x:.1f}' for _, _, x in cli)}")
    fi = m.fit_info
    print(f"\nsynthgp fit, of which: settings {fi['settings']['how']} (bins {m.settings['bins']}, penalty "
          f"{m.settings['penalty']}, smoothing {m.settings['smoothing']}); structure search {fi['structure_seconds']:.1f} s; "
          f"latent search {fi['latent_seconds']:.1f} s (kept: {list(m.latent_variables) or 'none'})")
    print(f"synthgp vs pgmpy: fit {rows[1][1] / rows[0][1]:.1f}x faster ({rows[1][3] / rows[0][3]:.1f}x in CPU), sampling "
          f"{rows[1][2] / rows[0][2]:.1f}x faster ({rows[1][4] / rows[0][4]:.1f}x in CPU)")


def end_to_end(m, rows: int) -> tuple[float, float, float]:
    """Wall and CPU seconds of the `learn sample` command in a fresh process, and the load average as it ended."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        model = m.save(Path(tmp) / "model.npz")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "synthgp", "learn", "sample", str(model), "--rows", str(rows),
                        "--out", str(Path(tmp) / "sample.parquet")], check=True, capture_output=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, os.getloadavg()[0]


def held_out_loglik(m, table: pd.DataFrame) -> float:
    """Mean log-likelihood per held-out row, latents summed out (bins are the same for every model compared)."""
    from synthgp.learn import encode, missing

    codes = encode.encode(table, m.columns).astype(np.int64)
    full = np.concatenate([codes, np.full((len(codes), len(m.nodes) - codes.shape[1]), -1)], axis=1)
    return missing.expand(full, m.cards, m.parents, m.cpts)[2] / len(table)


def pgmpy_loglik(bn, codes: pd.DataFrame) -> tuple[float, int]:
    """pgmpy's mean log-likelihood per row of `codes` from its fitted tables, over the rows it gives a
    probability above 0, and how many it gives 0 (a state or parent combination unseen when fitting)."""
    total = np.zeros(len(codes))
    for node in codes.columns:
        cpd = bn.get_cpds(node)
        names = cpd.state_names
        vars_ = cpd.variables  # the child first, then its parents, in the axes of cpd.values
        idx = []
        ok = np.ones(len(codes), dtype=bool)
        for v in vars_:
            lookup = {s: i for i, s in enumerate(names[v])}
            ix = codes[v].map(lookup)
            ok &= ix.notna().to_numpy()
            idx.append(ix.fillna(0).astype(int).to_numpy())
        with np.errstate(divide="ignore"):
            lp = np.log(cpd.values[tuple(idx)])
        total += np.where(ok, lp, -np.inf)
    finite = np.isfinite(total)
    return float(total[finite].mean()), int((~finite).sum())


def latent_comparison() -> None:
    import tempfile
    from pathlib import Path

    from sklearn.metrics import normalized_mutual_info_score as nmi
    from threadpoolctl import threadpool_limits

    import synthgp
    from synthgp.learn import BayesianNetworkSynthesizer, evaluation

    out = synthgp.generate(Path(tempfile.mkdtemp()) / "practice", patients=4000, seed=3, formats=("duckdb", "cprd-cvd"))
    table = pd.read_parquet(out.folder("cprd_cvd") / "cprd_cvd.parquet")
    columns = [c for c in table.columns[: list(table.columns).index("sbps") + 1] if c != "region"]
    hold = table.sample(frac=0.25, random_state=0).index
    train, holdout = table.drop(hold)[columns], table.loc[hold, columns]
    con = out.connect()
    truth = con.execute("""SELECT patid, coalesce((true_hypertension_onset <= DATE '2015-01-01')::INT, 0) AS hypertensive
                           FROM hypertension_truth""").df()
    con.close()
    seeded = [["sbp", "sbps", "treathyp"], ["type2", "bmi", "choleratio"]]
    fits = {"no latents": dict(latent=0), "hand-seeded (regulator's way)": dict(latent=0, latent_groups=seeded),
            "mutual-information proposals": dict(latent=2), "FCI x 10 bootstraps + structural EM": dict(latent_search="fci", fci_bootstrap=10)}
    print(f"cprd-cvd, {len(train):,} training rows, {len(holdout):,} held out, {len(columns)} columns\n")
    print("| model | latents (children) | held-out loglik/row | NMI with true hypertension | TSTR treathyp | fit s | latent search s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with threadpool_limits(1):
        for name, kw in fits.items():
            t0 = time.perf_counter()
            m = BayesianNetworkSynthesizer(random_state=0, **kw).fit(train)
            fit_s = time.perf_counter() - t0
            post = m.latent_posterior(table[columns]).join(table["patid"]).merge(truth, on="patid")
            info = {k: round(nmi(post[k], post["hypertensive"]), 2) for k in m.latent_variables}
            u = evaluation.utility(train, m.sample(len(train), random_state=1), holdout, "treathyp")
            lat = "; ".join(f"{k}: {', '.join(v)}" for k, v in m.latent_variables.items()) or "-"
            print(f"| {name} | {lat} | {held_out_loglik(m, holdout):.3f} | {info or '-'} | {u['tstr_auc']:.3f} "
                  f"(TRTR {u['trtr_auc']:.3f}) | {fit_s:.1f} | {m.fit_info['latent_seconds']:.1f} |", flush=True)
            if "latent_discovery" in m.fit_info:
                d = m.fit_info["latent_discovery"]
                print(f"\nFCI {d['fci_seconds']} s, structural EM {d['structural_em_seconds']} s; proposals: "
                      + "; ".join(f"{p['fci_group']} gain {p['score_gain']}" for p in d["proposals"])
                      + "\nstrongest pair scores: " + str(sorted(d["pair_scores"].items(), key=lambda kv: -kv[1])[:12]) + "\n")


def epsilon_curve(name: str) -> None:
    from pathlib import Path

    from synthgp.evaluate import plots
    from synthgp.learn import public

    t0 = time.perf_counter()
    rows = public.epsilon_curve(public.TABLES[name]())
    print(f"{name}: 3-fold, each fold's model judged on the fold it never saw ({time.perf_counter() - t0:.0f} s)\n")
    print("| epsilon | edges | mean KL (real-vs-real) | mean MMD^2 (2-, 3-way) | TSTR AUC | TRTR AUC | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['epsilon']} | {r['edges']:.1f} | {r['kl']:.4f} ({r['kl_real']:.4f}) | {r['mmd2']:.4f} | "
              f"{r['tstr']:.3f} | {r['trtr']:.3f} | {r['fit_seconds']:.2f} |")
    dp = [r for r in rows if not isinstance(r["epsilon"], str)]
    base = rows[-1]
    x = [str(r["epsilon"]).replace("inf", "no noise") for r in dp]
    out = Path(__file__).resolve().parents[1] / "docs" / "figures"
    out.mkdir(exist_ok=True)
    (out / f"learn_epsilon_fidelity_{name}.svg").write_text(plots.lines(
        x, {"mean KL, synthetic vs real": [r["kl"] for r in dp], "default learner (no DP)": [base["kl"]] * len(dp),
            "real vs real": [r["kl_real"] for r in dp]}, f"{name}: column fidelity against epsilon", "mean KL"))
    (out / f"learn_epsilon_mmd_{name}.svg").write_text(plots.lines(
        x, {"mean MMD^2, 2- and 3-way": [r["mmd2"] for r in dp], "default learner (no DP)": [base["mmd2"]] * len(dp)},
        f"{name}: joint fidelity against epsilon", "MMD^2"))
    (out / f"learn_epsilon_utility_{name}.svg").write_text(plots.lines(
        x, {"TSTR AUC": [r["tstr"] for r in dp], "default learner (no DP)": [base["tstr"]] * len(dp),
            "TRTR AUC": [r["trtr"] for r in dp]}, f"{name}: utility against epsilon", "AUC"))
    print(f"\nfigures in {out}")


if __name__ == "__main__":
    main()
