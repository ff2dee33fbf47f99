"""A small practice in every client-facing format, shared by the tests of what third-party clients accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import generate


@pytest.fixture(scope="session")
def clients_out(tmp_path_factory) -> Path:
    """2,000 patients (seed 5) as DuckDB, Aurum, FHIR NDJSON, FHIR bundles and Synthea CSV."""
    return generate(tmp_path_factory.mktemp("clients") / "out", 2_000, seed=5,
                    formats=("duckdb", "aurum", "fhir", "fhir-bundles", "csv"))
