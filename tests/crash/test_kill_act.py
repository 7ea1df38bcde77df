"""kill -9 of the act stage while it sends through SendGrid (a local server), then a normal run.

Whatever the moment of the kill: every recipient gets at most one message per trigger (a
detractor response), and every planned e-mail ends `sent`, `suppressed` or `unknown` (reported,
never resent); nothing is silently lost. The mechanism is the ledger's order
planned -> sending -> sent (playbooks/ledger.py), one request's messages in `sending` at a time.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
from crashkit import KILLED, SendGridServer, kill_after, run_child, start_child, wait_for
from gate_state import mark_checked

LANGUAGES = ("en", "ar", "fa")
PER_LANGUAGE = 6  # 6 recipients per language: three SendGrid requests per run


def customers() -> list[tuple[str, str, str, bool]]:
    """(customer_id, email, language, opted out); C01 has opted out of e-mail."""
    rows = []
    for n in range(PER_LANGUAGE * len(LANGUAGES)):
        cid = f"C{n + 1:02d}"
        rows.append((cid, f"person{n + 1:02d}@example.com", LANGUAGES[n % 3], cid == "C01"))
    return rows


def build_warehouse(path: Path) -> Path:
    """Marts with one recent detractor response per customer, and one suppressed address."""
    con = duckdb.connect(str(path))
    con.execute("""
        create schema marts; create schema ml; create schema ops;
        create table marts.dim_accounts (account_id varchar, account_name varchar,
            csm_name varchar, csm_email varchar, csm_time_zone varchar, is_churned boolean,
            clv_at_risk_amount double);
        create table marts.dim_customers (customer_id varchar, account_id varchar,
            email varchar, first_name varchar, full_name varchar, language varchar,
            has_opted_out_of_email boolean, time_zone varchar);
        create table marts.fct_survey_responses (response_id varchar, customer_id varchar,
            account_id varchar, nps_score integer, nps_category varchar, language varchar,
            respondent_email varchar, responded_at timestamp, open_text varchar);
        create table marts.fct_tickets (ticket_id varchar, account_id varchar, is_open boolean);
        create table ml.churn_scores (account_id varchar, scored_at timestamp,
            model_version varchar, churn_probability double, risk_band varchar,
            top_drivers varchar);
        create table ops.suppressions (email varchar, reason varchar, source varchar,
            created_at timestamp);
        insert into marts.dim_accounts values
            ('A1', 'Acme', 'Carla CSM', 'carla@vendor.example', 'Europe/Berlin', false, null);
        insert into ops.suppressions values
            ('person02@example.com', 'unsubscribe', 'test', '2024-01-01');
    """)
    for cid, email, language, opted_out in customers():
        con.execute(
            "insert into marts.dim_customers values (?, 'A1', ?, 'Kim', 'Kim Doe', ?, ?, null)",
            [cid, email, language, opted_out],
        )
        con.execute(
            "insert into marts.fct_survey_responses values "
            "(?, ?, 'A1', 3, 'detractor', ?, ?, '2024-06-04 10:00', 'slow')",
            [f"R{cid[1:]}", cid, language, email],
        )
    con.close()
    mark_checked(path)  # the marts passed their check: the gate lets act read them
    return path


def sendgrid_env(server: SendGridServer) -> dict[str, str]:
    return {
        "CXLOOP_RESOURCES": "production",
        "CXLOOP_SENDGRID_API_KEY": "SG.kill-test",
        "CXLOOP_SENDGRID_BASE_URL": server.url,
    }


def email_ledger(warehouse: Path) -> dict[str, tuple[str, str, str | None, str | None]]:
    """action_id -> (action_key, status, provider_message_id, error) of every e-mail action."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select action_id, action_key, status, provider_message_id, error "
            "from ops.playbook_actions where channel = 'email'"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def assert_at_most_once(warehouse: Path, server: SendGridServer, *, final: bool) -> None:
    """The invariants, after any kill (final=False) or after the normal last run."""
    received = server.received()
    ledger = email_ledger(warehouse)
    assert all(n == 1 for n in received.values()), f"a message was sent twice: {received}"
    assert set(received) <= set(ledger), "a message was sent with no ledger row"
    per_recipient: dict[str, int] = {}
    for m in server.messages:
        per_recipient[m["to"]] = per_recipient.get(m["to"], 0) + 1
    assert all(n == 1 for n in per_recipient.values()), per_recipient  # one trigger each
    message_ids = {m["action_id"]: m["message_id"] for m in server.messages}
    for action_id, (key, status, provider_id, error) in ledger.items():
        if status == "sent":
            assert received.get(action_id) == 1 and provider_id == message_ids[action_id], key
        elif status in ("planned", "suppressed"):
            assert action_id not in received, f"{key} is {status} but was sent"
        elif status == "unknown":
            assert "do not resend" in (error or ""), key
        else:
            assert status == "sending" and not final, f"{key} ended {status}"
    if final:
        keys = {key for key, *_ in ledger.values()}
        triggers = {f"detractor_followup:R{cid[1:]}:email" for cid, *_ in customers()}
        assert keys == triggers, "a trigger has no e-mail action: lost"
        statuses = {status for _, status, _, _ in ledger.values()}
        assert statuses <= {"sent", "suppressed", "unknown"}


