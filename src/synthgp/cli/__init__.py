"""The `synthgp` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import textwrap
from pathlib import Path

from synthgp import __version__
from synthgp.formats import FORMATS, FORMATS_INFO, describe

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors also exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def _formats(text: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(",") if f.strip())


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="synthgp", formatter_class=_formatter,
        description=textwrap.dedent("""\
            Build an artificial English GP practice: patients who never existed, registered with
            practices that never existed, with records in the shapes GP data comes in.

            examples:
              synthgp generate --patients 20000 --seed 1 --out practice
              synthgp scenario show
              synthgp scenario check my-scenario.toml
              synthgp calibrate practice
              synthgp evaluate practice
              synthgp compare practice other-practice --out compare-report
              synthgp export practice --format cprd-cvd"""))
    p.add_argument("--version", action="version", version=f"synthgp {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("generate", formatter_class=_formatter, help="generate a practice population",
                       description=textwrap.dedent("""\
            Generate practices, staff and patients into OUT: OUT/synthgp.duckdb (every table) and
            OUT/aurum/ (CPRD Aurum text files). The same seed gives the same output, whatever the
            number of workers or the block size. OUT must not exist unless --overwrite is given.

            examples:
              synthgp generate --patients 100000 --seed 42 --out out/sw
              synthgp generate --patients 1000000 --seed 1 --out big --workers 2
              synthgp generate --patients 5000 --seed 7 --out test --scenario my.toml --format aurum"""))
    g.add_argument("--patients", type=int, required=True, metavar="N",
                   help="patient records to generate (everyone registered at any time in the period)")
    g.add_argument("--seed", type=int, required=True, metavar="S", help="random seed (a whole number >= 0)")
    g.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    g.add_argument("--scenario", type=Path, metavar="FILE", help="scenario file (TOML or YAML); default: South West England")
    g.add_argument("--start", type=_date, metavar="DATE", help="study start (default: ten years before --end)")
    g.add_argument("--end", type=_date, metavar="DATE", help="study end (default 2024-12-31)")
    g.add_argument("--format", type=_formats, default=("duckdb", "aurum"), metavar="LIST",
                   help=f"comma-separated output formats (default duckdb,aurum; available: {', '.join(FORMATS)})")
    g.add_argument("--workers", type=int, default=1, metavar="K", help="worker processes (a local Dask cluster if > 1)")
    g.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--block-size", type=int, default=None, metavar="B", help="patients per block (default 50000)")
    g.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    g.add_argument("--population-only", action="store_true",
                   help="practices, staff and registered patients only: no care pathways (much faster)")
    g.add_argument("--quiet", action="store_true", help="no progress bar or messages")

    s = sub.add_parser("scenario", formatter_class=_formatter, help="show or check a scenario",
                       description=textwrap.dedent("""\
            examples:
              synthgp scenario show                  # the default scenario, with units and sources
              synthgp scenario show --file my.toml   # the effective scenario for a file
              synthgp scenario check my.yaml         # validate; exit 2 with the reasons if invalid"""))
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    show = ssub.add_parser("show", help="print the effective scenario with units and sources")
    show.add_argument("--file", type=Path, metavar="FILE", help="scenario file to apply over the defaults")
    check = ssub.add_parser("check", help="validate a scenario file")
    check.add_argument("file", type=Path, metavar="FILE")
    x = sub.add_parser("export", formatter_class=_formatter, help="write more formats from an existing output",
                       description=textwrap.dedent("""\
            Write further formats from an output's DuckDB file, without simulating again. Formats:
            {formats}

            examples:
              synthgp export practice --format cprd-cvd
              synthgp export practice --format aurum,cprd-cvd --overwrite""").format(formats=describe("  ")))
    x.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate`")
    x.add_argument("--format", type=_formats, required=True, metavar="LIST", help="comma-separated formats")
    x.add_argument("--overwrite", action="store_true", help="replace a format's folder if it exists")

    c = sub.add_parser("calibrate", formatter_class=_formatter, help="compare an output with published figures",
                       description=textwrap.dedent("""\
            Print each published calibration figure beside the generated practice's own, marking
            which figures a parameter was fitted to (calibration) and which not (validation).
            Exit status 1 if any figure is outside its tolerance.

            example:
              synthgp calibrate practice"""))
    c.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate`")
    v = sub.add_parser("serve", formatter_class=_formatter, help="browse an output and serve it as a FHIR API",
                       description=textwrap.dedent("""\
            Start the record viewer (pages for clinicians: find a patient, the record, the BP chart,
            the practice dashboard and recall lists) and a read-only FHIR R4 API under /fhir, over an
            output's DuckDB file. Binds to 127.0.0.1 unless told otherwise.

            examples:
              synthgp serve practice                      # then open http://127.0.0.1:8000/
              curl 'http://127.0.0.1:8000/fhir/Observation?code=75367002&_count=5'"""))
    v.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate` (with duckdb)")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    e = sub.add_parser("evaluate", formatter_class=_formatter, help="report on a generated practice (HTML + JSON)",
                       description=textwrap.dedent("""\
            Write an offline HTML report and the same figures as JSON: a picture of the practice
            (plots), every calibration figure beside the generated one, the QOF indicators and NICE
            NG136 conformance audited from the record, the record invariants, and how the practice
            did against the ground truth. Exit status 1 if a record invariant is violated.

            examples:
              synthgp evaluate practice                  # writes practice/evaluation/report.html
              synthgp evaluate practice --out reports/practice"""))
    e.add_argument("dir", type=Path, metavar="DIR", help="an output folder written by `synthgp generate` (with duckdb)")
    e.add_argument("--out", type=Path, metavar="REPORT", help="report folder (default DIR/evaluation; replaced whole)")
    m = sub.add_parser("compare", formatter_class=_formatter, help="fidelity and privacy against a reference extract",
                       description=textwrap.dedent("""\
            Compare a generated practice with a reference extract in CPRD Aurum format (a real one, or
            another synthetic one): per-variable distances (KS, chi-squared, total variation, KL against
            a real-vs-real band), associations between variables, longitudinal measures, and privacy
            (distance to closest record and exact copies, each beside a reference holdout's own figure).
            Either side may be a synthgp output folder or a folder of Aurum .txt files.

            examples:
              synthgp compare practice other-practice --out compare-report
              synthgp compare practice /secure/aurum-extract --out report"""))
    m.add_argument("synth", type=Path, metavar="SYNTH", help="the generated practice (output folder or Aurum folder)")
    m.add_argument("reference", type=Path, metavar="REFERENCE", help="the reference extract (Aurum folder)")
    m.add_argument("--out", type=Path, required=True, metavar="REPORT", help="report folder (replaced whole)")
    m.add_argument("--seed", type=int, default=0, metavar="S", help="seed for the random splits and samples (default 0)")
    lp = sub.add_parser("learn", formatter_class=_formatter, help="learn a Bayesian network from a real table; sample; evaluate",
                        description=textwrap.dedent("""\
            Learn a Bayesian-network synthesizer (with latent variables) from a table, sample new rows
            from it, and measure fidelity, utility and privacy. Meant to run inside the data owner's
            secure environment: nothing leaves the machine.

            examples:
              synthgp learn fit real.csv --out model.npz --rule "not (sex == 'F' and impotence == 1)"
              synthgp learn sample model.npz --rows 100000 --out synthetic.parquet
              synthgp learn evaluate real.csv synthetic.parquet --out report --target death --holdout holdout.csv"""))
    lsub = lp.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)
    lf = lsub.add_parser("fit", formatter_class=_formatter, help="learn a model from DATA (CSV or Parquet)")
    lf.add_argument("data", type=Path, metavar="DATA")
    lf.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write (.npz)")
    lf.add_argument("--categorical", type=_names, default=(), metavar="COLS", help="columns to treat as categorical")
    lf.add_argument("--numeric", type=_names, default=(), metavar="COLS", help="columns to treat as continuous")
    lf.add_argument("--max-parents", type=int, default=3, metavar="K")
    lf.add_argument("--bins", type=int, default=10, metavar="B", help="bins per continuous column (default 10)")
    lf.add_argument("--penalty", choices=("bic", "aic"), default="bic",
                    help="structure score: bic (default) or aic, which keeps weaker links (a few hundred rows)")
    lf.add_argument("--latent", type=int, default=2, metavar="L", help="latent variables to propose (default 2; 0 for none)")
    lf.add_argument("--latent-states", type=int, default=3, metavar="S")
    lf.add_argument("--bootstrap", type=int, default=0, metavar="R", help="average the structure over R bootstrap resamples")
    lf.add_argument("--require", type=_edge, action="append", default=[], metavar="A->B", help="an edge the network must have")
    lf.add_argument("--forbid", type=_edge, action="append", default=[], metavar="A->B", help="an edge the network must not have")
    lf.add_argument("--rule", action="append", default=[], metavar="EXPR",
                    help="a condition every sampled row must meet (pandas eval syntax)")
    lf.add_argument("--seed", type=int, default=0, metavar="S")
    lf.add_argument("--overwrite", action="store_true")
    ls = lsub.add_parser("sample", formatter_class=_formatter, help="sample rows from a fitted model")
    ls.add_argument("model", type=Path, metavar="MODEL")
    ls.add_argument("--rows", type=int, required=True, metavar="N")
    ls.add_argument("--out", type=Path, required=True, metavar="FILE", help="output .csv or .parquet")
    ls.add_argument("--seed", type=int, default=None, metavar="S", help="default: the model's own seed")
    ls.add_argument("--overwrite", action="store_true")
    le = lsub.add_parser("evaluate", formatter_class=_formatter, help="fidelity, utility and privacy of SYNTH against REAL")
    le.add_argument("real", type=Path, metavar="REAL", help="the table the model learned from")
    le.add_argument("synth", type=Path, metavar="SYNTH")
    le.add_argument("--out", type=Path, required=True, metavar="REPORT", help="report folder (replaced whole)")
    le.add_argument("--holdout", type=Path, metavar="FILE", help="real rows the model never saw (strongly advised)")
    le.add_argument("--target", metavar="COL", help="a two-valued column for the TSTR/TRTR utility test")
    le.add_argument("--exclude", type=_names, default=(), metavar="COLS", help="columns left out of the utility model")
    le.add_argument("--secret", type=_names, default=(), metavar="COLS", help="columns to attack by attribute inference")
    le.add_argument("--model", type=Path, metavar="MODEL", help="draw the model's network in the report")
    le.add_argument("--seed", type=int, default=0, metavar="S")
    return p


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _edge(text: str) -> tuple[str, str]:
    a, sep, b = text.partition("->")
    if not sep or not a.strip() or not b.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write an edge as PARENT->CHILD")
    return a.strip(), b.strip()


def _cmd_learn(a: argparse.Namespace) -> int:
    from synthgp.learn import BayesianNetworkSynthesizer, evaluation

    try:
        if a.action == "fit":
            if a.out.exists() and not a.overwrite:
                return _fail(f"{a.out} exists; add --overwrite to replace it")
            df = evaluation.read_table(a.data)
            m = BayesianNetworkSynthesizer(max_parents=a.max_parents, bins=a.bins, penalty=a.penalty, categorical=a.categorical,
                                           numeric=a.numeric, latent=a.latent, latent_states=a.latent_states,
                                           bootstrap=a.bootstrap, required_edges=a.require, forbidden_edges=a.forbid,
                                           rules=a.rule, random_state=a.seed, verbose=True).fit(df)
            m.sample(min(1000, len(df)))  # the rules must hold on the model's own samples before it is saved
            m.save(a.out)
            print(f"Wrote {a.out}: {len(m.edges)} edges, latent variables {m.latent_variables or 'none'}")
            if not m.edges and len(df.columns) > 1:
                print(f"  no edges: every column was learned on its own. With {len(df):,} rows the penalty may outweigh "
                      "the links; try fewer --bins (e.g. 5) or --penalty aic", file=sys.stderr)
        elif a.action == "sample":
            if a.rows < 0:
                return _fail(f"--rows must be >= 0, not {a.rows}")
            m = BayesianNetworkSynthesizer.load(a.model)
            evaluation.write_table(m.sample(a.rows, a.seed), a.out, a.overwrite)
            print(f"Wrote {a.rows:,} rows to {a.out}")
        else:
            real, synth = evaluation.read_table(a.real), evaluation.read_table(a.synth)
            holdout = evaluation.read_table(a.holdout) if a.holdout else None
            model = BayesianNetworkSynthesizer.load(a.model) if a.model else None
            html, r = evaluation.write_report(real, synth, a.out, model=model, target=a.target, holdout=holdout,
                                              exclude=a.exclude, secrets=a.secret, seed=a.seed)
            s = r["summary"]
            print(f"{s['columns_kl_within_band']} of {s['columns']} columns within the real-vs-real KL band; "
                  f"exact copies {s['exact_copies']}" + (f"; AUC TSTR {s['tstr_auc']:.3f} vs TRTR {s['trtr_auc']:.3f}"
                                                          if s["tstr_auc"] is not None else ""))
            print(f"Wrote {html} and report.json beside it")
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError, KeyError) as exc:
        return _fail(str(exc).strip("'\""))
    return 0


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from synthgp.evaluate import practice as evaluate

    try:
        html, data = evaluate.write_report(a.dir, a.out)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    s = data["summary"]
    print(f"calibration: {s['calibration_passed']} of {s['calibration_figures']} figures within tolerance")
    print(f"integrity:   {s['integrity_violations']:,} violations" +
          (f" ({', '.join(s['integrity_failed_checks'])})" if s["integrity_failed_checks"] else ""))
    print("NG136:       " + ", ".join(f"{k.replace('_', ' ')} {v['share']:.1%}" for k, v in data["audit"]["ng136"].items()
                                        if v["share"] is not None))
    print(f"Wrote {html} and report.json beside it ({sum(data['timings_s'].values()):.1f} s)")
    return 1 if s["integrity_violations"] else 0


def _cmd_compare(a: argparse.Namespace) -> int:
    from synthgp.evaluate import compare

    try:
        html, data = compare.write_report(a.synth, a.reference, a.out, a.seed)
    except (FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    s = data["summary"]
    print(f"{s['columns_kl_within_band']} of {s['columns']} variables within the real-vs-real KL band; "
          f"mean TV {s['mean_tv']:.3f}; mean |association difference| {s['mean_abs_association_diff']:.3f}")
    print(f"exact copies: synthetic {data['privacy']['exact_copy_share_synthetic']:.2%}, "
          f"holdout {data['privacy']['exact_copy_share_holdout']:.2%}")
    print(f"Wrote {html} and report.json beside it")
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _fail(message: str) -> int:
    print(f"synthgp: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _cmd_generate(a: argparse.Namespace) -> int:
    from synthgp.core import scenario
    from synthgp.simulate import run as engine

    overrides: dict = {}
    if a.end:
        overrides["period.end"] = a.end
    if a.start:
        overrides["period.start"] = a.start
    try:
        sc = scenario.load(a.scenario, overrides)
        opts = engine.RunOptions(
            n_patients=a.patients, seed=a.seed, out=a.out, formats=a.format, workers=a.workers,
            scheduler=a.scheduler, block_size=a.block_size or engine.DEFAULT_BLOCK_SIZE,
            overwrite=a.overwrite, progress=not a.quiet and sys.stderr.isatty(), care=not a.population_only)
        engine.check(sc, opts)
    except (scenario.ScenarioError, ValueError, FileExistsError) as exc:
        return _fail(str(exc))
    log = (lambda s: None) if a.quiet else (lambda s: print(s, file=sys.stderr))
    m = engine.generate(sc, opts, log=log)
    if not a.quiet:
        out = a.out
        print(f"Wrote {m['patients']:,} patients in {_plural(m['practices'], 'practice')} to {out}/ in {m['seconds']} s")
        if "duckdb" in m["formats"]:
            print(f"  database: {out}/{engine.DB_NAME}")
            print(f"  look:     {Path(sys.executable).name} -c \"import duckdb; print(duckdb.connect('{out}/{engine.DB_NAME}', "
                  f"read_only=True).sql('SELECT * FROM patient JOIN patient_identity USING (patid) LIMIT 5'))\"")
            print(f"            synthgp calibrate {out}    # published figures beside this practice's own")
            print(f"  browse:   synthgp serve {out}        # record viewer and FHIR API on http://127.0.0.1:8000/")
            if m.get("care"):
                print(f"  report:   synthgp evaluate {out}     # {out}/evaluation/report.html: plots, audit, integrity, truth")
        for f in m["formats"]:
            if f in FORMATS_INFO:
                print(f"  {f}: {out}/{FORMATS_INFO[f].folder}/  ({FORMATS_INFO[f].about})")
    return 0


def _cmd_scenario(a: argparse.Namespace) -> int:
    from synthgp.core import scenario

    path = a.file
    from synthgp.population import cohort

    try:
        sc = scenario.load(path)
        cohort.check_scenario(sc)
    except scenario.ScenarioError as exc:
        return _fail(str(exc))
    if a.action == "check":
        print(f"{path}: valid ({sc.name}; {sc.period.first_day} to {sc.period.end}; region {sc.population.region})")
        return 0
    print(f"# {sc.name}")
    print(f"# study period {sc.period.first_day} to {sc.period.end}")
    for name, value, unit, kind, source in scenario.describe(sc):
        print(f"{name} = {value}")
        print(f"    unit: {unit}; kind: {kind}")
        print(f"    source: {source}")
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from synthgp.simulate import run as engine

    try:
        written = engine.export(a.dir, a.format, a.overwrite, log=lambda s: print(s, file=sys.stderr))
    except (ValueError, FileExistsError) as exc:
        return _fail(str(exc))
    for w in written:
        print(f"Wrote {w}/")
    return 0


def _cmd_calibrate(a: argparse.Namespace) -> int:
    from synthgp.evaluate import calibration

    if not (a.dir / "manifest.json").is_file() or not (a.dir / "synthgp.duckdb").is_file():
        return _fail(f"{a.dir} is not a synthgp output with a DuckDB file (expected manifest.json and synthgp.duckdb)")
    rows = calibration.for_output(a.dir)
    print(calibration.format_table(rows, calibration.list_size(a.dir)))
    return 0 if all(r.passed for r in rows) else 1


def _cmd_serve(a: argparse.Namespace) -> int:
    import uvicorn

    from synthgp.serve.app import create_app

    if not 0 < a.port < 65536:
        return _fail(f"--port: {a.port} is not a port (1-65535)")
    try:
        app = create_app(a.dir)
    except ValueError as exc:
        return _fail(str(exc))
    print(f"synthgp serve: record viewer at http://{a.host}:{a.port}/ , FHIR API at http://{a.host}:{a.port}/fhir "
          "(Ctrl-C to stop)", file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"generate": _cmd_generate, "scenario": _cmd_scenario, "calibrate": _cmd_calibrate, "export": _cmd_export,
               "serve": _cmd_serve, "evaluate": _cmd_evaluate, "compare": _cmd_compare,
               "learn": _cmd_learn}[args.command]
    return handler(args)
