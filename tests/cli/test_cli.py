"""The command line as a user drives it: help, bad input (exit 2, nothing written), scenarios."""

import subprocess
import sys

import pytest

from synthgp.cli import main
from synthgp.formats import aurum


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgp", *args], capture_output=True, text=True, timeout=300)


def test_help_explains_each_command_with_an_example():
    top = run("--help")
    assert top.returncode == 0
    for cmd in ("generate", "scenario", "calibrate"):
        assert cmd in top.stdout
        sub = run(cmd, "--help")
        assert sub.returncode == 0 and "example" in sub.stdout


@pytest.mark.parametrize("args, says", [
    (["--patients", "-5", "--seed", "1"], "--patients"),
    (["--patients", "0", "--seed", "1"], "--patients"),
    (["--patients", "ten", "--seed", "1"], "invalid int"),
    (["--patients", "10", "--seed", "-1"], "--seed"),
    (["--patients", "10", "--seed", "1", "--workers", "0"], "--workers"),
    (["--patients", "10", "--seed", "1", "--format", "duckdb,xml"], "allowed: duckdb, aurum"),
    (["--patients", "10", "--seed", "1", "--end", "2010-01-01", "--start", "2012-01-01"], "must be before end"),
    (["--patients", "10", "--seed", "1", "--end", "31/12/2024"], "YYYY-MM-DD"),
    (["--patients", "10", "--seed", "1", "--block-size", "0"], "--block-size must be at least 1 (got 0)"),
    (["--patients", "100000000000", "--seed", "1"], "GB free where"),
])
def test_bad_options_exit_2_and_write_nothing(tmp_path, args, says):
    out = tmp_path / "out"
    r = run("generate", "--out", str(out), *args)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr
    assert "{" not in r.stderr and "Traceback" not in r.stderr  # said in words, not a Python value
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, suffix, says", [
    ('population.region = "mars"\n', ".toml", "allowed: england, south_west"),
    ("population:\n  ethnicity_unrecorded: 1.5\n", ".yaml", "population.ethnicity_unrecorded"),
    ('period.yeers = 5\n', ".toml", "period.yeers: unknown parameter"),
    ("population = [unclosed\n", ".toml", "not valid TOML"),
    ("a: [b\n", ".yml", "not valid YML"),
    ("x = 1\n", ".json", "allowed: .toml, .yaml, .yml"),
    ("care:\n  adherence_partial: [0.8, 0.2]\n", ".yaml", "care.adherence_partial: must be [low, high]"),
])
def test_bad_scenarios_are_named_and_rejected(tmp_path, content, suffix, says):
    f = tmp_path / f"scenario{suffix}"
    f.write_text(content)
    check = run("scenario", "check", str(f))
    assert check.returncode == 2 and says in check.stderr, check.stderr
    out = tmp_path / "out"
    gen = run("generate", "--patients", "10", "--seed", "1", "--out", str(out), "--scenario", str(f))
    assert gen.returncode == 2 and says in gen.stderr
    assert not out.exists()


