"""`cxloop callbacks` on a hand-made warehouse: `--now` in ISO 8601 with Z or an offset, `list`
opens read-only, and a write waits while another process holds DuckDB's lock."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from test_callbacks import create_tasks, task_of
from typer.testing import CliRunner

from cxloop.flows.cli import app
from cxloop.flows.cli import callbacks as callbacks_cli

HOLD = (
    "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
    "print('held', flush=True); time.sleep(float(sys.argv[2])); con.close()"
)


def hold_lock(warehouse: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), str(seconds)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
    return proc


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Prefect server configured, even when the session's test server is up (its URL is a
    setting, not the environment): the commands wait for DuckDB's lock alone."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


def test_now_takes_z_and_offsets(warehouse: Path, tmp_path: Path) -> None:
    create_tasks(warehouse, tmp_path / "outbox")  # due Friday 2024-06-07 14:00 UTC
    base = ["--warehouse", str(warehouse), "--json"]
    for now, overdue in (
        ("2024-06-07T13:59:00Z", 0),
        ("2024-06-07T16:30:00+02:00", 4),  # 14:30 UTC
        ("2024-06-07T14:30", 4),  # no offset: UTC
    ):
        result = CliRunner().invoke(app, ["callbacks", "list", "--overdue", "--now", now, *base])
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.output)) == overdue, now
    bad = CliRunner().invoke(app, ["callbacks", "list", "--now", "friday", *base])
    assert bad.exit_code == 1
    assert "--now: expected an ISO 8601 timestamp" in bad.output


def test_list_reads_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None) -> None:
    warehouse = tmp_path / "cx.duckdb"
    duckdb.connect(str(warehouse)).close()  # a warehouse with no callback tables yet
    result = CliRunner().invoke(app, ["callbacks", "list", "--warehouse", str(warehouse), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []
    with duckdb.connect(str(warehouse)) as con:  # nothing was created
        assert con.execute("select count(*) from duckdb_tables()").fetchone() == (0,)
    # while a run holds the warehouse (DuckDB: no reader beside another process's writer), it
    # says it waits, and after LOCK_WAIT_SECONDS gives up in one line
    monkeypatch.setattr(callbacks_cli, "LOCK_WAIT_SECONDS", 0.5)
    proc = hold_lock(warehouse, 30)
    try:
        busy = CliRunner().invoke(app, ["callbacks", "list", "--warehouse", str(warehouse)])
    finally:
        proc.kill()
        proc.wait()
    assert busy.exit_code == 1
    said = " ".join(busy.output.split())
    assert "another process holds the warehouse; waiting for it to end" in said
    assert "the warehouse is busy (a run holds it) after waiting" in said


def test_list_waits_for_a_run_longer_than_two_minutes(
    warehouse: Path, tmp_path: Path, no_server: None
) -> None:
    """A pipeline run holds the warehouse from start to end (minutes at scale 10): `list` waits
    for it by default, well past the two minutes it once gave up after."""
    create_tasks(warehouse, tmp_path / "outbox")
    assert callbacks_cli.LOCK_WAIT_SECONDS >= 600
    proc = hold_lock(warehouse, 2)
    try:
        result = CliRunner().invoke(
            app, ["callbacks", "list", "--warehouse", str(warehouse), "--json"]
        )
    finally:
        proc.wait()
    assert result.exit_code == 0, result.output
    assert "waiting for it to end" in result.output
    assert len(json.loads(result.output[result.output.index("[") :])) == 4


def test_a_write_waits_for_the_lock_then_records(
    warehouse: Path, tmp_path: Path, no_server: None
) -> None:
    create_tasks(warehouse, tmp_path / "outbox")
    r1 = task_of(warehouse, "R1")
    proc = hold_lock(warehouse, 1.5)  # a run holds the warehouse for 1.5 s
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            app,
            ["callbacks", "contacted", r1[:8], "--warehouse", str(warehouse),
             "--now", "2024-06-06T10:00:00Z"],
        )  # fmt: skip
    finally:
        proc.wait()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 1.0  # it waited instead of failing
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute(
            "select status, occurred_at from ops.callback_events where event_type = 'contacted'"
        ).fetchall() == [("contacted", datetime(2024, 6, 6, 10, 0))]


def test_with_a_server_list_queues_on_the_writer_slot_and_says_so(
    warehouse: Path, tmp_path: Path, prefect_harness: None
) -> None:
    """Under a Prefect server a run holds the `warehouse-writer` slot: `list` waits for it
    (saying so), then reads."""
    from cxloop.flows.orchestration import warehouse_slot

    create_tasks(warehouse, tmp_path / "outbox")
    held, release = threading.Event(), threading.Event()

    def a_run() -> None:
        with warehouse_slot():
            held.set()
            release.wait(60)

    run = threading.Thread(target=a_run)
    run.start()
    assert held.wait(60)
    threading.Timer(3, release.set).start()
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            app, ["callbacks", "list", "--warehouse", str(warehouse), "--json"]
        )
    finally:
        release.set()
        run.join()
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 2  # it waited for the run's slot
    assert "a run holds the warehouse-writer slot; waiting for it to end" in result.output
    assert len(json.loads(result.output[result.output.index("[") :])) == 4


def test_list_goes_on_when_the_configured_server_is_down(warehouse: Path, tmp_path: Path) -> None:
    """A CSM's queue does not depend on the Prefect server: configured but down (nothing
    listens at its URL), `list` says so and reads under DuckDB's lock alone. The command runs
    in a process of its own: Prefect keeps its slot-acquiring client per process, and one
    made for a server that is down would fail every later acquisition here."""
    import os

    from cxloop.flows.prefect_api import free_port

    create_tasks(warehouse, tmp_path / "outbox")
    url = f"http://127.0.0.1:{free_port()}/api"
    command = Path(sys.executable).parent / "cxloop"
    done = subprocess.run(
        [str(command), "callbacks", "list", "--warehouse", str(warehouse), "--json"],
        env={**os.environ, "PREFECT_API_URL": url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stderr.split())  # notes on stderr, the JSON alone on stdout
    assert f"the Prefect server at {url} does not answer" in said
    assert len(json.loads(done.stdout)) == 4


def test_only_an_unanswered_server_counts_as_down() -> None:
    """Prefect wraps the connection error it meets acquiring a slot; an answer (an HTTP
    error status) is not a server that is down."""
    import httpx
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

    refused = httpx.ConnectError("refused")
    try:
        try:
            raise refused
        except httpx.ConnectError as exc:
            raise ConcurrencySlotAcquisitionError("unable to acquire") from exc
    except ConcurrencySlotAcquisitionError as wrapped:
        assert callbacks_cli._unanswered(wrapped) is refused
    request = httpx.Request("POST", "http://127.0.0.1/api")
    answered = httpx.HTTPStatusError(
        "500", request=request, response=httpx.Response(500, request=request)
    )
    assert callbacks_cli._unanswered(answered) is None
    assert callbacks_cli._unanswered(ValueError("bad")) is None
