"""BayesianNetworkSynthesizer: learn a discrete Bayesian network (with latent variables) from a table
and sample new rows from it. The API follows SDV and pgmpy: plain constructor parameters,
`fit(table)`, `sample(n)`, `save(path)` / `load(path)`, and the structure open to inspection."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from synthgp.learn import encode, latent, missing, structure, tune, within

if TYPE_CHECKING:  # imported where used: `learn sample` to Parquet needs no pandas (0.2 s of start-up)
    import pandas as pd

FORMAT = "synthgp-bn/1"


def privbayes_bins(n: int) -> int:
    """Bins per continuous column under differential privacy, from n alone (public): fewer bins leave
    more rows per noisy cell. 4 below 2,000 rows, 6 below 20,000, then 10."""
    return 4 if n < 2_000 else 6 if n < 20_000 else 10


class BayesianNetworkSynthesizer:
    """A Bayesian-network synthesizer for mixed tables with missing values.

    max_parents      parent limit per observed node in structure search.
    bins             bins per continuous column (values are sampled back inside their bin); "auto" (default)
                     chooses among 4, 6 and 10 by held-out likelihood (`synthgp.learn.tune`).
    max_levels       a numeric column with at most this many distinct values is treated as categorical.
    categorical, numeric  column names whose type overrides the inferred one.
    penalty          structure score penalty: "bic", "aic", a share of BIC's (e.g. 0.5), or "auto" (default):
                     1, 1/2 or 1/4 of BIC's by held-out likelihood.
    bootstrap        0, or the number of bootstrap resamples to average the structure over.
    bootstrap_threshold   share of resamples an edge needs to be kept.
    restarts         extra tabu hill-climbs from randomly perturbed copies of the best graph.
    latent           maximum number of latent variables to propose (0 for none).
    latent_states    states of each latent variable.
    latent_groups    hand-seeded latent variables, as the regulator's method seeds them: lists of 2-4 column
                     names, each given a hidden parent fitted by EM and kept whatever the score says (its
                     score gain is still reported in fit_info["latent_proposals"]); proposals follow.
    required_edges, forbidden_edges  (parent, child) column pairs the structure must have / must not have.
    rules            conditions every sampled row must meet: pandas `DataFrame.eval` strings, e.g.
                     "not (sex == 'F' and erectile_dysfunction == 1)", or callables df -> bool Series.
                     Violating rows are redrawn from the model, which conditions the joint distribution on
                     the rule and leaves the relative frequencies of every allowed row unchanged.
    smoothing        pseudo-count mixed into each conditional distribution, spread as the child's marginal,
                     so parent combinations seen rarely fall back towards the marginal; "auto" (default)
                     chooses among 1, 4 and 16 by held-out likelihood.
    latent_search    "mi" (default): latents proposed over groups of columns with high mutual information, each
                     fitted by EM; "fci": FCI over `fci_bootstrap` resamples with averaged edge marks
                     (causal-learn), latents where bidirected edges cluster, each refined by structural EM
                     (`synthgp.learn.discover`); its cost is fit_info["latent_seconds"].
    fci_bootstrap    bootstrap resamples for latent_search="fci".
    missing          "indicator" (default): a missing value is a state of its own (the regulator's "missing
                     node"), right when data are not missing at random, and the sample keeps the gaps; "em":
                     values missing at random are marginalised by structural EM (`synthgp.learn.missing`), and
                     the sample has none. fit_info["missing"] says which was used and why.
    epsilon          None (default), or learn under epsilon-differential privacy, PrivBayes-style
                     (`synthgp.learn.privbayes`; float("inf") runs the same procedure without noise); the
                     budget spent is in fit_info["privacy"] and the model file.
    dp_seed          under epsilon: None (default) draws the mechanisms' randomness from the operating system's
                     entropy, never from random_state: anyone who knows the seed could subtract the noise. A
                     number makes an experiment repeatable and voids the guarantee (the account says so).
    bounds           under epsilon: public (low, high) ranges of continuous columns, {column: (low, high)};
                     a column without one has its observed range taken as public (recorded as such).
    random_state     seed for fitting and the default seed for sampling.
    """

    def __init__(self, max_parents: int = 3, bins: int | str = "auto", max_levels: int = 20,
                 categorical: Iterable[str] = (), numeric: Iterable[str] = (), penalty: str | float = "auto",
                 bootstrap: int = 0, bootstrap_threshold: float = 0.5, restarts: int = 5, latent: int = 2,
                 latent_states: int = 3, latent_groups: Iterable[Iterable[str]] = (),
                 required_edges: Iterable[tuple[str, str]] = (), forbidden_edges: Iterable[tuple[str, str]] = (),
                 rules: Iterable[str | Callable[[pd.DataFrame], Any]] = (), smoothing: float | str = "auto",
                 latent_search: str = "mi", fci_bootstrap: int = 10, missing: str = "indicator",
                 epsilon: float | None = None, dp_seed: int | None = None,
                 bounds: dict[str, tuple[float, float]] | None = None,
                 random_state: int | None = 0, verbose: bool = False):
        if penalty not in ("bic", "aic", "auto") and not (isinstance(penalty, (int, float)) and penalty > 0):
            raise ValueError(f"penalty must be 'auto', 'bic', 'aic' or a share of BIC's above 0, not {penalty!r}")
        if smoothing != "auto" and not (isinstance(smoothing, (int, float)) and smoothing >= 0):
            raise ValueError(f"smoothing must be 'auto' or a number >= 0, not {smoothing!r}")
        if bins != "auto" and not (isinstance(bins, int) and bins >= 2):
            raise ValueError(f"bins must be 'auto' or a whole number >= 2, not {bins!r}")
        for name, v, lo in (("max_parents", max_parents, 0), ("latent", latent, 0), ("restarts", restarts, 0),
                            ("latent_states", latent_states, 2), ("bootstrap", bootstrap, 0),
                            ("fci_bootstrap", fci_bootstrap, 1)):
            if not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be a whole number >= {lo}, not {v!r}")
        if epsilon is not None and not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(f"epsilon must be a number above 0 (float('inf') for no noise), not {epsilon!r}")
        if latent_search not in ("mi", "fci"):
            raise ValueError(f"latent_search must be 'mi' or 'fci', not {latent_search!r}")
        if missing not in ("indicator", "em"):
            raise ValueError(f"missing must be 'indicator' or 'em', not {missing!r}")
        if epsilon is not None and missing == "em":
            raise ValueError("epsilon: missing='em' has no privacy account; use missing='indicator'")
        if epsilon is not None and (list(latent_groups) or list(required_edges) or list(forbidden_edges)):
            raise ValueError("epsilon: latent_groups, required_edges and forbidden_edges are not supported under "
                             "differential privacy")
        self.params = dict(max_parents=max_parents, bins=bins, max_levels=max_levels, categorical=list(categorical),
                           numeric=list(numeric), penalty=penalty, bootstrap=bootstrap,
                           bootstrap_threshold=bootstrap_threshold, restarts=restarts, latent=latent, latent_states=latent_states,
                           latent_groups=[list(g) for g in latent_groups],
                           required_edges=[list(e) for e in required_edges],
                           forbidden_edges=[list(e) for e in forbidden_edges], smoothing=smoothing,
                           random_state=random_state, epsilon=epsilon, dp_seed=dp_seed, missing=missing,
                           latent_search=latent_search, fci_bootstrap=fci_bootstrap,
                           bounds={k: list(map(float, v)) for k, v in (bounds or {}).items()})
        self.rules = list(rules)
        self.verbose = verbose
        self.columns: list[encode.Column] = []
        self.nodes: list[str] = []           # observed columns, then latent variables
        self.parents: list[tuple[int, ...]] = []
        self.cards: list[int] = []
        self.cpts: list[np.ndarray] = []     # per node: (q, r) conditional probability table
        self.latent_children: dict[str, list[str]] = {}
        self.fit_info: dict[str, Any] = {}
        self.settings: dict[str, Any] = {}   # bins, penalty, smoothing as used (chosen when "auto")
        self.within: dict[int, dict] = {}     # continuous column -> where in its bin, given observed parents

    # ---- fitting ----------------------------------------------------------------------------------
    def fit(self, table: pd.DataFrame) -> "BayesianNetworkSynthesizer":
        import pandas as pd

        if not isinstance(table, pd.DataFrame) or table.empty:
            raise ValueError("fit() needs a non-empty pandas DataFrame")
        if table.columns.duplicated().any():
            raise ValueError(f"duplicate column names: {table.columns[table.columns.duplicated()].tolist()}")
        t0 = time.perf_counter()
        p = self.params
        rng = np.random.default_rng(p["random_state"])
        table = table.rename(columns=str)
        if p.get("epsilon") is not None:
            return self._fit_private(table, rng, t0)
        self.settings = tune.select(table, p, np.random.default_rng([p["random_state"] or 0, 2]))
        self.fit_info["settings"] = self.settings
        self._log("settings: " + ", ".join(f"{k} {self.settings[k]}" for k in ("bins", "penalty", "smoothing"))
                  + f" ({self.settings['how']})")
        self.columns = encode.infer(table, self.settings["bins"], p["max_levels"], set(p["categorical"]), set(p["numeric"]))
        codes = encode.encode(table, self.columns)
        em_cols = self._missing_info(table, codes)
        names = [c.name for c in self.columns]
        cards = [c.cardinality for c in self.columns]
        ix = {n: i for i, n in enumerate(names)}
        req = [self._edge(e, ix, "required_edges") for e in p["required_edges"]]
        forb = [self._edge(e, ix, "forbidden_edges") for e in p["forbidden_edges"]]
        self._log(f"encoded {len(table):,} rows x {len(names)} columns in {time.perf_counter() - t0:.2f} s")
        t1 = time.perf_counter()
        em = None
        if em_cols:
            em = missing.structural_em(codes.astype(np.int64), cards, p["max_parents"], self.settings["penalty"],
                                       self.settings["smoothing"], rng, req, forb)
            parents = [set(s) for s in em["parents"]]
            codes = missing.impute(codes.astype(np.int64), cards, em["parents"], em["cpts"], rng)  # for latents, within-bin
            self.fit_info["missing"].update(em_iterations=em["iterations"], score_trace=em["trace"])
        scorer = structure.Scorer(codes, cards, self.settings["penalty"])  # its cache of local scores serves the latent step too
        if em:  # the structure came from structural EM
            self.fit_info["missing"]["note"] = "bootstrap averaging is not used with EM" if p["bootstrap"] else None
        elif p["bootstrap"]:
            parents, info = structure.bootstrap(codes, cards, p["max_parents"], p["bootstrap"], p["bootstrap_threshold"],
                                                rng, self.settings["penalty"], req, forb)
            self.fit_info["edge_frequency"] = info["edge_frequency"].round(3).tolist()
        else:
            parents = structure.search(scorer, len(names), p["max_parents"], rng,
                                       p["restarts"], 3, req, forb)
        self.fit_info["structure_seconds"] = round(time.perf_counter() - t1, 3)
        self._log(f"structure: {sum(len(s) for s in parents)} edges in {self.fit_info['structure_seconds']:.2f} s")
        self.nodes, self.cards = list(names), list(cards)
        self.parents = [tuple(sorted(s)) for s in parents]
        self.cpts = list(em["cpts"]) if em else [self._cpt(codes, j, self.parents[j]) for j in range(len(names))]
        t2 = time.perf_counter()
        self._add_latents(codes, scorer, rng, req)
        self.fit_info["latent_seconds"] = round(time.perf_counter() - t2, 3)
        self.within = within.fit(table, self.columns, codes, self.cards, self.parents,
                                 max(self.settings["smoothing"], 1e-6), rng)
        self.fit_info.update(rows=len(table), seconds=round(time.perf_counter() - t0, 3))
        self._log(f"fitted in {self.fit_info['seconds']:.2f} s; latent variables: {list(self.latent_children) or 'none'}")
        return self

    def _fit_private(self, table: pd.DataFrame, rng: np.random.Generator, t0: float) -> "BayesianNetworkSynthesizer":
        from synthgp.learn import privbayes

        p = self.params
        bins = p["bins"] if p["bins"] != "auto" else privbayes_bins(len(table))
        self.settings = {"bins": bins, "penalty": None, "smoothing": 0.0,
                         "how": "fixed under differential privacy (tuning would read the data without noise)"}
        cols = encode.infer(table, bins, p["max_levels"], set(p["categorical"]), set(p["numeric"]))
        eps = float(p["epsilon"])
        out = privbayes.fit(table, cols, eps, bins, p["max_parents"], p.get("bounds") or {},
                            np.random.default_rng(p.get("dp_seed")))  # not random_state: see dp_seed
        out["privacy"]["randomness"] = ("operating-system entropy" if p.get("dp_seed") is None else
                                        "seeded by dp_seed: repeatable, and no guarantee against whoever knows the seed")
        self.columns, self.parents, self.cpts, self.cards = out["columns"], out["parents"], out["cpts"], out["cards"]
        self.nodes = [c.name for c in self.columns]
        self.latent_children, self.within = {}, {}
        self.fit_info.update(settings=self.settings, privacy=out["privacy"], latent_proposals=[],
                             rows=len(table), seconds=round(time.perf_counter() - t0, 3))
        self._log(f"fitted under epsilon = {eps:g} in {self.fit_info['seconds']:.2f} s: {len(self.edges)} edges")
        return self

    def _missing_info(self, table: pd.DataFrame, codes: np.ndarray) -> list[int]:
        """Under missing='em', turn each incomplete column's missing state into unknown cells (code -1)."""
        incomplete = [j for j, c in enumerate(self.columns) if c.has_missing]
        if not incomplete:
            return []
        how = self.params.get("missing", "indicator")
        self.fit_info["missing"] = {"method": {"em": "structural EM (missing at random)",
                                               "indicator": "missing node (a state of its own)"}[how],
                                    "why": missing.WHY[how], "columns": [self.columns[j].name for j in incomplete]}
        if how != "em":
            return []
        for j in incomplete:
            codes[table[self.columns[j].name].isna().to_numpy(), j] = -1
            self.columns[j].has_missing = False
        return incomplete

    def _edge(self, e, ix, what):
        if len(e) != 2 or e[0] not in ix or e[1] not in ix:
            raise ValueError(f"{what}: {e!r} does not name two columns of the table (columns: {list(ix)})")
        return ix[e[0]], ix[e[1]]

    def _column(self, name: str, what: str) -> int:
        if name not in self.nodes:
            raise ValueError(f"{what}: {name!r} is not a column of the table (columns: {self.nodes})")
        return self.nodes.index(name)

    def _log(self, msg: str) -> None:
        if self.verbose:
            print(f"synthgp learn: {msg}", flush=True)

    def _cpt(self, codes: np.ndarray, j: int, parents: tuple[int, ...]) -> np.ndarray:
        return tune.cpt(codes, self.cards, j, parents, self.settings["smoothing"])

    def _add_latents(self, codes: np.ndarray, sc: structure.Scorer, rng: np.random.Generator, required) -> None:
        p = self.params
        seeded = [[self._column(c, "latent_groups") for c in g] for g in p.get("latent_groups", [])]
        for g in seeded:
            if not 2 <= len(set(g)) <= 4:
                raise ValueError(f"latent_groups: each group names 2-4 different columns, not {[self.nodes[i] for i in g]}")
        fci = p.get("latent_search") == "fci" and p["latent"] > 0
        groups = seeded + (latent.propose(codes, self.cards, p["latent"]) if p["latent"] and not fci else [])
        n = len(codes)
        pen = structure.penalty_weight(self.settings["penalty"], n)
        tried = []
        for g in groups:
            if any(self.nodes[i] in ch for ch in self.latent_children.values() for i in g):
                continue
            gset = set(g)
            # the latent replaces edges among the group, unless the user required them
            others = {ch: tuple(sorted(q for q in self.parents[ch] if q not in gset or (q, ch) in required)) for ch in g}
            # the observed-only alternative: the group members' current families, scored the same way
            base = sum(sc.local(ch, self.parents[ch]) for ch in g)
            f = latent.em(codes, self.cards, g, others, p["latent_states"], rng)
            gain = (f.loglik - pen * f.n_params) - base
            name = f"latent_{len(self.latent_children) + 1}"
            tried.append({"children": [self.nodes[i] for i in g], "score_gain": round(gain, 1),
                          "em_iterations": f.iterations, "kept": gain > 0 or g in seeded, "seeded": g in seeded})
            if gain <= 0 and g not in seeded:
                continue
            L = len(self.nodes)
            self.nodes.append(name)
            self.cards.append(p["latent_states"])
            self.parents.append(())
            self.cpts.append(f.prior[None, :])
            for ch in g:
                # store as (q_other * k, r) with L as the last parent (codes vary fastest over L)
                self.parents[ch] = others[ch] + (L,)
                self.cpts[ch] = f.cpts[ch].reshape(-1, self.cards[ch])
            self.latent_children[name] = [self.nodes[i] for i in g]
        self.fit_info["latent_proposals"] = tried
        if fci:
            self._discover_latents(codes, rng, required)

    def _discover_latents(self, codes: np.ndarray, rng: np.random.Generator, required) -> None:
        from synthgp.learn import discover

        p = self.params
        obs = len(self.columns)
        full = np.concatenate([codes.astype(np.int64), np.full((len(codes), len(self.nodes) - obs), -1)], axis=1)
        res = discover.search(full, list(self.cards), list(self.parents), list(self.cpts), p["latent_states"],
                              self.settings["penalty"], self.settings["smoothing"], p["max_parents"], rng,
                              rounds=p["fci_bootstrap"], required=required)
        self.cards, self.parents, self.cpts = res["cards"], [tuple(q) for q in res["parents"]], res["cpts"]
        for L in range(len(self.nodes), len(self.cards)):
            self.nodes.append(f"latent_{L - obs + 1}")
        for L in range(obs, len(self.nodes)):  # children as structural EM left them
            self.latent_children[self.nodes[L]] = [self.nodes[j] for j, ps in enumerate(self.parents) if L in ps]
        self.latent_children = {k: v for k, v in self.latent_children.items() if v}
        names = lambda ix: [self.nodes[i] if i < len(self.nodes) else f"latent_{i - obs + 1}" for i in ix]  # noqa: E731
        self.fit_info["latent_discovery"] = {
            "method": f"FCI (G-squared, alpha 0.01, depth 2) over {p['fci_bootstrap']} bootstrap resamples; "
                      "pairs scored bidirected 1, o-> 0.5, o-o 0.33; structural EM per proposal",
            "proposals": [{**t, "fci_group": names(t["fci_group"]), "children": names(t["children"])} for t in res["proposals"]],
            "kept": [self.nodes[L] for L in res["latents"]], "fci_seconds": res["fci_seconds"],
            "structural_em_seconds": res["sem_seconds"],
            "pair_scores": {f"{self.nodes[a]}~{self.nodes[b]}": round(float(res["pair_scores"][a, b]), 2)
                            for a in range(obs) for b in range(a + 1, obs) if res["pair_scores"][a, b] > 0}}

    # ---- inspection -------------------------------------------------------------------------------
    @property
    def edges(self) -> list[tuple[str, str]]:
        self._check_fitted()
        return [(self.nodes[p], self.nodes[j]) for j, ps in enumerate(self.parents) for p in ps]

    @property
    def latent_variables(self) -> dict[str, list[str]]:
        self._check_fitted()
        return dict(self.latent_children)

    def cpd(self, node: str) -> pd.DataFrame:
        """The conditional distribution of `node`: one row per parent combination, one column per state."""
        import pandas as pd

        self._check_fitted()
        if node not in self.nodes:
            raise KeyError(f"{node!r} is not a node; nodes: {self.nodes}")
        j = self.nodes.index(node)
        ps = self.parents[j]
        index = pd.MultiIndex.from_product([self._states(q) for q in ps], names=[self.nodes[q] for q in ps]) \
            if ps else pd.Index(["(none)"], name="parents")
        return pd.DataFrame(self.cpts[j], index=index, columns=self._states(j))

    def latent_posterior(self, table: pd.DataFrame) -> pd.DataFrame:
        """For each row of `table` (the observed columns) and each latent variable: its most probable
        state and that state's posterior probability, P(L | the row) by Bayes over L's children."""
        import pandas as pd

        self._check_fitted()
        codes = encode.encode(table.rename(columns=str), self.columns).astype(np.int64)
        out = {}
        for name in self.latent_children:
            lj = self.nodes.index(name)
            k = self.cards[lj]
            logp = np.tile(np.log(self.cpts[lj][0]), (len(codes), 1))
            for ch in (j for j, ps in enumerate(self.parents) if lj in ps):
                cfg, _ = structure.config(codes, self.cards, self.parents[ch][:-1])  # L is the last parent
                for s in range(k):
                    logp[:, s] += np.log(self.cpts[ch][cfg * k + s, codes[:, ch]])
            post = np.exp(logp - logp.max(1, keepdims=True))
            post /= post.sum(1, keepdims=True)
            out[name] = post.argmax(1)
            out[f"{name}_probability"] = post.max(1)
        return pd.DataFrame(out, index=table.index)

    def _states(self, j: int) -> list[str]:
        return self.columns[j].state_names() if j < len(self.columns) else [f"state {s}" for s in range(self.cards[j])]

    def _check_fitted(self) -> None:
        if not self.nodes:
            raise RuntimeError("the synthesizer is not fitted: call fit(table) or load(path) first")

    # ---- sampling ---------------------------------------------------------------------------------
    def _order(self) -> list[int]:
        done, order = set(), []
        while len(order) < len(self.nodes):
            for j in range(len(self.nodes)):
                if j not in done and all(q in done for q in self.parents[j]):
                    done.add(j)
                    order.append(j)
        return order

    def _sample_codes(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, structure.Draws]:
        # column-major, as config() reads columns; int32 (states are few): a quarter of int64's fresh pages to fault in
        codes = np.zeros((n, len(self.nodes)), dtype=np.int32, order="F")
        draws = structure.Draws(n)
        for j in self._order():
            draws.node(codes, self.cards, self.parents[j], self.cpts[j], rng, codes[:, j])
        return codes[:, : len(self.columns)], draws

    def sample(self, num_rows: int, random_state: int | None = None) -> pd.DataFrame:
        """`num_rows` new rows. The same random_state (default: the constructor's) gives the same rows."""
        rng = self._rng(num_rows, random_state)
        out = self._decode(*self._sample_codes(num_rows, rng), rng)
        if not self.rules or num_rows == 0:
            return out
        parts, have, drawn = [], 0, 0
        batch = out
        for _ in range(1000):
            ok = batch[self._allowed(batch)]
            parts.append(ok)
            have += len(ok)
            drawn += len(batch)
            if have >= num_rows:
                import pandas as pd

                return pd.concat(parts, ignore_index=True).iloc[:num_rows]
            if drawn > 1000 * num_rows + 10_000 and have < drawn * 1e-3:
                break
            need = int((num_rows - have) * drawn / max(have, 1) * 1.1) + 16
            batch = self._decode(*self._sample_codes(need, rng), rng)
        raise RuntimeError("the rules reject almost every sampled row: check them against the data")

    def sample_arrays(self, num_rows: int, random_state: int | None = None) -> dict[str, tuple[np.ndarray, bool]] | None:
        """The rows `sample` gives, built without pandas: `encode.arrays` with text columns as codes into
        their levels (`tables.write_table` writes them to Parquet); None where only `sample` can give
        them (rules, or a column of a pandas-only type such as Int64, or of mixed values)."""
        if self.rules or not all(encode.columnar(c) for c in self.columns):
            return None
        rng = self._rng(num_rows, random_state)
        codes, draws = self._sample_codes(num_rows, rng)
        return encode.arrays(codes, self.columns, rng, self._positions(codes, draws, rng), text_codes=True)

    def _rng(self, num_rows: int, random_state: int | None) -> np.random.Generator:
        self._check_fitted()
        if not isinstance(num_rows, (int, np.integer)) or num_rows < 0:
            raise ValueError(f"num_rows must be a whole number >= 0, not {num_rows!r}")
        seed = self.params["random_state"] if random_state is None else random_state
        return np.random.default_rng([seed if seed is not None else 0, 1])

    def _positions(self, codes: np.ndarray, draws: structure.Draws, rng: np.random.Generator) -> dict | None:
        return within.draw(codes, self.cards, self.within, rng, draws) if self.within else None

    def _decode(self, codes: np.ndarray, draws: structure.Draws, rng: np.random.Generator) -> pd.DataFrame:
        return encode.decode(codes, self.columns, rng, self._positions(codes, draws, rng))

    def _allowed(self, df: pd.DataFrame) -> np.ndarray:
        ok = np.ones(len(df), dtype=bool)
        for r in self.rules:
            try:
                v = r(df) if callable(r) else df.eval(r)
            except Exception as exc:  # noqa: BLE001 - a rule is user code; say which one failed
                raise ValueError(f"rule {r!r} could not be evaluated on the sampled table: {exc}") from None
            ok &= np.asarray(v, dtype=bool)
        return ok

    # ---- persistence ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """One .npz file (no pickles): the structure and metadata as JSON, the tables as arrays."""
        self._check_fitted()
        if any(callable(r) for r in self.rules):
            raise ValueError("rules given as Python functions cannot be saved; give them as strings")
        meta = {"format": FORMAT, "params": self.params, "rules": self.rules,
                "columns": [c.to_dict() for c in self.columns], "nodes": self.nodes, "cards": self.cards,
                "parents": [list(p) for p in self.parents], "latent_children": self.latent_children,
                "fit_info": self.fit_info, "within": {str(j): w["parents"] for j, w in self.within.items()}}
        path = Path(path)
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **{f"cpt_{j}": t for j, t in enumerate(self.cpts)},
                            **{f"within_{j}": w["table"] for j, w in self.within.items()})
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BayesianNetworkSynthesizer":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                cpts = [z[f"cpt_{j}"] for j in range(len(meta["nodes"]))]
                tables = {int(j): {"parents": ps, "table": z[f"within_{j}"]} for j, ps in meta.get("within", {}).items()}
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path} is not a synthgp model file: {exc}") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {meta.get('format')!r}, this synthgp reads {FORMAT!r}")
        p = meta["params"]
        if p.get("epsilon") == "inf":
            p["epsilon"] = float("inf")
        self = cls(**{k: v for k, v in p.items() if k not in ("required_edges", "forbidden_edges")},
                   required_edges=[tuple(e) for e in p["required_edges"]],
                   forbidden_edges=[tuple(e) for e in p["forbidden_edges"]], rules=meta["rules"])
        self.columns = [encode.Column(**c) for c in meta["columns"]]
        self.nodes, self.cards = meta["nodes"], meta["cards"]
        self.parents = [tuple(q) for q in meta["parents"]]
        self.latent_children, self.fit_info, self.cpts = meta["latent_children"], meta["fit_info"], cpts
        self.settings = self.fit_info.get("settings", {})
        self.within = tables
        return self