def assert_callbacks_once(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tasks = con.execute(
            "select count(*), count(distinct action_id) from ops.callback_tasks"
        ).fetchone()
        actions = con.execute(
            "select count(*) from ops.playbook_actions where channel = 'callback'"
        ).fetchone()
    finally:
        con.close()
    assert tasks[0] == tasks[1] == actions[0] == len(customers())


def normal_run(warehouse: Path, server: SendGridServer) -> dict[str, Any]:
    run = run_child("act", str(warehouse), env=sendgrid_env(server))
    assert run.returncode == 0, run.stderr[-3000:]
    return run.result["detractor_followup"]


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path / "cx.duckdb")


def test_a_run_without_a_kill_sends_each_once(warehouse, sendgrid_server) -> None:
    result = normal_run(warehouse, sendgrid_server)
    # 18 detractors: C01 opted out, person02 on the suppression list
    assert (result["sent"], result["suppressed"], result["unknown"]) == (16 + 18, 2, 0)
    assert sendgrid_server.requests == 3 and len(sendgrid_server.messages) == 16
    assert_at_most_once(warehouse, sendgrid_server, final=True)
    assert normal_run(warehouse, sendgrid_server)["sent"] == 0  # a re-run sends nothing
    assert len(sendgrid_server.messages) == 16


# Pending e-mails go out in action-key order grouped by language (one request each): fa first
# (R03..R18: 6), then en (R04..R16: 5, R01 opted out), then ar (R05..R17: 5, R02 suppressed).
# (kill point, e-mails the server has after the kill, actions the normal run reports unknown)
SEEDED = [
    # plan made, nothing written: the next run plans and sends everything
    ("cxloop.playbooks.ledger:insert_actions:before", 0, 0),
    # plan committed, nothing sending: the next run sends the planned rows
    ("cxloop.playbooks.ledger:mark_sending:before", 0, 0),
    # the second request's 5 (en) marked sending, not sent: unknown, never sent
    ("cxloop.playbooks.channels:SendGridChannel._send_request:before:2", 6, 5),
    # the second request sent and answered, its outcome not recorded
    ("cxloop.playbooks.channels:SendGridChannel._send_request:after:2", 11, 5),
    # outcomes of the first request (fa, 6) recorded, transaction not committed
    ("cxloop.playbooks.ledger:record_outcomes:after", 6, 6),
    # e-mails all recorded, callback tasks about to be written
    ("cxloop.playbooks.engine:write_callback_tasks:before", 16, 0),
]


@pytest.mark.parametrize(("kill_at", "sent_before", "unknown"), SEEDED)
def test_kill_at_a_seeded_point_then_a_normal_run(
    warehouse, sendgrid_server, kill_at, sent_before, unknown
) -> None:
    killed = run_child("act", str(warehouse), kill_at=kill_at, env=sendgrid_env(sendgrid_server))
    assert killed.returncode == KILLED, killed.stderr[-3000:]
    assert len(sendgrid_server.messages) == sent_before
    assert_at_most_once(warehouse, sendgrid_server, final=False)
    result = normal_run(warehouse, sendgrid_server)
    assert result["unknown"] == unknown and len(result["unknown_action_ids"]) == unknown
    assert_at_most_once(warehouse, sendgrid_server, final=True)
    assert len(sendgrid_server.messages) == 16 - (unknown if "before:2" in kill_at else 0)
    assert_callbacks_once(warehouse)


def test_kill_while_the_server_holds_the_response(warehouse, sendgrid_server) -> None:
    """The request reached SendGrid, no answer yet: kill -9 from outside."""
    sendgrid_server.hold_request = 1
    proc = start_child("act", str(warehouse), env=sendgrid_env(sendgrid_server))
    assert sendgrid_server.held.wait(timeout=60), "the child never sent"
    killed = kill_after(proc, 0)
    sendgrid_server.release.set()
    assert killed.returncode == KILLED
    assert len(sendgrid_server.messages) == 6  # the fa request
    result = normal_run(warehouse, sendgrid_server)
    assert result["unknown"] == 6  # received by the provider, recorded unknown, not resent
    assert_at_most_once(warehouse, sendgrid_server, final=True)
    assert len(sendgrid_server.messages) == 16
    assert_callbacks_once(warehouse)


def test_kills_at_random_moments_then_a_normal_run(warehouse, sendgrid_server) -> None:
    """Kills at random moments of the sending, timed from the child's first request.

    Timing from the child's start would depend on how fast the machine imports and plans (on a
    quick machine every run finished before its kill); the first request is the child's own
    clock. Three requests answered 0.3 s apart leave at least 0.9 s of sending after the first
    arrives, so a kill within 0.8 s of it always lands mid-send.
    """
    sendgrid_server.delay_seconds = 0.3  # widen the window between request and response
    rng = random.Random(16)
    outcomes = []
    for _ in range(5):
        sendgrid_server.request_seen.clear()
        proc = start_child("act", str(warehouse), env=sendgrid_env(sendgrid_server))
        sending = wait_for(proc, sendgrid_server.request_seen)
        run = kill_after(proc, rng.uniform(0.0, 0.8) if sending else 0)
        outcomes.append(run.returncode)
        assert run.returncode in (0, KILLED), run.stderr[-3000:]
        assert_at_most_once(warehouse, sendgrid_server, final=False)
    normal_run(warehouse, sendgrid_server)
    assert_at_most_once(warehouse, sendgrid_server, final=True)
    assert_callbacks_once(warehouse)
    assert outcomes[0] == KILLED  # the first run always had e-mails to send when killed
