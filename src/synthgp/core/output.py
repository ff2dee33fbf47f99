"""An output folder, the one place that knows its layout. `synthgp generate --out DIR` writes:

    DIR/synthgp.duckdb     every table (absent if generated without the duckdb format)
    DIR/manifest.json      seed, patients, scenario, formats, table counts, timings
    DIR/<folder>/          one per exported format (synthgp.formats.FOLDERS: aurum/, fhir/, ...)
    DIR/evaluation/        `synthgp evaluate`'s report (by default)

Everything is written beside its destination and moved into place only when complete
(`staging`, `move_into_place`, `replace_text`), so a folder is either absent, the old one, or
the whole new one. Readers open a folder with `Output.open`, which says what is missing if it
is not an output, and `connect` for a read-only DuckDB connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    from synthgp.core.scenario import Scenario

DB_NAME = "synthgp.duckdb"
MANIFEST_NAME = "manifest.json"
EVALUATION = "evaluation"
__all__ = ["DB_NAME", "EVALUATION", "MANIFEST_NAME", "NotAnOutputError", "Output", "OutputExistsError", "move_into_place",
           "replace_text", "scratch", "staging"]


class NotAnOutputError(ValueError):
    """A folder that is not a synthgp output (or lacks the DuckDB file a reader needs)."""


class OutputExistsError(FileExistsError):
    pass


class Output:
    """One output folder: its paths, its manifest and a read-only connection to its DuckDB file.

    `Output(path)` only names the folder (the engine writes through it); `Output.open(path)`
    checks first that it is an output."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str], database: bool = True) -> Output:
        """The output at `path`, checked: NotAnOutputError naming what is missing if it is not one
        (with `database`, also if it has no DuckDB file)."""
        out = cls(path)
        out.check(database)
        return out

    def __repr__(self) -> str:
        return f"Output({str(self.path)!r})"

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    # -- paths
    @property
    def db(self) -> Path:
        return self.path / DB_NAME

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST_NAME

    @property
    def evaluation(self) -> Path:
        """Where `synthgp evaluate` writes its report unless told otherwise."""
        return self.path / EVALUATION

    def folder(self, name: str) -> Path:
        """A format's folder, by its folder name (synthgp.formats.FOLDERS maps each format to it)."""
        return self.path / name

    # -- checks
    def missing(self, database: bool = True) -> list[str]:
        """The files an output has and this folder lacks (the DuckDB file only if `database`)."""
        need = ([DB_NAME] if database else []) + [MANIFEST_NAME]
        return [n for n in need if not (self.path / n).is_file()]

    def check(self, database: bool = True) -> None:
        """Raise NotAnOutputError, naming what is missing, unless this folder is an output (and, with
        `database`, holds the DuckDB file)."""
        if not self.path.is_dir():
            raise NotAnOutputError(f"{self.path} is not a synthgp output: no such folder "
                                   "(give the folder `synthgp generate --out` wrote)")
        missing = self.missing(database)
        if not missing:
            return
        if missing == [DB_NAME]:
            formats = self.manifest.get("formats", [])
            if "duckdb" in formats:
                raise NotAnOutputError(f"{self.path} has no {DB_NAME}, though its manifest lists it: was the file moved?")
            raise NotAnOutputError(f"{self.path} has no {DB_NAME}: it was generated without the duckdb format "
                                   f"(formats: {', '.join(formats) or 'none'}); generate it again with the duckdb format")
        raise NotAnOutputError(f"{self.path} is not a synthgp output: no {' and no '.join(missing)} in it "
                               "(give the folder `synthgp generate --out` wrote)")

    # -- reading
    @property
    def manifest(self) -> dict[str, Any]:
        """manifest.json as written (read afresh each time: `synthgp export` adds formats to it)."""
        return json.loads(self.manifest_path.read_text())

    @property
    def scenario(self) -> Scenario:
        """The scenario the output was generated with, from its manifest."""
        from synthgp.core.scenario import Scenario

        return Scenario.model_validate(self.manifest["scenario"])

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the DuckDB file; close it, or use it as `with out.connect() as con:`."""
        if not self.db.is_file():
            self.check(database=True)
        return duckdb.connect(str(self.db), read_only=True)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write manifest.json whole, replacing the old one in one step."""
        replace_text(self.manifest_path, json.dumps(manifest, indent=2) + "\n")


# -- atomic writes: build beside the destination, then move into place
@contextlib.contextmanager
def staging(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """A fresh folder beside `dest` (`.NAME.partial-PID`) to build it in: moved into place as `dest`
    when the block ends, removed if the block raises."""
    dest = Path(dest)
    _remove_abandoned(dest.parent, f".{dest.name}.partial-")
    work = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    try:
        yield work
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    move_into_place(work, dest)


@contextlib.contextmanager
def scratch(folder: str | os.PathLike[str], kind: str) -> Iterator[Path]:
    """A fresh folder `.KIND-PID` inside `folder` for pieces that are moved into place one by one
    (move_into_place); removed with whatever is left in it when the block ends."""
    _remove_abandoned(Path(folder), f".{kind}-")
    work = Path(folder) / f".{kind}-{os.getpid()}"
    try:
        work.mkdir()
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _remove_abandoned(folder: Path, prefix: str) -> None:
    """Remove `PREFIX<pid>` folders left in `folder` by a run that was killed (its process is gone on
    this machine). A folder of a process still running, or not named so, is left alone."""
    if not folder.is_dir():
        return
    for p in folder.glob(f"{prefix}*"):
        pid = p.name.removeprefix(prefix)
        if p.is_dir() and pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def move_into_place(work: Path, dest: Path) -> None:
    """Move the finished folder `work` to `dest`, replacing any old `dest` (renamed aside first, then
    removed), so `dest` is never half written."""
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        os.replace(dest, old)
        os.replace(work, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(work, dest)


def replace_text(path: Path, text: str) -> None:
    """Write a file through a temporary sibling (`.STEM-PID.SUFFIX`) and os.replace, so readers see the
    old file or the new one, never a part."""
    tmp = path.parent / f".{path.stem}-{os.getpid()}{path.suffix}"
    tmp.write_text(text)
    os.replace(tmp, path)
