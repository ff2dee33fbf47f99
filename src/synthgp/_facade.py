"""What `synthgp.generate` and `synthgp.open` do (synthgp/__init__.py imports this only when they are
first used, so `import synthgp` stays light)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from synthgp.core.output import Output
from synthgp.core.scenario import Scenario, ScenarioError

# the engine's checks name command-line options; a library caller passed keyword arguments
_KEYWORDS = {"--patients": "patients", "--seed": "seed", "--workers": "workers", "--block-size": "block_size",
             "--format": "formats", "pass --overwrite": "pass overwrite=True"}


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number (int), not {value!r}")
    return value


def _scenario(scenario: Scenario | str | os.PathLike[str] | None) -> Scenario:
    if scenario is None:
        return Scenario.default()
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, os.PathLike)):
        return Scenario.load(scenario)
    raise TypeError(f"scenario must be a synthgp.Scenario, a scenario file's path or None, not {scenario!r}")


def _formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(formats, str):
        return tuple(f.strip() for f in formats.split(",") if f.strip())
    formats = tuple(formats)
    if not all(isinstance(f, str) for f in formats):
        raise TypeError(f"formats must be format names, e.g. ('duckdb', 'aurum'), not {formats!r}")
    return formats


def _library_words(message: str) -> str:
    return re.sub("|".join(map(re.escape, _KEYWORDS)), lambda m: _KEYWORDS[m.group(0)], message)


def generate(out: str | os.PathLike[str], patients: int, seed: int, scenario: Scenario | str | os.PathLike[str] | None = None,
             formats: str | Iterable[str] = ("duckdb",), workers: int = 1, overwrite: bool = False, progress: bool = False,
             block_size: int | None = None, care: bool = True, scheduler: str | None = None,
             log: Callable[[str], None] | None = None) -> Output:
    """Generate a practice population into the folder `out` and return it, opened.

    patients: patient records (everyone registered at any time in the study period); seed: a whole
    number >= 0, the same seed giving the same output whatever `workers` or `block_size`;
    scenario: a synthgp.Scenario, a scenario file's path, or None for the built-in one; formats:
    names (or one comma-separated string) from synthgp.formats.FORMATS, "duckdb" for the database
    that Output.connect() opens; workers > 1 runs a local Dask cluster (scheduler: an existing
    one's address); overwrite replaces `out` if it exists; progress shows a progress bar and
    messages on stderr (log receives the messages instead); care=False simulates the registered
    population only, no care pathways.

    Everything is checked before any work starts: a bad argument raises TypeError or ValueError
    (ScenarioError for a scenario, OutputExistsError if `out` exists), naming what is wrong. The
    output is written beside `out` and moved into place only when complete.
    """
    from synthgp.simulate import run as engine

    opts = engine.RunOptions(n_patients=_whole("patients", patients), seed=_whole("seed", seed), out=Path(out),
                             formats=_formats(formats), workers=_whole("workers", workers), scheduler=scheduler,
                             block_size=engine.DEFAULT_BLOCK_SIZE if block_size is None else _whole("block_size", block_size),
                             overwrite=bool(overwrite), progress=bool(progress), care=bool(care))
    sc = _scenario(scenario)
    try:
        engine.check(sc, opts)
    except ScenarioError:
        raise
    except engine.OutputExistsError as exc:
        raise engine.OutputExistsError(_library_words(str(exc))) from None
    except ValueError as exc:
        raise ValueError(_library_words(str(exc))) from None
    engine.generate(sc, opts, log=log or (lambda s: print(s, file=sys.stderr) if progress else None))
    return Output.open(out, database=False)


def open(path: str | os.PathLike[str]) -> Output:
    """The output folder at `path` (written by synthgp.generate or `synthgp generate --out`), checked:
    NotAnOutputError (a ValueError) naming what is missing if it is not one."""
    return Output.open(path, database=False)
