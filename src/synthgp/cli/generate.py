"""`synthgp generate`: simulate a practice population into an output folder."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
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
    g.add_argument("--force", action="store_true", help="run even when the plan check finds too little free disk")
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
            scheduler=a.scheduler, block_size=engine.DEFAULT_BLOCK_SIZE if a.block_size is None else a.block_size,
            overwrite=a.overwrite, progress=not a.quiet and sys.stderr.isatty(), care=not a.population_only)
        engine.check(sc, opts)
    except (scenario.ScenarioError, ValueError, FileExistsError) as exc:
        return fail(str(exc))
    log = (lambda s: None) if a.quiet else (lambda s: print(s, file=sys.stderr))
    estimate = plan_check(a.patients, a.format, a.out, a.population_only)
    if estimate.short_of_disk and not a.force:
        return fail(f"{estimate}; that is more than the {estimate.free_gb:,.1f} GB free where {a.out} would go "
                    "(--force to run anyway, or fewer --patients)")
    if estimate.seconds > 60 and not a.quiet:
        log(f"plan: {estimate}")
    m = engine.generate(sc, opts, log=log)
    if not a.quiet:
        out = a.out
        db = f"{out}/{DB_NAME}"
        py, synthgp = _pasteable(Path(sys.executable)), _pasteable(Path(sys.argv[0]), "synthgp")
        print(f"Wrote {m['patients']:,} patients in {plural(m['practices'], 'practice')} to {out}/ in {m['seconds']} s")
        if "duckdb" in m["formats"]:
            print(f"  database: {db}")
            print(f"  look:     {py} -c \"import duckdb; print(duckdb.connect('{db}', "
                  f"read_only=True).sql('SELECT * FROM patient JOIN patient_identity USING (patid) LIMIT 5'))\"")
            print(f"            {synthgp} calibrate {out}    # published figures beside this practice's own")
            print(f"  browse:   {synthgp} serve {out}        # record viewer and FHIR API on http://127.0.0.1:8000/")
            if m.get("care"):
                print(f"  report:   {synthgp} evaluate {out}     # {out}/{EVALUATION}/report.html: plots, audit, integrity, truth")
        for f in m["formats"]:
            if f in FORMATS_INFO:
                print(f"  {f}: {out}/{FORMATS_INFO[f].folder}/  ({FORMATS_INFO[f].about})")
    return 0


# What a patient costs, roughly, from this project's 2-core reference machine (README benchmarks): a
# whole run of about 3,500 patients a second, and 9.8 kB of DuckDB and Aurum files a patient (measured
# together at 20,000 patients); the other formats' sizes are rougher. Staged Parquet doubles the need
# while the run lasts. The check is there to refuse what cannot fit, not to promise a time.
PATIENTS_PER_SECOND, POPULATION_ONLY_PER_SECOND = 3_500, 150_000
BYTES_PER_PATIENT = {"duckdb": 6_000, "aurum": 3_800, "fhir": 40_000, "fhir-bundles": 40_000, "csv": 8_000,
                     "parquet": 3_000, "cprd-cvd": 100, "cprd-covid": 50}


@dataclasses.dataclass
class Estimate:
    seconds: float
    gb: float
    free_gb: float

    @property
    def short_of_disk(self) -> bool:
        return self.gb > self.free_gb

    def __str__(self) -> str:
        t = self.seconds
        when = f"{t / 3600:,.1f} hours" if t >= 3600 else f"{t / 60:,.0f} minutes" if t >= 60 else f"{t:,.0f} s"
        return f"this run needs roughly {when} and {self.gb:,.1f} GB of disk"


def plan_check(patients: int, formats: tuple[str, ...], out: Path, population_only: bool = False) -> Estimate:
    """The run's time and disk, roughly, against the free space where `out` will be written."""
    here = Path(out).absolute()
    while not here.exists():
        here = here.parent
    per_patient = sum(BYTES_PER_PATIENT.get(f, 4_000) for f in formats) * 2  # staged Parquet beside the output
    rate = POPULATION_ONLY_PER_SECOND if population_only else PATIENTS_PER_SECOND
    return Estimate(patients / rate, patients * per_patient / 1e9, shutil.disk_usage(here).free / 1e9)


def _pasteable(path: Path, name: str | None = None) -> str:
    """How to run `path` from here when pasted: relative when it lies under the working folder
    (.venv/bin/python), the bare name when it is the one on PATH, else absolute."""
    path = path.absolute()
    if name and shutil.which(name) and Path(shutil.which(name)).resolve() == path.resolve():
        return name
    if name and path.name != name:  # not run through the `synthgp` script (python -m synthgp)
        return f"{_pasteable(Path(sys.executable))} -m synthgp"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
