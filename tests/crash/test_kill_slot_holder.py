"""A command killed while it holds the warehouse-writer slot does not keep it for good.

The CLI's temporary Prefect server is ephemeral, and Prefect runs no Repossessor there: before
the fix, the slot of a command killed with SIGKILL stayed taken and every later command waited
forever at "waiting for the warehouse-writer slot". Each command here is a process of its own
with its own temporary server, on one PREFECT_HOME (one database), as on a user's machine:
the CLI's (`temporary`) or, for a script calling the flows with no API configured, the one
Prefect starts itself (`ephemeral`; its leases were in its memory before session 26).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

COMMAND = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    if sys.argv[3] == "temporary":  # the CLI's server; else Prefect's own (its ephemeral mode)
        from cxloop.flows.prefect_api import TemporaryServer
        server = TemporaryServer(Path(sys.argv[1]) / "server.log")
        server.start()
        server.wait()
    import cxloop.flows.orchestration as orchestration
    orchestration.RECLAIM_EVERY_S = 0.5  # look for dead holders often, not every 30 s
    if sys.argv[2] == "hold":
        with orchestration.warehouse_slot():
            print("held", flush=True)
            time.sleep(600)
    else:
        with orchestration.warehouse_slot(
            wait_seconds=60, on_wait=lambda: print("waiting", flush=True)
        ):
            print("acquired at", time.time(), flush=True)
        # a slot taken with no lease behind it (left by a kill from before leases were kept
        # in files) is given back too
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(
                orchestration.WRITER_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=1)
            )
        with orchestration.warehouse_slot(wait_seconds=30):
            print("acquired again", flush=True)
    """
)


def command(tmp_path: Path, role: str, server: str) -> subprocess.Popen[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT_") and key != "CXLOOP_TEMPORARY_PREFECT_API"
    }
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "90"  # 20 s: short on a busy machine
    return subprocess.Popen(
        [sys.executable, "-c", COMMAND, str(tmp_path), role, server],
        env=env,
        cwd=tmp_path,  # no .env or prefect.toml of the checkout's
        start_new_session=True,  # its process group: the server Prefect starts itself too
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class Output:
    """A process's output lines, read in a thread: a Prefect server the process started shares
    its output, so the pipe may never close (a killed process's server lives on)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()  # None: the output ended
        self.stream = process.stdout
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.stream is not None
        for text in self.stream:
            self.lines.put(text.rstrip("\n"))
        self.lines.put(None)

    def until(self, line: str, seconds: float = 120) -> list[str]:
        """The lines up to `line`; fails past `seconds` or if the output ended first."""
        seen: list[str] = []
        deadline = time.monotonic() + seconds
        while line not in seen:
            try:
                text = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {line!r} within {seconds} s: {seen}") from None
            assert text is not None, f"the output ended before {line!r}: {seen}"
            seen.append(text.strip())
        return seen

    def rest(self, quiet: float = 5) -> list[str]:
        """The lines since the last read, until the output ends or stays quiet `quiet` s."""
        seen: list[str] = []
        while True:
            try:
                text = self.lines.get(timeout=quiet)
            except queue.Empty:
                return seen
            if text is None:
                return seen
            seen.append(text)


def expire_leases(prefect_home: Path) -> int:
    """Move every lease's end into the past, in Prefect's lease files and their index, as if
    the lease time (300 s; Prefect refuses under 60 s) had passed."""
    folder = prefect_home / "concurrency_leases"
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    leases = [f for f in folder.glob("*.json") if f.name != "expirations.json"]
    for lease in leases:
        data = json.loads(lease.read_text())
        lease.write_text(json.dumps({**data, "expiration": past}))
    index = folder / "expirations.json"
    index.write_text(json.dumps(dict.fromkeys(json.loads(index.read_text()), past)))
    return len(leases)


@pytest.mark.parametrize("server", ["temporary", "ephemeral"])
def test_a_killed_holders_slot_is_taken_back_once_its_lease_ran_out(
    tmp_path: Path, server: str
) -> None:
    holder = command(tmp_path, "hold", server)
    waiter = None
    try:
        Output(holder).until("held")  # Prefect logs the start of its own server there first
        os.kill(holder.pid, signal.SIGKILL)  # the holder alone, as a user's kill -9
        holder.wait()
        waiter = command(tmp_path, "wait", server)
        printed = Output(waiter)
        lines = printed.until("waiting")  # the dead holder's lease has not run out
        time.sleep(3)  # several passes over a live lease: none takes it
        expired_at = time.time()
        assert expire_leases(tmp_path / "prefect") == 1  # as if 300 s had passed
        waiter.wait(timeout=60)
        output = "\n".join(lines + printed.rest()) + "\n"
    finally:  # Prefect's own server outlives a killed holder (no parent-death signal)
        for process in (holder, waiter):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    assert waiter.returncode == 0, output
    acquired_at = [float(line.split()[-1]) for line in output.splitlines() if "acquired at" in line]
    assert acquired_at and acquired_at[0] >= expired_at, output  # not before the lease ran out
    assert "acquired again\n" in output, output
    assert output.count("took back the warehouse-writer slot from 1 run(s)") == 1, output
