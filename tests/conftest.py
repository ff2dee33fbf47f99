"""Shared fixtures: generated outputs are made once per test session with fixed seeds, and shared by every
module that needs them."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from synthgp.core import scenario
from synthgp.simulate import run as engine


def generate(out: Path, n: int, seed: int, region: str = "south_west", **kw) -> Path:
    sc = scenario.build({"population": {"region": region}})
    engine.generate(sc, engine.RunOptions(n_patients=n, seed=seed, out=out, progress=False, **kw))
    return out


BIG = {"england_100k", "south_west_200k"}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`-n auto --dist loadgroup`, the README's test command), every test on the 100,000- and
    200,000-patient practices runs in one worker, so each practice is generated once in the session."""
    for item in items:
        if BIG & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("big"))


@pytest.fixture(scope="session")
def england_100k(tmp_path_factory) -> Path:
    # calibration reads only the database; two workers give the same bytes as one (test_output)
    return generate(tmp_path_factory.mktemp("eng") / "out", 100_000, seed=11, region="england",
                    formats=("duckdb",), workers=2)


@pytest.fixture(scope="session")
def south_west_200k(tmp_path_factory) -> Path:
    """The default scenario (South West), for the population figures (population/test_calibration.py) and the
    care pathway's (simulate/test_care_calibration.py), whose youngest register band needs 200,000 patients."""
    return generate(tmp_path_factory.mktemp("sw") / "out", 200_000, seed=31, formats=("duckdb",), workers=2)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    """20,000 patients, DuckDB and Aurum. Tests may add an export's folder (parquet, cprd_cvd) but change nothing."""
    return generate(tmp_path_factory.mktemp("small") / "out", 20_000, seed=5)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SYNTHGP_SCREENSHOTS", Path(__file__).parent / "screenshots"))


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A page in Debian's headless Chromium driven by Playwright. Skips when Chromium is absent, unless
    SYNTHGP_REQUIRE_BROWSER is set (as .ci/run sets it), where it fails instead."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("SYNTHGP_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
