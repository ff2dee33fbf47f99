"""`synthgp generate`: simulate a practice population into an output folder."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import textwrap
from pathlib import Path

from synthgp.cli import comma_list, fail, formatter, plural
from synthgp.formats import FORMATS, FORMATS_INFO


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date in YYYY-MM-DD form: {text!r}") from None


def add_parser(sub) -> None:
    g = sub.add_parser("generate", formatter_class=formatter, help="generate a practice population",
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
    g.add_argument("--format", type=comma_list, default=("duckdb", "aurum"), metavar="LIST",
                   help=f"comma-separated output formats (default duckdb,aurum; available: {', '.join(FORMATS)})")
    g.add_argument("--workers", type=int, default=1, metavar="K", help="worker processes (a local Dask cluster if > 1)")
    g.add_argument("--scheduler", metavar="ADDRESS", help="use an existing Dask cluster, e.g. tcp://10.0.0.5:8786")
    g.add_argument("--block-size", type=int, default=None, metavar="B", help="patients per block (default 50000)")
    g.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    g.add_argument("--population-only", action="store_true",
                   help="practices, staff and registered patients only: no care pathways (much faster)")
    g.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    g.set_defaults(run=run)


def run(a: argparse.Namespace) -> int:
    from synthgp.core import scenario
    from synthgp.core.output import DB_NAME, EVALUATION
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
        return fail(str(exc))
    log = (lambda s: None) if a.quiet else (lambda s: print(s, file=sys.stderr))
    m = engine.generate(sc, opts, log=log)
    if not a.quiet:
        out = a.out
        db = f"{out}/{DB_NAME}"
        print(f"Wrote {m['patients']:,} patients in {plural(m['practices'], 'practice')} to {out}/ in {m['seconds']} s")
        if "duckdb" in m["formats"]:
            print(f"  database: {db}")
            print(f"  look:     {Path(sys.executable).name} -c \"import duckdb; print(duckdb.connect('{db}', "
                  f"read_only=True).sql('SELECT * FROM patient JOIN patient_identity USING (patid) LIMIT 5'))\"")
            print(f"            synthgp calibrate {out}    # published figures beside this practice's own")
            print(f"  browse:   synthgp serve {out}        # record viewer and FHIR API on http://127.0.0.1:8000/")
            if m.get("care"):
                print(f"  report:   synthgp evaluate {out}     # {out}/{EVALUATION}/report.html: plots, audit, integrity, truth")
        for f in m["formats"]:
            if f in FORMATS_INFO:
                print(f"  {f}: {out}/{FORMATS_INFO[f].folder}/  ({FORMATS_INFO[f].about})")
    return 0
