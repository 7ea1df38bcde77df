"""A command waiting for the warehouse-writer slot rides out a Prefect API that fails to answer.

Prefect retries only the server's "taken" answer (423) while it waits for a slot; any other
failed request ends the wait with ConcurrencySlotAcquisitionError. Several commands on one
machine share one PREFECT_HOME (one SQLite database), and under load a temporary server can
answer 500 for a moment: a command that waits its turn must ask again, not exit 1.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import cxloop.flows.orchestration as orchestration

INCREMENT = "/api/v2/concurrency_limits/increment-with-lease"


class FlakyPrefectApi(BaseHTTPRequestHandler):
    """Prefect's increment-with-lease endpoint answering from `script` (one status per
    request: 423 with a Retry-After of 0.1 s, as a taken slot; others with an error body),
    then `after` (200: the slot, in the body Prefect 3.8's server sends); every request is
    counted."""

    script: list[int] = []
    after = 200
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        # what a Prefect server with CSRF protection off (its default) answers the client
        self.answer(422, {"detail": "CSRF protection is disabled."})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append(self.path)
        if self.path != INCREMENT:
            self.answer(404, {"detail": "Not Found"})
            return
        seen = sum(path == INCREMENT for path in self.requests)
        status = self.script[seen - 1] if seen <= len(self.script) else self.after
        if status == 200:
            limit = {"id": str(uuid.uuid4()), "name": orchestration.WRITER_LIMIT, "limit": 1}
            self.answer(200, {"limits": [limit], "lease_id": str(uuid.uuid4())})
        elif status == 423:
            self.answer(423, {"detail": "Concurrency limit is locked"}, {"Retry-After": "0.1"})
        else:
            self.answer(status, {"detail": "database is locked"})

    def answer(
        self, status: int, body: dict[str, object], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def flaky_server() -> Iterator[str]:
    """One fake API for the module: Prefect's acquisition service keeps the client (and the
    API URL) it was first created with for the life of the process. `drain_all` stops every
    Prefect queue service of this test process (they share one registry: the log and event
    workers too); each is started again on its next use, with the API then configured."""
    from prefect.concurrency.services import ConcurrencySlotAcquisitionWithLeaseService as Service
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyPrefectApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Service.drain_all(timeout=10, at_exit=False)  # a client of another test's API
    try:
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{server.server_port}/api"}):
            yield server.server_address[0]
    finally:
        Service.drain_all(timeout=10, at_exit=False)  # later tests get their own API's client
        server.shutdown()
        server.server_close()


@pytest.fixture
def flaky_api(
    flaky_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[type[FlakyPrefectApi]]:
    monkeypatch.setattr(orchestration, "API_RETRY_S", 0.05)
    monkeypatch.setattr(FlakyPrefectApi, "requests", [])
    monkeypatch.setattr(FlakyPrefectApi, "script", [])
    monkeypatch.setattr(FlakyPrefectApi, "after", 200)
    yield FlakyPrefectApi


@contextlib.contextmanager
def prefect_hold(timeout_seconds: float | None = None) -> Iterator[None]:
    """The request `concurrency()` makes to take the slot, made by Prefect's own client (so
    its errors are wrapped as Prefect wraps them); nothing to release on the fake server."""
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease

    acquire_concurrency_slots_with_lease(
        [orchestration.WRITER_LIMIT],
        1,
        timeout_seconds=timeout_seconds,
        lease_duration=orchestration.WRITER_LEASE_SECONDS,
        strict=True,
    )
    yield


def test_a_server_error_while_waiting_is_asked_again(flaky_api: type[FlakyPrefectApi]) -> None:
    flaky_api.script = [500, 500]
    with contextlib.ExitStack() as stack:
        orchestration._acquire(stack, prefect_hold, wait_seconds=30)
    assert flaky_api.requests == [INCREMENT] * 3


def test_a_refusal_is_raised_at_once(flaky_api: type[FlakyPrefectApi]) -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    flaky_api.script = [422] * 5  # the request itself is wrong: no retry
    with pytest.raises(ConcurrencySlotAcquisitionError), contextlib.ExitStack() as stack:
        orchestration._acquire(stack, prefect_hold, wait_seconds=30)
    assert flaky_api.requests == [INCREMENT]


def test_an_api_failing_past_the_outage_limit_ends_the_wait(
    flaky_api: type[FlakyPrefectApi],
) -> None:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    flaky_api.after = 500
    with pytest.raises(ConcurrencySlotAcquisitionError), contextlib.ExitStack() as stack:
        orchestration._acquire(stack, prefect_hold, wait_seconds=None, outage_seconds=0.3)
    assert 2 <= len(flaky_api.requests) < 100


def test_failures_apart_are_not_an_outage(
    flaky_api: type[FlakyPrefectApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure, then the slot taken for a while (423s: the API answers), then a failure:
    the two are not "in a row", so the wait goes on and gets the slot."""
    monkeypatch.setattr(orchestration, "API_ANSWERED_S", 0.2)
    flaky_api.script = [500, 423, 423, 423, 500]
    with contextlib.ExitStack() as stack:
        orchestration._acquire(stack, prefect_hold, wait_seconds=30, outage_seconds=0.25)
    assert flaky_api.requests == [INCREMENT] * 6


