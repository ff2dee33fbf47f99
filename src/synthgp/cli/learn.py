"""`synthgp learn fit|sample|evaluate`: a Bayesian-network synthesizer learned from a real table."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from synthgp.cli import Parser, comma_list, fail, formatter


def _edge(text: str) -> tuple[str, str]:
    a, sep, b = text.partition("->")
    if not sep or not a.strip() or not b.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write an edge as PARENT->CHILD")
    return a.strip(), b.strip()


def _auto_int(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number or auto") from None


def _penalty(text: str) -> float | str:
    if text in ("auto", "bic", "aic"):
        return text
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give auto, bic, aic or a share of BIC's penalty above 0 (e.g. 0.5)")
    return v


def _smoothing(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give auto or a number >= 0")
    return v


def _epsilon(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a privacy budget above 0 (e.g. 1), or inf for no noise")
    return v


def add_parser(sub) -> None:
    lp = sub.add_parser("learn", formatter_class=formatter, help="learn a Bayesian network from a real table; sample; evaluate",
                        description=textwrap.dedent("""\
            Learn a Bayesian-network synthesizer (with latent variables) from a table, sample new rows
            from it, and measure fidelity, utility and privacy. Meant to run inside the data owner's
            secure environment: nothing leaves the machine.

            examples:
              synthgp learn fit real.csv --out model.npz --rule "not (sex == 'F' and impotence == 1)"
              synthgp learn sample model.npz --rows 100000 --out synthetic.parquet
              synthgp learn evaluate real.csv synthetic.parquet --out report --target death --holdout holdout.csv"""))
    lsub = lp.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    lf = lsub.add_parser("fit", formatter_class=formatter, help="learn a model from DATA (CSV or Parquet)")
    lf.add_argument("data", type=Path, metavar="DATA")
    lf.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write (.npz)")
    lf.add_argument("--categorical", type=comma_list, default=(), metavar="COLS", help="columns to treat as categorical")
    lf.add_argument("--numeric", type=comma_list, default=(), metavar="COLS", help="columns to treat as continuous")
    lf.add_argument("--max-parents", type=int, default=3, metavar="K")
    lf.add_argument("--bins", type=_auto_int, default="auto", metavar="B",
                    help="bins per continuous column (default auto: 4, 6 or 10 by held-out likelihood)")
    lf.add_argument("--penalty", type=_penalty, default="auto", metavar="P",
                    help="structure score penalty: auto (default: 1, 1/2 or 1/4 of BIC's by held-out likelihood), "
                         "bic, aic, or a share of BIC's")
    lf.add_argument("--smoothing", type=_smoothing, default="auto", metavar="A",
                    help="prior pseudo-rows per parent combination (default auto: 1, 4 or 16 by held-out likelihood)")
    lf.add_argument("--latent", type=int, default=2, metavar="L", help="latent variables to propose (default 2; 0 for none)")
    lf.add_argument("--latent-states", type=int, default=3, metavar="S")
    lf.add_argument("--bootstrap", type=int, default=0, metavar="R", help="average the structure over R bootstrap resamples")
    lf.add_argument("--require", type=_edge, action="append", default=[], metavar="A->B", help="an edge the network must have")
    lf.add_argument("--forbid", type=_edge, action="append", default=[], metavar="A->B", help="an edge the network must not have")
    lf.add_argument("--rule", action="append", default=[], metavar="EXPR",
                    help="a condition every sampled row must meet (pandas eval syntax)")
    lf.add_argument("--latent-search", choices=("mi", "fci"), default="mi",
                    help="mi (default): latents over groups of strongly linked columns; fci: FCI over bootstrap "
                         "resamples, latents where bidirected edges cluster, structural EM (slower)")
    lf.add_argument("--fci-bootstrap", type=int, default=10, metavar="R", help="resamples for --latent-search fci")
    lf.add_argument("--missing", choices=("indicator", "em"), default="indicator",
                    help="indicator (default): a gap is a state of its own, kept in the sample (data not missing at "
                         "random); em: values missing at random are marginalised by structural EM")
    lf.add_argument("--epsilon", type=_epsilon, default=None, metavar="E",
                    help="learn under E-differential privacy, PrivBayes-style (noisy structure and tables; "
                         "no tuning, latents or seeded edges); the budget spent goes into the model file")
    lf.add_argument("--seed", type=int, default=0, metavar="S")
    lf.add_argument("--overwrite", action="store_true")
    ls = lsub.add_parser("sample", formatter_class=formatter, help="sample rows from a fitted model")
    ls.add_argument("model", type=Path, metavar="MODEL")
    ls.add_argument("--rows", type=int, required=True, metavar="N")
    ls.add_argument("--out", type=Path, required=True, metavar="FILE", help="output .csv or .parquet")
    ls.add_argument("--seed", type=int, default=None, metavar="S", help="default: the model's own seed")
    ls.add_argument("--overwrite", action="store_true")
    le = lsub.add_parser("evaluate", formatter_class=formatter, help="fidelity, utility and privacy of SYNTH against REAL")
    le.add_argument("real", type=Path, metavar="REAL", help="the table the model learned from")
    le.add_argument("synth", type=Path, metavar="SYNTH")
    le.add_argument("--out", type=Path, required=True, metavar="REPORT", help="report folder (replaced whole)")
    le.add_argument("--holdout", type=Path, metavar="FILE", help="real rows the model never saw (strongly advised)")
    le.add_argument("--target", metavar="COL", help="a two-valued column for the TSTR/TRTR utility test")
    le.add_argument("--exclude", type=comma_list, default=(), metavar="COLS", help="columns left out of the utility model")
    le.add_argument("--secret", type=comma_list, default=(), metavar="COLS", help="columns to attack by attribute inference")
    le.add_argument("--model", type=Path, metavar="MODEL", help="draw the model's network in the report")
    le.add_argument("--shadow", type=int, default=0, metavar="G",
                    help="also run the shadow-model membership attack with G real games per target (needs --model; "
                         "refits the model about 3 x (20 + G) times; 16 is a fair start)")
    le.add_argument("--seed", type=int, default=0, metavar="S")
    lp.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    try:
        return {"fit": _fit, "sample": _sample, "evaluate": _evaluate}[a.action](a)
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError, KeyError) as exc:
        return fail(str(exc).strip("'\""))


def _fit(a: argparse.Namespace) -> int:
    from synthgp.learn import BayesianNetworkSynthesizer, evaluation

    if a.out.exists() and not a.overwrite:
        return fail(f"{a.out} exists; add --overwrite to replace it")
    df = evaluation.read_table(a.data)
    m = BayesianNetworkSynthesizer(max_parents=a.max_parents, bins=a.bins, penalty=a.penalty, smoothing=a.smoothing, categorical=a.categorical,
                                   numeric=a.numeric, latent=a.latent, latent_states=a.latent_states,
                                   bootstrap=a.bootstrap, required_edges=a.require, forbidden_edges=a.forbid,
                                   rules=a.rule, missing=a.missing, latent_search=a.latent_search, fci_bootstrap=a.fci_bootstrap, epsilon=a.epsilon, random_state=a.seed, verbose=True).fit(df)
    m.sample(min(1000, len(df)))  # the rules must hold on the model's own samples before it is saved
    m.save(a.out)
    print(f"Wrote {a.out}: {len(m.edges)} edges, latent variables {m.latent_variables or 'none'}")
    if a.epsilon is not None:
        sp = m.fit_info["privacy"]["spent"]
        print(f"  privacy budget spent: epsilon {a.epsilon:g} (columns {sp['columns']}, structure {sp['structure']}, "
              f"tables {sp['tables']}); see the model's fit_info['privacy'] for what is taken as public")
    if not m.edges and len(df.columns) > 1:
        print(f"  no edges: every column was learned on its own. With {len(df):,} rows the penalty may outweigh "
              "the links; try fewer --bins (e.g. 4) or a smaller --penalty (e.g. aic), or leave both to auto",
              file=sys.stderr)
    return 0


def _sample(a: argparse.Namespace) -> int:
    from synthgp.learn import BayesianNetworkSynthesizer, tables

    if a.rows < 0:
        return fail(f"--rows must be >= 0, not {a.rows}")
    m = BayesianNetworkSynthesizer.load(a.model)
    parquet = a.out.suffix.lower() in (".parquet", ".pq")
    rows = m.sample_arrays(a.rows, a.seed) if parquet else None  # without pandas where it can (0.2 s of start-up)
    tables.write_table((rows, m.columns) if rows is not None else m.sample(a.rows, a.seed), a.out, a.overwrite)
    print(f"Wrote {a.rows:,} rows to {a.out}")
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from synthgp.learn import BayesianNetworkSynthesizer, evaluation

    real, synth = evaluation.read_table(a.real), evaluation.read_table(a.synth)
    holdout = evaluation.read_table(a.holdout) if a.holdout else None
    model = BayesianNetworkSynthesizer.load(a.model) if a.model else None
    if a.shadow and model is None:
        return fail("--shadow needs --model: the attack refits the same learner")
    if a.shadow and a.shadow < 4:
        return fail(f"--shadow needs at least 4 games per target, not {a.shadow}")
    gen = None
    if a.shadow:
        from synthgp.learn import shadow

        gen = shadow.generator(model)
    html, r = evaluation.write_report(real, synth, a.out, model=model, target=a.target, holdout=holdout,
                                      exclude=a.exclude, secrets=a.secret, seed=a.seed, generator=gen,
                                      shadow_games=a.shadow or 16)
    s = r["summary"]
    print(f"{s['columns_kl_within_band']} of {s['columns']} columns within the real-vs-real KL band; "
          f"exact copies {s['exact_copies']}" + (f"; AUC TSTR {s['tstr_auc']:.3f} vs TRTR {s['trtr_auc']:.3f}"
                                                  if s["tstr_auc"] is not None else ""))
    print(f"Wrote {html} and report.json beside it")
    return 0
