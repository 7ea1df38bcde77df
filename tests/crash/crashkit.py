"""Helpers of the kill tests: a child process per run (tests/crash/child.py), killed with SIGKILL.

The SendGrid-compatible server runs in the test process on 127.0.0.1 and records every message
it is handed; it can hold a request's response while the test kills the sender.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHILD = Path(__file__).with_name("child.py")
KILLED = -signal.SIGKILL


@dataclass
class ChildRun:
    """How a child run ended: its return code (KILLED when killed) and its JSON result."""

    returncode: int
    result: Any
    stderr: str


def start_child(stage: str, *args: str, kill_at: str | None = None, env: dict | None = None):
    """Start the child; `kill_at` is CXLOOP_TEST_KILL_AT (module:attr:before|after[:n])."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    child_env.update(env or {})
    if kill_at:
        child_env["CXLOOP_TEST_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, str(CHILD), stage, *args],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> ChildRun:
    """Wait for the child (killing it if it overruns) and parse its result line."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child overran {timeout}s: {err[-2000:]}") from None
    lines = [line for line in out.splitlines() if line.startswith(("{", "["))]
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    return ChildRun(proc.returncode, result, err)


def run_child(stage: str, *args: str, kill_at: str | None = None, env: dict | None = None):
    """Run the child to its end (or its self-inflicted kill)."""
    return finish(start_child(stage, *args, kill_at=kill_at, env=env))


def wait_for(proc: subprocess.Popen, event: threading.Event, timeout: float = 120) -> bool:
    """Wait until `event` is set (True) or the child has exited without setting it (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if event.wait(timeout=0.02):
            return True
        if proc.poll() is not None:
            return event.is_set()
    raise AssertionError(f"the child neither sent nor exited within {timeout}s")


def kill_after(proc: subprocess.Popen, seconds: float) -> ChildRun:
    """kill -9 the child after `seconds` (if it is still running), then collect it."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    return finish(proc)


@dataclass
class SendGridServer:
    """What a local v3 mail/send server received: one entry per personalization."""

    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    delay_seconds: float = 0.0
    hold_request: int | None = None  # this request (1-based) is held until `release` is set
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    request_seen: threading.Event = field(default_factory=threading.Event)  # set on each request

    def received(self) -> dict[str, int]:
        """Messages received per action id (the custom arg every message carries)."""
        counts: dict[str, int] = {}
        for m in self.messages:
            counts[m["action_id"]] = counts.get(m["action_id"], 0) + 1
        return counts


@contextlib.contextmanager
def sendgrid_server() -> Iterator[SendGridServer]:
    """A ThreadingHTTPServer on 127.0.0.1 answering POST /v3/mail/send with 202."""
    state = SendGridServer()
    lock = threading.Lock()
    ids = itertools.count(1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                state.requests += 1
                number = state.requests
                state.request_seen.set()
                message_id = f"sg{next(ids):05d}"
                for p in body["personalizations"]:
                    state.messages.append(
                        {
                            "action_id": p["custom_args"]["cxloop_action_id"],
                            "to": p["to"][0]["email"],
                            "message_id": message_id,
                        }
                    )
            if state.hold_request == number:
                state.held.set()
                state.release.wait(timeout=30)
            time.sleep(state.delay_seconds)
            try:
                self.send_response(202)
                self.send_header("X-Message-Id", message_id)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender was killed while we held its response

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
