"""Run a generation: plan, simulate blocks (in process or on Dask workers), stage, export, move.

Blocks are simulated and staged as Parquet by simulate/blocks.py, loaded into DuckDB in block
order, then exported. Everything is written to a temporary folder beside the destination and moved
into place only when complete.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from synthgp._version import __version__
from synthgp.core import schema
from synthgp.core.output import DB_NAME as DB_NAME  # still importable from here (tests, benchmarks)
from synthgp.core.output import Output, OutputExistsError, move_into_place, scratch, staging
from synthgp.core.scenario import Scenario
from synthgp.formats import EXPORTERS, FORMATS
from synthgp.population import cohort
from synthgp.population.plan import make_plan
from synthgp.record import tables as record
from synthgp.simulate import blocks

DEFAULT_BLOCK_SIZE = 50_000
DUCKDB_MEMORY_LIMIT = "256MB"
# exporters sort and group whole tables (FHIR, CSV); DuckDB spills past this to a folder in the work dir
EXPORT_MEMORY_LIMIT = "1GB"


def _spill_to(con: duckdb.DuckDBPyConnection, work: Path) -> None:
    """Where DuckDB spills what does not fit its memory limit: inside the run's work folder (removed
    with it). Must be set before the first query that spills."""
    con.execute(f"SET temp_directory = '{(work / '.duckdb-tmp').as_posix()}'")


@dataclass(frozen=True)
class RunOptions:
    n_patients: int
    seed: int
    out: Path
    formats: tuple[str, ...] = ("duckdb", "aurum")
    workers: int = 1
    scheduler: str | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    overwrite: bool = False
    progress: bool = True
    care: bool = True  # False: the registered population only, no care pathways


def check_options(o: RunOptions) -> None:
    """Raise ValueError naming the bad option and what is allowed, before any work starts."""
    if o.n_patients < 1:
        raise ValueError(f"--patients must be a whole number of at least 1 (got {o.n_patients})")
    if o.seed < 0:
        raise ValueError(f"--seed must be a non-negative whole number (got {o.seed})")
    if o.workers < 1:
        raise ValueError(f"--workers must be at least 1 (got {o.workers})")
    if o.block_size < 1:
        raise ValueError(f"--block-size must be at least 1 (got {o.block_size})")
    bad = [f for f in o.formats if f not in FORMATS]
    if bad or not o.formats:
        raise ValueError(f"--format: unknown {', '.join(bad) or '(none given)'}; allowed: {', '.join(FORMATS)}")
    if o.out.exists() and not o.overwrite:
        raise OutputExistsError(f"output folder {o.out} already exists; pass --overwrite to replace it")


def check(sc: Scenario, o: RunOptions) -> None:
    """Everything that can be checked before any work starts: the options, then the learned model a
    scenario names (ValueError, OutputExistsError or ScenarioError, each naming what is wrong)."""
    check_options(o)
    if o.care:
        cohort.check_scenario(sc)


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="block", desc="simulating", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True)


def _sql_text(text: str) -> str:
    """A SQL string literal for our own schema docs (COMMENT ON takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _load_record(con: duckdb.DuckDBPyConnection, stage: Path, plan_tables: dict[str, pa.Table],
                 n_blocks: int, materialise: bool) -> None:
    """Make every record table visible on `con`: as tables (the DuckDB store) or as views."""
    kind = "TABLE" if materialise else "VIEW"
    for t in schema.ALL_TABLES:
        if t.name in plan_tables:
            con.register(f"_arrow_{t.name}", plan_tables[t.name])
            src = f"SELECT * FROM _arrow_{t.name}"
        else:
            files = [str(blocks.stage_path(stage, t.name, b)) for b in range(n_blocks)]
            # in patient order (patid is every block table's first column): DuckDB's zone maps then skip all
            # but a few row groups when a query asks for one patient (viewer, API); and every format reads
            # the rows in one order, whatever order the blocks staged them in
            src = f"SELECT * FROM read_parquet({files!r}) ORDER BY ALL"
        con.execute(f"CREATE {kind} {t.name} AS {src}")
        if materialise:
            con.execute(f"COMMENT ON TABLE {t.name} IS {_sql_text(f'[{t.group}] {t.doc}')}")
            for c in t.columns:
                con.execute(f"COMMENT ON COLUMN {t.name}.{c.name} IS {_sql_text(c.doc)}")
    for name, tbl in record.lookup_tables().items():
        target = {"MedicalDictionary": "medical_dictionary", "ProductDictionary": "product_dictionary"}.get(name, f"lookup_{name}")
        con.register(f"_arrow_{target}", tbl)
        con.execute(f'CREATE {kind} "{target}" AS SELECT * FROM "_arrow_{target}"')


def generate(sc: Scenario, o: RunOptions, log: Callable[[str], None] = lambda s: None) -> dict:
    """Generate a practice population into o.out. Returns the manifest."""
    check(sc, o)
    t0 = time.perf_counter()
    out = o.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with staging(out) as work:  # moved into place as `out` when complete, removed if anything fails
        plan = make_plan(sc, o.seed, o.n_patients, care=o.care)
        log(f"{o.n_patients:,} patients in {plan.n_practices} practice{'s' * (plan.n_practices != 1)}, "
            f"{sc.period.first_day} to {sc.period.end}, seed {o.seed}")
        todo = blocks.blocks_of(o.n_patients, o.block_size)
        stage = work / ".stage"
        for t in schema.BLOCK_TABLES:
            (stage / t.name).mkdir(parents=True)
        with _progress(len(todo), o.progress) as bar:
            blocks.stage_blocks(plan, todo, stage, o.workers, o.scheduler, done=lambda i: bar.update(1))
        plan_tables = record.plan_tables(plan)
        materialise = "duckdb" in o.formats
        con = duckdb.connect(str(Output(work).db) if materialise else ":memory:")
        try:
            _spill_to(con, stage)
            con.execute("SET preserve_insertion_order = true")
            con.execute("SET enable_progress_bar = false")
            # DuckDB caches table pages up to its memory limit; a fixed cap keeps a run's memory
            # flat as N grows (it writes pages out to the file instead).
            con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            _load_record(con, stage, plan_tables, len(todo), materialise)
            con.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
            for fmt in o.formats:
                if fmt in EXPORTERS:
                    _write_format(con, work, sc, fmt, log)
            counts = {t.name: con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in schema.ALL_TABLES}
        finally:
            con.close()
        shutil.rmtree(stage)
        manifest = {
            "synthgp_version": __version__, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "seed": o.seed, "patients": o.n_patients, "practices": plan.n_practices, "care": o.care,
            "formats": list(o.formats), "scenario": sc.model_dump(mode="json"),
            "period": {"start": str(sc.period.first_day), "end": str(sc.period.end)},
            "tables": counts, "seconds": round(time.perf_counter() - t0, 2),
        }
        if sc.risk_factors.model:  # which learned model gave the risk factors, byte for byte
            model = Path(sc.risk_factors.model)
            manifest["risk_factor_model"] = {"path": str(model.resolve()),
                                             "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                                             "matched_on": list(sc.risk_factors.match)}
        Output(work).write_manifest(manifest)
    return manifest


def _write_format(con: duckdb.DuckDBPyConnection, work: Path, sc: Scenario, fmt: str,
                  log: Callable[[str], None]) -> None:
    log(f"writing {fmt} ...")
    t = time.perf_counter()
    EXPORTERS[fmt](con, work, sc)
    log(f"  {fmt} written in {time.perf_counter() - t:.1f} s")


def export(out: Path, formats: tuple[str, ...], overwrite: bool = False,
           log: Callable[[str], None] = lambda s: None) -> list[Path]:
    """Write more formats from an existing output's DuckDB file (never re-simulating). Each format's
    folder is built beside the output and moved into place when complete."""
    from synthgp.formats import FOLDERS

    output = Output.open(out)  # NotAnOutputError (a ValueError) naming what is missing
    bad = [f for f in formats if f not in EXPORTERS]
    if bad or not formats:
        raise ValueError(f"--format: unknown {', '.join(bad) or '(none given)'}; allowed: {', '.join(EXPORTERS)}")
    for f in formats:
        if output.folder(FOLDERS[f]).exists() and not overwrite:
            raise OutputExistsError(f"{output.folder(FOLDERS[f])} already exists; pass --overwrite to replace it")
    manifest = output.manifest
    sc = Scenario.model_validate(manifest["scenario"])
    written = []
    with scratch(output.path, "export") as work:
        with output.connect() as con:
            con.execute("SET enable_progress_bar = false")
            _spill_to(con, work)
            con.execute(f"SET memory_limit = '{EXPORT_MEMORY_LIMIT}'")
            for f in formats:
                _write_format(con, work, sc, f, log)
        for f in formats:
            move_into_place(work / FOLDERS[f], output.folder(FOLDERS[f]))
            written.append(output.folder(FOLDERS[f]))
        manifest["formats"] = sorted(set(manifest["formats"]) | set(formats))
        output.write_manifest(manifest)
    return written
