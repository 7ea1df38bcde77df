"""Fixtures: a small hand-made warehouse, and a local HTTP server speaking SendGrid v3 mail/send."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from gate_state import mark_checked

from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.engine import run_playbooks
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import load_playbooks

# 2024-06-05 is a Wednesday; 14:00 UTC is outside the playbooks' quiet hours in UTC.
NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)

MARTS_DDL = """
create schema if not exists marts;
create schema if not exists ml;
create schema if not exists ops;
create table marts.dim_accounts (
    account_id varchar, account_name varchar, csm_name varchar, csm_email varchar,
    csm_time_zone varchar, is_churned boolean);
create table marts.dim_customers (
    customer_id varchar, account_id varchar, email varchar, first_name varchar,
    full_name varchar, language varchar, has_opted_out_of_email boolean, time_zone varchar);
create table marts.fct_survey_responses (
    response_id varchar, customer_id varchar, account_id varchar, nps_score integer,
    nps_category varchar, language varchar, respondent_email varchar,
    responded_at timestamp, open_text varchar);
create table marts.fct_tickets (
    ticket_id varchar, account_id varchar, customer_id varchar, created_at timestamp,
    solved_at timestamp, status varchar, priority varchar, channel varchar,
    satisfaction_score varchar, is_open boolean);
create table ml.churn_scores (
    account_id varchar, scored_at timestamp, model_version varchar,
    churn_probability double, risk_band varchar, top_drivers varchar);
"""

ACCOUNTS = [
    ("A1", "Acme & Sons", "Carla CSM", "carla@vendor.example", "Europe/Berlin", False),
    ("A2", "Globex", "Dan CSM", "dan@vendor.example", "America/New_York", False),
]
CUSTOMERS = [
    ("C1", "A1", "ana@acme.example", "Ana", "Ana Silva", "en", False),
    ("C2", "A1", "omar@acme.example", "عمر", "عمر حسن", "ar", False),
    ("C3", "A2", "sara@globex.example", "سارا", "سارا رضایی", "fa", False),
    ("C4", "A2", "olga@globex.example", "Olga", "Olga Ivanova", "ru", True),
    ("C5", "A2", "paul@globex.example", "Paul", "Paul Meyer", "en", False),
]
RESPONSES = [
    (
        "R1",
        "C1",
        "A1",
        3,
        "detractor",
        "en",
        "ana@acme.example",
        "2024-06-04 10:00",
        "Slow <b>support</b>",
    ),
    ("R2", "C2", "A1", 5, "detractor", "ar", "omar@acme.example", "2024-06-04 11:00", None),
    ("R3", "C3", "A2", 6, "detractor", "fa", "sara@globex.example", "2024-06-03 09:00", "خیلی کند"),
    ("R4", "C4", "A2", 2, "detractor", "ru", "olga@globex.example", "2024-06-03 12:00", None),
    ("R5", "C5", "A2", 10, "promoter", "en", "paul@globex.example", "2024-06-04 12:00", "Great"),
    ("R0", "C5", "A2", 1, "detractor", "en", "paul@globex.example", "2024-01-01 12:00", "old"),
]

TICKETS = [
    ("T1", "A1", "C1", "2024-05-30 09:00", None, "open", "high", "email", None, True),
    (
        "T2",
        "A1",
        "C2",
        "2024-04-02 10:00",
        "2024-04-03 10:00",
        "solved",
        "normal",
        "web",
        "good",
        False,
    ),
    (
        "T3",
        "A2",
        "C5",
        "2024-03-01 10:00",
        "2024-03-02 10:00",
        "closed",
        "low",
        "email",
        None,
        False,
    ),
]

# top_drivers as scoring writes them: [{feature, value, contribution}], largest first
A1_DRIVERS = (
    '[{"feature": "tickets_90d", "value": 5, "contribution": 0.2}, '
    '{"feature": "avg_first_reply_minutes_90d", "value": 270.0, "contribution": 0.1}, '
    '{"feature": "nps_change", "value": -4, "contribution": 0.05}]'
)
CHURN_SCORES = [
    (
        "A1",
        "2024-05-01 03:00",
        0.30,
        "medium",
        '[{"feature": "tickets_90d", "value": 2, "contribution": 0.1}]',
    ),
    ("A1", "2024-06-01 03:00", 0.72, "high", A1_DRIVERS),
    ("A2", "2024-05-01 03:00", 0.10, "low", "[]"),
    (
        "A2",
        "2024-06-01 03:00",
        0.35,
        "medium",
        '[{"feature": "days_to_renewal", "value": 45, "contribution": 0.12}]',
    ),
]


def build_warehouse(
    path: Path, responses: list[tuple[Any, ...]] | None = None, *, checked: bool = True
) -> Path:
    """A real DuckDB file with tiny marts, tickets and churn scores (cleared by the gate)."""
    con = duckdb.connect(str(path))
    con.execute(MARTS_DDL)
    con.executemany("insert into marts.dim_accounts values (?, ?, ?, ?, ?, ?)", ACCOUNTS)
    con.executemany(  # time zones unknown (null: the playbooks' default, UTC)
        "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?, null)", CUSTOMERS
    )
    con.executemany(
        "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        RESPONSES if responses is None else responses,
    )
    con.executemany(
        "insert into marts.fct_tickets values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        TICKETS,
    )
    con.executemany(
        "insert into ml.churn_scores values (?, ?, 'v1', ?, ?, ?)",
        CHURN_SCORES,
    )
    con.close()
    if checked:
        mark_checked(path)
    return path


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
