"""A solved Zendesk task ticket closes its callback when it comes back through ingest, and
mart_callbacks counts the week (real ingest, real dbt, hand-written ticket export pages).

Timeline (business hours 09-17 UTC; tasks opened Wed 2024-06-05 14:00, due Fri 14:00):
- Thu 12:00 Carla closes R2 by CLI (resolved, billing): within SLA. Thu 10:00 she contacts R1.
- Fri 11:30 Zendesk ticket 9003 (R3's task) solved, tagged outcome resolved / root cause
  billing: within SLA. Ticket 9004 (R4's task) is still open.
- Fri 15:00 act's callbacks step: R3 closed from Zendesk; R1 and R4 escalate (level 1).
- Mon 10:00 ticket 9001 (R1's task) solved with an unknown outcome tag and no root cause:
  the Mon 10:30 step closes R1 without them and names the ticket, field and list.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from test_callbacks import (
    FRI_1500,
    MON_1430,
    WED_1400,
    add_users,
    create_tasks,
    query,
    step,
    task_of,
)
from test_loop_closure import dbt_build
from typer.testing import CliRunner

from cxloop.flows.cli import app
from cxloop.flows.ingest import ingest
from cxloop.playbooks.ledger import action_id_for

pytestmark = pytest.mark.usefixtures("prefect_harness")


def ticket(ticket_id: int, response_id: str, status: str, updated_at: str, tags: list[str]):
    """A task ticket as the Incremental Ticket Export returns it (what the mirror created)."""
    action_id = action_id_for(f"detractor_followup:{response_id}:callback_task")
    return {
        "id": ticket_id,
        "url": f"https://example.zendesk.com/api/v2/tickets/{ticket_id}.json",
        "external_id": action_id,
        "created_at": "2024-06-05T14:00:05Z",
        "updated_at": updated_at,
        "generated_timestamp": 1717599605,
        "type": "task",
        "subject": f"Detractor follow-up: response {response_id}",
        "description": "Callback",
        "priority": "normal",
        "status": status,
        "requester_id": 7001,
        "submitter_id": 7001,
        "assignee_id": 7002,
        "organization_id": None,
        "group_id": None,
        "due_at": "2024-06-07T14:00:00Z",
        "tags": ["cxloop", "detractor_followup", *tags],
        "custom_fields": [],
        "satisfaction_rating": None,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
    }


def write_page(sources: Path, name: str, tickets: list[dict]) -> None:
    folder = sources / "zendesk" / "tickets"
    folder.mkdir(parents=True, exist_ok=True)
    page = {
        "tickets": tickets,
        "after_url": None,
        "after_cursor": None,
        "before_url": None,
        "before_cursor": None,
        "end_of_stream": True,
    }
    (folder / name).write_text(json.dumps(page), encoding="utf-8")


def land(sources: Path, warehouse: Path, tmp_path: Path) -> None:
    (sources / "cxloop.yaml").write_text(
        "version: 1\nsources:\n  zendesk:\n    kind: zendesk\n    path: zendesk\n"
    )
    ingest(str(sources), warehouse=str(warehouse), lake_dir=str(tmp_path / "lake"))


def test_solved_zendesk_tickets_close_callbacks_and_the_mart_counts_them(
    warehouse: Path, tmp_path: Path
) -> None:
    add_users(warehouse)
    outbox, sources = tmp_path / "outbox", tmp_path / "sources"
    create_tasks(warehouse, outbox)
    r1, r2, r3, r4 = (task_of(warehouse, r) for r in ("R1", "R2", "R3", "R4"))
    cli = CliRunner()
    base = ["--warehouse", str(warehouse)]
    done = cli.invoke(app, ["callbacks", "contacted", r1[:8], *base, "--now", "2024-06-06T10:00"])
    assert done.exit_code == 0, done.output
    bad = cli.invoke(
        app,
        ["callbacks", "close", r2, "--outcome", "resolved", "--root-cause", "weather", *base],
    )
    assert bad.exit_code == 1
    assert "--root-cause: 'weather' is not one of product_defect" in " ".join(bad.output.split())
    done = cli.invoke(
        app,
        [
            "callbacks", "close", r2, "--outcome", "Resolved", "--root-cause", "billing",
            "--by", "carla@vendor.example", "--now", "2024-06-06T12:00", *base,
        ],
    )  # fmt: skip
    assert done.exit_code == 0, done.output

    write_page(
        sources,
        "page-001.json",
        [
            ticket(9003, "R3", "solved", "2024-06-07T11:30:00Z",
                   ["cxloop_outcome_resolved", "cxloop_root_cause_billing"]),
            ticket(9004, "R4", "open", "2024-06-06T09:00:00Z", []),
        ],
    )  # fmt: skip
    land(sources, warehouse, tmp_path)
    dbt_build(warehouse, tmp_path, "stg_zendesk__tickets")
    friday = step(warehouse, outbox, datetime(2024, 6, 7, 15, 0, tzinfo=UTC))
    assert friday["closed_from_zendesk"] == 1 and friday["escalated"] == 2
    assert friday["zendesk_problems"] == []

    write_page(
        sources,
        "page-002.json",
        [ticket(9001, "R1", "solved", "2024-06-10T10:00:00Z", ["cxloop_outcome_fixed"])],
    )
    land(sources, warehouse, tmp_path)
    monday = step(warehouse, outbox, datetime(2024, 6, 10, 10, 30, tzinfo=UTC))
    assert monday["closed_from_zendesk"] == 1 and monday["escalated"] == 0
    assert monday["zendesk_problems"] == [
        "zendesk ticket 9001 (raw.zendesk__tickets), field 'tags': 'cxloop_outcome_fixed': "
        "'fixed' is not a configured outcome (expected one of resolved, not_resolved, "
        "no_answer, declined; closed without outcome)",
        "zendesk ticket 9001 (raw.zendesk__tickets), field 'tags': no "
        "cxloop_root_cause_<root_cause> tag (closed without root cause)",
    ]
    closed = query(
        warehouse,
        "select task_id, source, actor, occurred_at, outcome, root_cause "
        "from ops.callback_events where event_type = 'closed' order by occurred_at",
    )
    assert closed == [
        (r2, "cli", "carla@vendor.example", datetime(2024, 6, 6, 12, 0), "resolved", "billing"),
        (r3, "zendesk", "9003", datetime(2024, 6, 7, 11, 30), "resolved", "billing"),
        (r1, "zendesk", "9001", datetime(2024, 6, 10, 10, 0), None, None),
    ]
    assert query(warehouse, "select status from ops.callback_tasks where task_id = ?", [r4]) == [
        ("open",)
    ]
    # a replayed run closes nothing twice
    assert (
        step(warehouse, outbox, datetime(2024, 6, 10, 10, 30, tzinfo=UTC))["closed_from_zendesk"]
        == 0
    )

    dbt_build(warehouse, tmp_path, "+mart_callbacks", "assert_callback_counts_nest")
    mart = query(
        warehouse,
        "select owner_email, owner_source, week_start_date, opened, contacted, closed, "
        "closed_within_sla, escalated, escalated_twice, closed_within_sla_pct, "
        "avg_hours_to_close from marts.mart_callbacks order by owner_email",
    )
    week = datetime(2024, 6, 3).date()
    # Carla: R2 closed Thu 12:00 (22 h, in SLA), R1 closed Mon 10:00 (116 h, late, escalated)
    # Dan: R3 closed Fri 11:30 (45.5 h, in SLA), R4 open and escalated
    assert mart == [
        ("carla@vendor.example", "csm", week, 2, 1, 2, 1, 1, 0, 50.0, 69.0),
        ("dan@vendor.example", "csm", week, 2, 0, 1, 1, 1, 0, 50.0, 45.5),
    ]
    con = duckdb.connect(str(warehouse))
    ids = con.execute("select callback_week_id from marts.mart_callbacks").fetchall()
    con.close()
    assert all("@" not in i[0] for i in ids)


def test_the_act_flow_escalates_after_its_playbooks_on_a_pinned_clock(
    warehouse: Path, cx_home: Path
) -> None:
    from cxloop.flows.act import act

    add_users(warehouse)
    cfg = cx_home / "cxloop.yaml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        "sources: {}\nplaybooks: {enabled: [detractor_followup]}\n"
        "callbacks: {escalation_email: cx-lead@vendor.example, max_escalation_level: 1}\n"
    )
    wednesday = act(warehouse=str(warehouse), now=WED_1400, config=str(cfg))
    assert wednesday["detractor_followup"]["sent"] == 3 + 4
    assert wednesday["callback_escalation"]["sent"] == 0
    friday = act(warehouse=str(warehouse), now=FRI_1500, config=str(cfg))
    assert friday["detractor_followup"]["sent"] == 0
    assert friday["callback_escalation"]["callbacks"]["escalated"] == 4
    assert friday["callback_escalation"]["sent"] == 2  # Mona (R1, R2), the fallback (R3, R4)
    monday = act(warehouse=str(warehouse), now=MON_1430, config=str(cfg))
    assert monday["callback_escalation"]["sent"] == 0  # max level 1: nothing more
    sent = query(
        warehouse,
        "select recipient, json_array_length(payload->'$.item_keys') from ops.playbook_actions "
        "where playbook = 'callback_escalation' order by recipient",
    )
    assert sent == [("cx-lead@vendor.example", 2), ("mona@vendor.example", 2)]
