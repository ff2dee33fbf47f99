"""Packaged reference data: loaded once, read-only. Numbers live in `synthgp/data/`, not here."""

from __future__ import annotations

import csv
import io
import tomllib
from functools import cache
from importlib import resources
from typing import Any


def _text(name: str) -> str:
    return resources.files("synthgp.data").joinpath(name).read_text(encoding="utf-8")


@cache
def toml(name: str) -> dict[str, Any]:
    """A packaged TOML file, e.g. toml("population.toml")."""
    return tomllib.loads(_text(name))


@cache
def csv_rows(name: str) -> tuple[dict[str, str], ...]:
    """A packaged CSV file (lines starting with # are comments)."""
    lines = [line for line in _text(name).splitlines() if not line.startswith("#")]
    return tuple(csv.DictReader(io.StringIO("\n".join(lines))))


def region_keys() -> list[str]:
    return [k for k in toml("regions.toml") if k != "lookup"]