def test_an_api_failing_until_the_wait_ends_is_a_timeout_naming_the_failure(
    flaky_api: type[FlakyPrefectApi],
) -> None:
    flaky_api.after = 500
    with pytest.raises(TimeoutError, match="500 Internal Server Error"):
        with contextlib.ExitStack() as stack:
            orchestration._acquire(stack, prefect_hold, wait_seconds=0.3)
    assert len(flaky_api.requests) >= 2


def test_a_failure_on_the_first_quick_try_makes_the_command_say_it_waits(
    flaky_api: type[FlakyPrefectApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`warehouse_slot(on_wait=...)` tries for a second first; a failed answer there is a
    reason to wait (and to say so), not to fail."""
    flaky_api.script = [500]

    def hold(*_: object, timeout_seconds: float | None, **__: object) -> Iterator[None]:
        return prefect_hold(timeout_seconds)

    monkeypatch.setattr(orchestration, "concurrency", hold)
    said = []
    stack = orchestration._slot(wait_seconds=30, on_wait=lambda: said.append("waiting"))
    stack.close()
    assert said == ["waiting"]
    assert flaky_api.requests == [INCREMENT] * 2


def test_transient_is_what_a_server_cannot_answer() -> None:
    import httpx

    def wrapped(cause: BaseException) -> BaseException:
        error = RuntimeError("unable to acquire")
        error.__cause__ = cause
        return error

    request = httpx.Request("POST", "http://127.0.0.1/api" + INCREMENT)

    def status(code: int) -> httpx.HTTPStatusError:
        return httpx.HTTPStatusError("x", request=request, response=httpx.Response(code))

    assert orchestration._transient(wrapped(status(500)))
    assert orchestration._transient(wrapped(status(503)))
    assert orchestration._transient(wrapped(status(429)))
    assert orchestration._transient(wrapped(httpx.ReadTimeout("slow", request=request)))
    assert orchestration._transient(wrapped(httpx.ReadError("reset", request=request)))
    # a server that is down is not busy: `cxloop callbacks` goes on with DuckDB's lock
    assert not orchestration._transient(wrapped(httpx.ConnectError("refused", request=request)))
    assert not orchestration._transient(wrapped(httpx.ConnectTimeout("none", request=request)))
    assert orchestration._transient(wrapped(status(504)))
    assert not orchestration._transient(wrapped(status(501)))  # never going to work
    assert not orchestration._transient(wrapped(status(404)))
    assert not orchestration._transient(wrapped(status(422)))
    assert not orchestration._transient(RuntimeError("limits must be created"))  # no cause


def test_the_count_reset_keeps_off_a_postgresql_database() -> None:
    """A PostgreSQL database is a team's production one, where a server of its own may hold
    leases the lease files do not show: only a SQLite one's stray count is set back."""
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL, temporary_settings

    from cxloop.flows.orchestration import _sqlite_database

    with temporary_settings(restore_defaults={PREFECT_SERVER_DATABASE_CONNECTION_URL}):
        assert _sqlite_database()  # Prefect's default: a file under PREFECT_HOME
    postgres = "postgresql+asyncpg://prefect@127.0.0.1:5432/prefect"
    with temporary_settings(updates={PREFECT_SERVER_DATABASE_CONNECTION_URL: postgres}):
        assert not _sqlite_database()
