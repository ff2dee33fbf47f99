"""Shared fixtures: generated outputs are made once per test session with fixed seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgp import engine, scenario


def generate(out: Path, n: int, seed: int, region: str = "south_west", **kw) -> Path:
    sc = scenario.build({"population": {"region": region}})
    engine.generate(sc, engine.RunOptions(n_patients=n, seed=seed, out=out, progress=False, **kw))
    return out


@pytest.fixture(scope="session")
def england_100k(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("eng") / "out", 100_000, seed=11, region="england")


@pytest.fixture(scope="session")
def south_west_100k(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("sw") / "out", 100_000, seed=12)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("small") / "out", 20_000, seed=5)
