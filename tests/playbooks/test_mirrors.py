"""Zendesk tickets for callback tasks and Slack posts for CSM digests, against local servers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cxloop.act import run_playbooks
from cxloop.config import load_config
from cxloop.errors import ConfigError
from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.notify import HttpPoster, SlackAlerts, ZendeskTickets
from cxloop.playbooks.spec import load_playbooks
from cxloop.resources import mirrors_for

ROOT = Path(__file__).resolve().parents[2] / "playbooks"


@dataclass
class Server:
    """A local HTTP server: records each POST, answers from a script, then with `default`."""

    url: str = ""
    default: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)}
                )
                status, headers, body = state.script.pop(0) if state.script else state.default
                if callable(body):
                    body = body(len(state.requests))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def act(warehouse: Path, ctx, tmp_path: Path, playbook: str, mirror) -> dict[str, Any]:
    return run_playbooks(
        warehouse,
        load_playbooks(ROOT, [playbook]),
        channel=OutboxChannel(tmp_path / "outbox", "cx@vendor.example", "CX"),
        ctx=ctx,
        mirrors=[mirror],
    )[playbook]


def ledger(warehouse: Path, channel: str) -> dict[str, tuple]:
    con = duckdb.connect(str(warehouse))
    rows = con.execute(
        "select action_key, status, attempts, provider_message_id, error "
        "from ops.playbook_actions where channel = ? order by action_key",
        [channel],
    ).fetchall()
    con.close()
    return {r[0]: r[1:] for r in rows}


def zendesk_created(n: int) -> bytes:
    return json.dumps({"ticket": {"id": 9000 + n, "status": "open"}}).encode()


def test_each_callback_task_opens_one_zendesk_ticket(warehouse, ctx, tmp_path, server) -> None:
    server.default = (201, {"Content-Type": "application/json"}, zendesk_created)
    sleeps: list[float] = []
    zendesk = ZendeskTickets(
        "acme",
        "agent@vendor.example",
        "tok123",
        base_url=server.url,
        poster=HttpPoster(sleep=sleeps.append),
    )
    server.script = [(429, {"Retry-After": "7"}, b'{"error": "TooManyRequests"}')]
    counts = act(warehouse, ctx, tmp_path, "detractor_followup", zendesk)
    assert counts["zendesk"] == {"sent": 4}
    assert sleeps == [7.0]
    first = server.requests[0]
    assert first["path"] == "/api/v2/tickets.json"
    token = base64.b64decode(first["headers"]["Authorization"].removeprefix("Basic ")).decode()
    assert token == "agent@vendor.example/token:tok123"
    # the retried request is the same request: same idempotency key
    assert server.requests[1]["headers"]["Idempotency-Key"] == first["headers"]["Idempotency-Key"]
    tickets = {r["body"]["ticket"]["external_id"]: r["body"]["ticket"] for r in server.requests}
    rows = ledger(warehouse, "zendesk")
    assert len(tickets) == 4 and len(rows) == 4
    r1 = rows["detractor_followup:R1:callback_task:zendesk"]
    assert r1[:2] == ("sent", 1) and r1[2].isdigit()
    con = duckdb.connect(str(warehouse))
    r1_callback = con.execute(
        "select action_id from ops.playbook_actions "
        "where action_key = 'detractor_followup:R1:callback_task'"
    ).fetchall()[0][0]
    con.close()
    ticket = tickets[r1_callback]
    assert ticket["assignee_email"] == "carla@vendor.example"
    # due: Wed 14:00 + 2 business days of 8 h (09-17 UTC) = Fri 14:00, the task's due_at
    assert ticket["type"] == "task" and ticket["due_at"] == "2024-06-07T14:00:00Z"
    assert ticket["subject"] == "Detractor follow-up: NPS 3 from response R1"
    assert "Survey response: R1" in ticket["comment"]["body"] and not ticket["comment"]["public"]
    # a second run creates nothing new
    again = act(warehouse, ctx, tmp_path, "detractor_followup", zendesk)
    assert again.get("zendesk", {}) == {} and len(server.requests) == 5


def test_a_zendesk_422_is_recorded_failed_with_zendesk_words(
    warehouse, ctx, tmp_path, server
) -> None:
    server.default = (
        422,
        {},
        b'{"error": "RecordInvalid", "description": "Record validation errors"}',
    )
    zendesk = ZendeskTickets("acme", "a@v.example", "t", base_url=server.url)
    counts = act(warehouse, ctx, tmp_path, "detractor_followup", zendesk)
    assert counts["zendesk"] == {"failed": 4} and len(server.requests) == 4  # no retry on 4xx
    error = ledger(warehouse, "zendesk")["detractor_followup:R2:callback_task:zendesk"][3]
    assert error == "HTTP 422: RecordInvalid; Record validation errors"
    # the callback tasks themselves are in our warehouse regardless
    assert ledger(warehouse, "callback")["detractor_followup:R2:callback_task"][0] == "sent"


def test_a_zendesk_timeout_is_unknown_and_never_resent(warehouse, ctx, tmp_path) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts connections, never answers
    try:
        zendesk = ZendeskTickets(
            "acme",
            "a@v.example",
            "t",
            base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            poster=HttpPoster(timeout_seconds=0.3),
        )
        counts = act(warehouse, ctx, tmp_path, "detractor_followup", zendesk)
    finally:
        silent.close()
    assert counts["zendesk"] == {"unknown": 4} and counts["unknown"] == 4
    assert {r[0] for r in ledger(warehouse, "zendesk").values()} == {"unknown"}


def test_each_csm_digest_is_posted_to_slack(warehouse, ctx, tmp_path, server) -> None:
    counts = act(warehouse, ctx, tmp_path, "at_risk_alert", SlackAlerts(server.url + "/hook"))
    # Carla's account crossed the threshold, Dan's rose sharply: one digest (and post) each
    assert counts["slack"] == {"sent": 2} and len(server.requests) == 2
    texts = sorted(r["body"]["text"] for r in server.requests)
    assert all(r["path"] == "/hook" and set(r["body"]) == {"text"} for r in server.requests)
    assert "Acme & Sons" in texts[0] + texts[1] and "Globex" in texts[0] + texts[1]
    assert all(t.startswith("*") for t in texts)
    rows = ledger(warehouse, "slack")
    assert {r[:2] for r in rows.values()} == {("sent", 1)}
    assert all(k.startswith("at_risk_alert:digest:") and k.endswith(":slack") for k in rows)
    # the digest e-mails went out as before
    assert counts["sent"] == 2


def test_slack_rejecting_the_payload_is_recorded_failed(warehouse, ctx, tmp_path, server) -> None:
    server.default = (400, {}, b"invalid_payload")
    act(warehouse, ctx, tmp_path, "at_risk_alert", SlackAlerts(server.url))
    rows = list(ledger(warehouse, "slack").values())
    assert [(r[0], r[3]) for r in rows] == [("failed", "HTTP 400: invalid_payload")] * 2


def test_mirrors_come_from_cxloop_yaml_and_named_variables(tmp_path, monkeypatch) -> None:
    config = tmp_path / "cxloop.yaml"
    config.write_text(
        "version: 1\nsources: {}\nplaybooks:\n"
        "  zendesk: {subdomain: acme, email: a@v.example, token_env: ZD_TOKEN_FOR_TEST}\n"
        "  slack_webhook_url_env: SLACK_URL_FOR_TEST\n"
    )
    monkeypatch.delenv("ZD_TOKEN_FOR_TEST", raising=False)
    monkeypatch.delenv("SLACK_URL_FOR_TEST", raising=False)
    with pytest.raises(ConfigError, match="'playbooks.zendesk.token_env'.*ZD_TOKEN_FOR_TEST"):
        mirrors_for(load_config(config))
    monkeypatch.setenv("ZD_TOKEN_FOR_TEST", "tok")
    (zendesk,) = mirrors_for(load_config(config))  # Slack's variable unset: no Slack
    assert zendesk.url == "https://acme.zendesk.com/api/v2/tickets.json"
    monkeypatch.setenv("SLACK_URL_FOR_TEST", "http://127.0.0.1:9/hook")
    assert [m.name for m in mirrors_for(load_config(config))] == ["zendesk", "slack"]
    config.write_text("version: 1\nsources: {}\nplaybooks:\n  zendesk: {email: a@v.example}\n")
    with pytest.raises(ConfigError, match="key 'playbooks.zendesk.subdomain': Field required"):
        load_config(config)
