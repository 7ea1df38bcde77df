"""Shared test fixtures: offline settings, a per-test CXLOOP_HOME, and one Prefect test server."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import cxloop  # noqa: F401 - first: its import turns usage statistics off (cxloop.OFFLINE_ENV)

for _k, _v in {
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

# the test servers keep leases as a script's would, whichever test module imports the flows
# first (after the settings above: importing it sets the 5 s poll unless one is set)
from cxloop.flows.prefect_api import LEASE_STORAGE, LEASE_STORAGE_SETTING  # noqa: E402

os.environ.setdefault(LEASE_STORAGE_SETTING, LEASE_STORAGE)


@pytest.fixture(autouse=True)
def _prefect_console_on_an_open_stream() -> Iterator[None]:
    """Prefect's console log handler writes to the stream that was sys.stderr when Prefect set
    its logging up, which it does again when an in-process API starts. Done inside a CliRunner
    invocation, that stream is the invocation's capture, closed once the command returns: every
    later Prefect log in the process printed "--- Logging error ---" and a traceback into
    whatever ran next, and a CLI test asserting no traceback failed, depending on which test
    file ran first (tests/erasure/test_erasure_parts.py before tests/expectations/test_gate.py).
    After each test, a handler left on a closed stream is pointed at sys.stderr again."""
    yield
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler) and getattr(
                handler.stream, "closed", False
            ):
                handler.stream = handler.console.file = sys.stderr  # setStream flushes it


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
