"""tests/events: every process a test started is killed when its module ends, even after a
failure (a passing test stops and checks its processes itself)."""

import pytest

from procs import kill_leftovers


@pytest.fixture(autouse=True, scope="module")
def _no_leftover_processes():
    yield
    kill_leftovers()
