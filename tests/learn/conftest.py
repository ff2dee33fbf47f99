"""Gradient-boosted trees run single-threaded in these tests: on a shared 2-core machine OpenMP's
spinning threads make a 5,000-row fit many times slower, and these tables are small."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
