"""Fixtures shared by the record tests that read the shared 20,000-patient practice."""

import duckdb
import pytest


@pytest.fixture(scope="module")
def con(small):
    """A read-only connection to the shared practice's DuckDB file (tests/conftest.py `small`)."""
    c = duckdb.connect(str(small / "synthgp.duckdb"), read_only=True)
    yield c
    c.close()
