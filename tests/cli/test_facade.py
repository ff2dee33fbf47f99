"""The library facade: synthgp.generate, synthgp.open, synthgp.Scenario, on tiny practices."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import synthgp
from synthgp.cli import main
from synthgp.core.output import NotAnOutputError, OutputExistsError
from synthgp.formats import aurum

from tests.golden.digest import digests

N, SEED = 300, 3


@pytest.fixture(scope="module")
def practice(tmp_path_factory) -> synthgp.Output:
    sc = synthgp.Scenario.load(population={"region": "england"})
    return synthgp.generate(tmp_path_factory.mktemp("facade") / "practice", patients=N, seed=SEED, scenario=sc,
                            formats=("duckdb", "aurum"))


def test_generate_returns_the_output_opened(practice):
    assert isinstance(practice, synthgp.Output)
    with practice.connect() as con:
        assert con.execute("SELECT count(*) FROM patient").fetchone()[0] == N
        assert con.execute("SELECT count(DISTINCT pracid) FROM patient").fetchone()[0] == practice.manifest["practices"]
        with pytest.raises(duckdb.Error):  # read-only
            con.execute("CREATE TABLE scratch (x INTEGER)")
    m = practice.manifest
    assert (m["patients"], m["seed"], m["formats"]) == (N, SEED, ["duckdb", "aurum"])
    assert m["tables"]["patient"] == N and m["scenario"]["population"]["region"] == "england"
    assert practice.scenario == synthgp.Scenario.load(population={"region": "england"})
    assert (practice.folder("aurum") / aurum.file_name("Patient")).is_file()


def test_same_records_as_the_command_line(tmp_path):
    assert main(["generate", "--patients", "200", "--seed", "9", "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    lib = synthgp.generate(tmp_path / "lib", patients=200, seed=9, formats="duckdb,aurum")
    assert digests(lib.path) == digests(tmp_path / "cli")  # every table and every Aurum file


def test_open_reads_an_existing_output(practice):
    out = synthgp.open(practice.path)
    assert out.manifest == practice.manifest and out.db == practice.db
    with out.connect() as con:
        assert con.execute("SELECT count(*) FROM patient_identity").fetchone()[0] == N


def test_scenario_default_and_bad_override():
    assert synthgp.Scenario.default() == synthgp.Scenario.load()
    with pytest.raises(ValueError, match="population.region: unknown region 'mars'; allowed: england, south_west"):
        synthgp.Scenario.load(population={"region": "mars"})


@pytest.mark.parametrize("kwargs, error, message", [
    ({"patients": 0}, ValueError, "patients must be a whole number of at least 1"),
    ({"patients": "300"}, TypeError, "patients must be a whole number"),
    ({"seed": -1}, ValueError, "seed must be a non-negative whole number"),
    ({"formats": ("duckdb", "xml")}, ValueError, "formats: unknown xml; allowed: duckdb, aurum"),
    ({"scenario": 42}, TypeError, "scenario must be a synthgp.Scenario, a scenario file's path or None"),
    ({"scenario": "no-such-scenario.toml"}, ValueError, "no-such-scenario.toml"),
])
def test_bad_argument_is_named_before_any_work(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        synthgp.generate(tmp_path / "out", **{"patients": N, "seed": SEED, **kwargs})
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a partial folder


def test_existing_output_needs_overwrite(practice):
    with pytest.raises(OutputExistsError, match="already exists; pass overwrite=True"):
        synthgp.generate(practice.path, patients=N, seed=SEED)


def test_open_says_what_is_missing(tmp_path):
    with pytest.raises(NotAnOutputError, match="is not a synthgp output: no manifest.json in it"):
        synthgp.open(tmp_path)
    with pytest.raises(NotAnOutputError, match="is not a synthgp output: no such folder"):
        synthgp.open(tmp_path / "nowhere")
    assert issubclass(NotAnOutputError, ValueError)


def test_output_without_the_database_opens_but_does_not_connect(tmp_path):
    out = synthgp.generate(tmp_path / "aurum-only", patients=50, seed=1, formats="aurum", care=False)
    assert synthgp.open(out.path).manifest["formats"] == ["aurum"]
    with pytest.raises(NotAnOutputError, match="has no synthgp.duckdb: it was generated without the duckdb format"):
        out.connect()


def test_import_synthgp_stays_light():
    code = ("import sys, synthgp; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('synthgp', 'duckdb', 'numpy', 'pydantic', 'pandas')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).parent).stdout.strip()
    assert loaded == "['synthgp', 'synthgp._version']"
