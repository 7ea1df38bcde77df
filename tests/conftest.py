"""Shared test fixtures: offline settings, a per-test CXLOOP_HOME, and one Prefect test server."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

for _k, _v in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # a flow waiting for the writer slot asks the test servers again within 2 s of its release
    # (Prefect's default cap is 30 s: flows/prefect_api.py SLOT_WAIT_SETTING)
    "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
}.items():
    os.environ.setdefault(_k, _v)

# The Prefect servers the tests start (the CLI's temporary servers in subprocesses) keep their
# database and concurrency leases under PREFECT_HOME: one of the test run's own, never the
# developer's ~/.prefect, so no lease or run of another run (or of a killed one) is seen here.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="cxloop-test-prefect-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)


@pytest.fixture
def cx_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty CXLOOP_HOME for one test."""
    home = tmp_path / "cxhome"
    monkeypatch.setenv("CXLOOP_HOME", str(home))
    monkeypatch.delenv("CXLOOP_SENDGRID_API_KEY", raising=False)
    return home


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session, one per test process under
    pytest-xdist (`make test` runs two); startup takes 10-15 s on 2 cores."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
