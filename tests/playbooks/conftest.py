"""Fixtures: a small hand-made warehouse, and a local HTTP server speaking SendGrid v3 mail/send."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from small_marts import NOW, build_warehouse

from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.engine import run_playbooks
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import load_playbooks


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path / "cx.duckdb")


SHIPPED = Path(__file__).resolve().parents[2] / "playbooks"


def run_shipped(warehouse: Path, name: str, ctx: PlanContext, outbox: Path) -> dict[str, Any]:
    """One shipped playbook through the real engine into an outbox; its counts."""
    con = duckdb.connect(str(warehouse))
    try:
        return run_playbooks(
            con,
            load_playbooks(SHIPPED, [name]),
            renderer=TemplateRenderer(SHIPPED / "templates"),
            channel=OutboxChannel(outbox, "cx@vendor.example", "CX Team"),
            ctx=ctx,
            gate_ok=True,
        )[name]
    finally:
        con.close()


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one read-only query."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def shipped() -> Callable[[Path, str, PlanContext, Path], dict[str, Any]]:
    """run_shipped, for test modules (conftest.py is not importable by name)."""
    return run_shipped


@pytest.fixture
def rows() -> Callable[[Path, str], list[tuple[Any, ...]]]:
    """query, for test modules."""
    return query


@pytest.fixture
def ctx() -> PlanContext:
    return PlanContext(
        now=NOW,
        unsubscribe_url="https://cx.example/unsub?c={action_id}",
        postal_address="Example Co, 1 Example Street, Springfield",
        company="Example Co",
    )


@dataclass
class FakeSendGrid:
    """What the server received, and the responses it still has to give (then 202s)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], dict[str, Any] | None]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    """A ThreadingHTTPServer on 127.0.0.1 answering POST /v3/mail/send like SendGrid."""
    counter = itertools.count(1)
    state = FakeSendGrid(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                )
                status, headers, body = state.script.pop(0) if state.script else (202, {}, None)
            if status == 202:
                headers = {"X-Message-Id": f"msg{next(counter):04d}", **headers}
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