def test_existing_output_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["generate", "--patients", "300", "--seed", "1", "--out", str(out), "--quiet"]) == 0
    before = (out / "aurum" / aurum.file_name("Patient")).read_bytes()
    assert main(["generate", "--patients", "300", "--seed", "2", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "aurum" / aurum.file_name("Patient")).read_bytes() == before
    assert main(["generate", "--patients", "300", "--seed", "2", "--out", str(out), "--quiet", "--overwrite"]) == 0
    assert (out / "aurum" / aurum.file_name("Patient")).read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folders left behind


def test_a_failed_run_leaves_no_output(tmp_path, monkeypatch):
    from synthgp.core import scenario
    from synthgp.simulate import block
    from synthgp.simulate import run as engine

    def boom(*a, **k):
        raise RuntimeError("simulated failure in a block")

    monkeypatch.setattr(block, "block_tables", boom)  # a block on Dask workers
    monkeypatch.setattr(block, "simulate_block", boom)  # a block in this process
    with pytest.raises(RuntimeError):
        engine.generate(scenario.load(), engine.RunOptions(n_patients=500, seed=1, out=tmp_path / "out", progress=False))
    assert list(tmp_path.iterdir()) == []


def test_scenario_show_prints_units_and_sources(tmp_path):
    r = run("scenario", "show")
    assert r.returncode == 0
    assert "population.region = south_west" in r.stdout
    assert "unit:" in r.stdout and "source:" in r.stdout
    f = tmp_path / "s.yaml"
    f.write_text("population:\n  region: england\nperiod:\n  end: 2020-12-31\n  years: 5\n")
    r = run("scenario", "show", "--file", str(f))
    assert "population.region = england" in r.stdout and "2016-01-01 to 2020-12-31" in r.stdout
    assert run("scenario", "check", str(f)).returncode == 0


def test_generate_prints_where_the_output_is_and_how_to_look(tmp_path):
    out = tmp_path / "practice"
    r = run("generate", "--patients", "2000", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "synthgp.duckdb" in r.stdout and "aurum" in r.stdout and "SELECT" in r.stdout
    assert (out / "manifest.json").is_file()
    cal = run("calibrate", str(out))
    assert cal.returncode in (0, 1), cal.stderr  # 1 only if a figure misses, never an error
    assert "within tolerance" in cal.stdout and "hypertension_register" in cal.stdout
    assert run("calibrate", str(tmp_path / "nowhere")).returncode == 2


def test_study_period_options_move_the_record(tmp_path):
    out = tmp_path / "p"
    assert main(["generate", "--patients", "500", "--seed", "1", "--out", str(out), "--quiet",
                 "--start", "2018-01-01", "--end", "2019-12-31", "--format", "aurum"]) == 0
    assert not (out / "synthgp.duckdb").exists()
    practice = (out / "aurum" / aurum.file_name("Practice")).read_text().splitlines()[1]
    assert "\t31/12/2019\t" in practice
    rows = [r.split("\t") for r in (out / "aurum" / aurum.file_name("Patient")).read_text().splitlines()[1:]]
    ends = [r[9] for r in rows if r[9]]
    assert ends and all(e[-4:] in ("2018", "2019") for e in ends)


def test_population_only_writes_the_population_without_care(tmp_path):
    import duckdb

    out = tmp_path / "pop"
    assert main(["generate", "--patients", "3000", "--seed", "4", "--out", str(out), "--quiet", "--population-only"]) == 0
    con = duckdb.connect(str(out / "synthgp.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM patient").fetchone()[0] == 3000
    assert con.execute("SELECT count(*) FROM drug_issue").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM hypertension_truth").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM observation").fetchone()[0] > 0  # ethnicity codes
    full = tmp_path / "full"
    assert main(["generate", "--patients", "3000", "--seed", "4", "--out", str(full), "--quiet"]) == 0
    # the same people either way: care changes records, not who is registered (bar fatal events)
    a = (out / "aurum" / aurum.file_name("Practice")).read_bytes()
    assert a == (full / "aurum" / aurum.file_name("Practice")).read_bytes()


def test_a_killed_runs_folders_are_cleaned_up_and_a_live_ones_kept(tmp_path):
    import os

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(dead.stdout)  # a process that has ended: its pid is free
    abandoned = tmp_path / f".out.partial-{gone}"
    (abandoned / "stage").mkdir(parents=True)
    live = tmp_path / f".out.partial-{os.getpid()}"  # this test's own process is running
    live.mkdir()
    r = run("generate", "--patients", "50", "--seed", "1", "--out", str(tmp_path / "out"), "--format", "duckdb")
    assert r.returncode == 0, r.stderr
    assert not abandoned.exists() and live.exists()


def test_ctrl_c_stops_cleanly_and_leaves_nothing(tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "synthgp", "generate", "--patients", "200000", "--seed", "1",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any(tmp_path.iterdir()) and time.time() < deadline:  # its work folder appears: it is running
        time.sleep(0.1)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_hints_after_generate_run_when_pasted(tmp_path):
    """The hints name the commands as they can be run from where the user is (the venv's python and
    synthgp need not be on PATH): pasting the 'look' line prints the patients."""
    import shlex

    r = subprocess.run([sys.executable, "-m", "synthgp", "generate", "--patients", "200", "--seed", "1", "--out", "p",
                        "--format", "duckdb"], capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    look = next(line for line in r.stdout.splitlines() if "look:" in line).split("look:", 1)[1].strip()
    pasted = subprocess.run(shlex.split(look), capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert pasted.returncode == 0 and "patid" in pasted.stdout, pasted.stderr
    calibrate = next(line for line in r.stdout.splitlines() if " calibrate " in line).split("#")[0].strip()
    pasted = subprocess.run(shlex.split(calibrate), capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert pasted.returncode in (0, 1) and "within tolerance" in pasted.stdout, pasted.stderr
