"""The loop closes: delivery events feed suppressions, and mart_loop_closure on hand rows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from cxloop.act import run_playbooks
from cxloop.flows.ingest import ingest
from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.ledger import action_id_for, ensure_playbook_tables
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.spec import load_playbooks

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
EVENTS = REPO / "tests" / "fixtures" / "sources" / "sendgrid"


pytestmark = pytest.mark.usefixtures("prefect_harness")


def dbt_build(warehouse: Path, tmp_path: Path, *models: str) -> None:
    """Build the named models (and their tests) against the given warehouse with real dbt."""
    dbt = Path(sys.executable).parent / "dbt"
    env = {
        **os.environ,
        "CXLOOP_WAREHOUSE": str(warehouse),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
    }
    done = subprocess.run(
        [
            str(dbt),
            "build",
            "--profiles-dir",
            ".",
            "--exclude-resource-type",
            "unit_test",
            "--select",
            *models,
        ],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def land_events(warehouse: Path, tmp_path: Path) -> None:
    """Ingest the hand-written event batches (only a sendgrid source configured)."""
    sources = tmp_path / "sources"
    shutil.copytree(EVENTS, sources / "sendgrid")
    (sources / "cxloop.yaml").write_text(
        "version: 1\nsources:\n  sendgrid:\n    kind: sendgrid\n    path: sendgrid\n"
    )
    ingest(str(sources), warehouse=str(warehouse), lake_dir=str(tmp_path / "lake"))


def act_once(warehouse: Path, ctx: PlanContext, outbox: Path) -> dict:
    return run_playbooks(
        warehouse,
        load_playbooks(REPO / "playbooks", ["detractor_followup"]),
        channel=OutboxChannel(outbox, "cx@vendor.example", "CX"),
        ctx=ctx,
    )["detractor_followup"]


def test_an_unsubscribe_event_makes_the_next_run_suppress_the_address(
    tmp_path: Path, ctx: PlanContext, warehouse: Path
) -> None:
    first = act_once(warehouse, ctx, tmp_path / "outbox")
    assert first["sent"] == 3 + 4 and first["suppressions_from_events"] == {
        "added": 0,
        "removed": 0,
        "unknown_confirmed_sent": 0,
    }
    # ana unsubscribes from the follow-up; SendGrid posts the event; it lands; staging sees it
    land_events(warehouse, tmp_path)
    dbt_build(warehouse, tmp_path, "stg_sendgrid__events")
    later = ctx.now + timedelta(days=4)
    con = duckdb.connect(str(warehouse))
    con.execute(
        "insert into marts.fct_survey_responses values "
        "('R9', 'C1', 'A1', 4, 'detractor', 'en', 'ana@acme.example', ?, 'still slow'),"
        "('R8', 'C3', 'A2', 5, 'detractor', 'fa', 'sara@globex.example', ?, null)",
        [later.replace(tzinfo=None) - timedelta(hours=2)] * 2,
    )
    con.close()
    second = act_once(warehouse, PlanContext(**{**ctx.__dict__, "now": later}), tmp_path / "outbox")
    assert second["suppressions_from_events"] == {
        "added": 4,
        "removed": 0,
        "unknown_confirmed_sent": 0,
    }
    con = duckdb.connect(str(warehouse))
    ledger = dict(
        con.execute(
            "select action_key, status || ': ' || coalesce(error, '') from ops.playbook_actions "
            "where action_key like 'detractor_followup:R_:%'"
        ).fetchall()
    )
    suppressions = con.execute(
        "select email, reason, source from ops.suppressions order by email"
    ).fetchall()
    con.close()
    assert ledger["detractor_followup:R9:email"] == "suppressed: address is on the suppression list"
    assert ledger["detractor_followup:R9:callback_task"] == "sent: "  # the CSM still calls
    # sara's bounce was `blocked` (temporary): she is still mailed
    assert ledger["detractor_followup:R8:email"] == "sent: "
    assert suppressions == [
        ("ana@acme.example", "unsubscribe", "sendgrid_events"),
        ("bo@example.com", "bounce", "sendgrid_events"),
        ("gu@example.org", "group_unsubscribe", "sendgrid_events"),
        ("spam@example.net", "spamreport", "sendgrid_events"),
    ]  # gr@ re-subscribed to the group after unsubscribing: not suppressed


def test_a_dry_run_sees_event_suppressions_but_keeps_nothing(
    tmp_path: Path, ctx: PlanContext, warehouse: Path
) -> None:
    land_events(warehouse, tmp_path)
    dbt_build(warehouse, tmp_path, "stg_sendgrid__events")
    plan = run_playbooks(
        warehouse,
        load_playbooks(REPO / "playbooks", ["detractor_followup"]),
        channel=OutboxChannel(tmp_path / "outbox", "cx@vendor.example", "CX"),
        ctx=ctx,
        dry_run=True,
    )["detractor_followup"]
    ana = next(a for a in plan["plan"] if a["action_key"] == "detractor_followup:R1:email")
    assert ana["status"] == "suppressed"
    con = duckdb.connect(str(warehouse))
    # even the ops tables the sync created were rolled back
    assert con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ops' "
        "and table_name in ('suppressions', 'playbook_actions')"
    ).fetchall() == [(0,)]
    con.close()


def test_an_unknown_outcome_confirmed_by_sendgrid_events_becomes_sent(
    tmp_path: Path, ctx: PlanContext, warehouse: Path
) -> None:
    act_once(warehouse, ctx, tmp_path / "outbox")
    con = duckdb.connect(str(warehouse))
    # as if the run had crashed after sending sara's (R3) and omar's (R2) e-mails
    con.execute(
        "update ops.playbook_actions set status = 'unknown', sent_at = null, "
        "provider_message_id = null where action_key in "
        "('detractor_followup:R2:email', 'detractor_followup:R3:email', "
        "'detractor_followup:R1:email')"
    )
    con.close()
    land_events(warehouse, tmp_path)
    dbt_build(warehouse, tmp_path, "stg_sendgrid__events")
    con = duckdb.connect(str(warehouse))
    con.execute("delete from raw.sendgrid__events where lower(email) = 'ana@acme.example'")
    con.close()
    counts = act_once(warehouse, ctx, tmp_path / "outbox")
    assert counts["suppressions_from_events"]["unknown_confirmed_sent"] == 2
    con = duckdb.connect(str(warehouse))
    rows = dict(
        (r[0], r[1:])
        for r in con.execute(
            "select action_key, status, provider_message_id, error from ops.playbook_actions "
            "where action_key like 'detractor_followup:R_:email'"
        ).fetchall()
    )
    con.close()
    assert rows["detractor_followup:R2:email"] == (
        "sent",
        "msg0002",
        "outcome was unknown; confirmed by SendGrid event processed",
    )
    assert rows["detractor_followup:R3:email"][:2] == ("sent", "msg0003")  # first: deferred
    # no event mentions ana's message: its outcome stays unknown (and it is not resent)
    assert rows["detractor_followup:R1:email"][0] == "unknown"
    assert counts["sent"] == 0 and counts["unknown"] == 0


def _action(key: str, channel: str, status: str, sent_at: str | None, response_id: str | None):
    payload = json.dumps({"response_id": response_id} if response_id else {})
    when = sent_at or "2024-05-01 00:00"
    return (
        action_id_for(key),
        key.split(":")[0],
        key,
        channel,
        "x@example.com",
        status,
        1,
        None,
        None,
        payload,
        when,
        sent_at,
        when,
    )


def test_loop_closure_mart_on_hand_rows(tmp_path: Path) -> None:
    warehouse = tmp_path / "hand.duckdb"
    con = duckdb.connect(str(warehouse))
    for schema in ("raw", "marts", "ops"):
        con.execute(f"create schema {schema}")
    con.execute(
        "create table marts.fct_survey_responses (response_id varchar, customer_id varchar, "
        "nps_score integer, nps_category varchar, responded_at timestamp)"
    )
    con.executemany(
        "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?)",
        [
            ("R1", "C1", 3, "detractor", "2024-05-02 10:00"),
            ("R2", "C2", 5, "detractor", "2024-05-10 00:00"),
            ("R3", "C3", 2, "detractor", "2024-05-20 00:00"),
            ("R4", "C4", 6, "detractor", "2024-06-01 00:00"),
            ("R1b", "C1", 8, "promoter", "2024-06-10 00:00"),
            ("R3b", "C3", 4, "detractor", "2024-07-01 00:00"),
        ],
    )
    ensure_playbook_tables(con)
    f = "detractor_followup"
    con.executemany(
        "insert into ops.playbook_actions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            _action(f"{f}:R1:email", "email", "sent", "2024-05-02 14:00", "R1"),
            _action(f"{f}:R1:callback_task", "callback", "sent", "2024-05-02 13:00", "R1"),
            _action(f"{f}:R2:email", "email", "suppressed", None, "R2"),
            _action(f"{f}:R2:callback_task", "callback", "sent", "2024-05-11 00:00", "R2"),
            _action(f"{f}:R4:email", "email", "sent", "2024-06-01 06:00", "R4"),
            _action("at_risk_alert:digest:c@x:abc", "email", "sent", "2024-05-03 00:00", None),
        ],
    )
    con.execute(
        'create table raw.sendgrid__events (email varchar, "timestamp" varchar, event varchar, '
        "sg_event_id varchar, cxloop_action_id varchar, _loaded_at timestamp, _row_number bigint)"
    )
    con.executemany(
        "insert into raw.sendgrid__events values (?, '1714660000', ?, ?, ?, now(), 1)",
        [
            ("a@x", "delivered", "e1", action_id_for(f"{f}:R1:email")),
            ("a@x", "delivered", "e1", action_id_for(f"{f}:R1:email")),  # re-delivered
            ("d@x", "processed", "e2", action_id_for(f"{f}:R4:email")),
        ],
    )
    con.close()
    dbt_build(
        warehouse,
        tmp_path,
        "stg_sendgrid__events",
        "stg_ops__playbook_actions",
        "mart_loop_closure",
    )
    con = duckdb.connect(str(warehouse))
    rows = con.execute(
        "select loop_closure_id, detractors, followed_up, loops_closed, loop_closure_rate, "
        "avg_hours_to_first_contact, median_hours_to_first_contact, "
        "followed_up_with_next_response, avg_nps_change_followed_up, "
        "not_followed_up_with_next_response, avg_nps_change_not_followed_up "
        "from marts.mart_loop_closure order by loop_closure_id"
    ).fetchall()
    con.close()
    assert rows == [
        (f"{f}:2024-05", 3, 2, 1, pytest.approx(1 / 3), 13.5, 13.5, 1, 5.0, 1, 2.0),
        (f"{f}:2024-06", 1, 1, 0, 0.0, 6.0, 6.0, 0, None, 0, None),
        (f"{f}:2024-07", 1, 0, 0, 0.0, None, None, 0, None, 0, None),
    ]
