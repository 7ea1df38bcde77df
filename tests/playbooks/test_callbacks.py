"""Callback tasks on a pinned clock: creation -> contacted -> overdue -> escalation once -> closed.

Hand-made warehouse (tests/playbooks/conftest.py: 4 recent detractors, R1 and R2 on Carla's
account A1, R3 and R4 on Dan's A2) plus a hand-made `staging.stg_salesforce__users`: Carla's
manager is Mona, Mona's is Victor; Dan has no manager, so his escalations go to the configured
fallback. Business hours 09:00-17:00 UTC, Monday to Friday; the SLA is 2 business days (16 h).
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from cxloop.act import load_specs, plan_context, run_callbacks, run_playbooks
from cxloop.callbacks import (
    CallbackError,
    close_task,
    escalate_overdue,
    mark_contacted,
    task_queue,
)
from cxloop.config import CallbacksConfig, ProjectConfig
from cxloop.playbooks.channels import OutboxChannel
from cxloop.playbooks.ledger import action_id_for
from cxloop.playbooks.spec import load_playbooks

REPO = Path(__file__).resolve().parents[2]
WED_1400 = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)  # tasks created
THU_1000 = datetime(2024, 6, 6, 10, 0, tzinfo=UTC)
FRI_1359 = datetime(2024, 6, 7, 13, 59, tzinfo=UTC)  # one minute before due
FRI_1500 = datetime(2024, 6, 7, 15, 0, tzinfo=UTC)  # overdue: level 1
MON_1300 = datetime(2024, 6, 10, 13, 0, tzinfo=UTC)  # level 2 not yet (due + 8 business h)
MON_1430 = datetime(2024, 6, 10, 14, 30, tzinfo=UTC)  # level 2
USERS = [  # user_id, email_normalized, manager_user_id
    ("005A", "carla@vendor.example", "005M"),
    ("005M", "mona@vendor.example", "005V"),
    ("005V", "victor@vendor.example", None),
    ("005D", "dan@vendor.example", None),
]
CONFIG = ProjectConfig(
    sources={},
    callbacks=CallbacksConfig(escalation_email="cx-lead@vendor.example"),
)


def add_users(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists staging")
    con.execute(
        "create table staging.stg_salesforce__users "
        "(user_id varchar, email_normalized varchar, manager_user_id varchar)"
    )
    con.executemany("insert into staging.stg_salesforce__users values (?, ?, ?)", USERS)
    con.close()


def create_tasks(warehouse: Path, outbox: Path) -> dict:
    return run_playbooks(
        warehouse,
        load_playbooks(REPO / "playbooks", ["detractor_followup"]),
        channel=OutboxChannel(outbox, "cx@vendor.example", "CX"),
        ctx=plan_context(CONFIG, WED_1400),
    )["detractor_followup"]


def step(warehouse: Path, outbox: Path, now: datetime) -> dict:
    return run_callbacks(
        warehouse,
        CONFIG,
        channel=OutboxChannel(outbox, "cx@vendor.example", "CX"),
        ctx=plan_context(CONFIG, now),
    )


def task_of(warehouse: Path, response_id: str) -> str:
    action = action_id_for(f"detractor_followup:{response_id}:callback_task")
    con = duckdb.connect(str(warehouse))
    try:
        row = con.execute(
            "select task_id from ops.callback_tasks where action_id = ?", [action]
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0])


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse))
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def digests(outbox: Path, since: set[Path]) -> dict[str, str]:
    """Recipient -> plain text of the escalation e-mails written after `since`."""
    found = {}
    for path in sorted(set(outbox.glob("*.eml")) - since):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if "escalated to you" in str(msg["Subject"]):
            found[str(msg["To"])] = msg.get_body(("plain",)).get_content()
    return found


def escalation_round(warehouse: Path, outbox: Path, now: datetime) -> tuple[dict, dict]:
    """The callbacks step at `now`, and the escalation e-mails it wrote (recipient -> text)."""
    seen = set(outbox.glob("*.eml"))
    result = step(warehouse, outbox, now)
    return result, digests(outbox, seen)


def test_a_callback_from_creation_through_escalation_to_closure(
    warehouse: Path, tmp_path: Path
) -> None:
    add_users(warehouse)
    outbox = tmp_path / "outbox"
    assert create_tasks(warehouse, outbox)["sent"] == 3 + 4  # 3 e-mails (R4 opted out), 4 tasks
    tasks = query(
        warehouse,
        "select assignee_email, owner_source, status, due_at, due_date from ops.callback_tasks "
        "order by assignee_email",
    )
    due = datetime(2024, 6, 7, 14, 0)  # Wed 14:00 + 16 business hours = Fri 14:00
    assert tasks == [
        ("carla@vendor.example", "csm", "open", due, due.date()),
        ("carla@vendor.example", "csm", "open", due, due.date()),
        ("dan@vendor.example", "csm", "open", due, due.date()),
        ("dan@vendor.example", "csm", "open", due, due.date()),
    ]
    assert query(warehouse, "select event_type, count(*) from ops.callback_events group by 1") == [
        ("opened", 4)
    ]
    r1, r2, r3 = (task_of(warehouse, r) for r in ("R1", "R2", "R3"))

    # Thursday: Carla reaches R1's customer
    with duckdb.connect(str(warehouse)) as con:
        mark_contacted(con, r1[:8], now=THU_1000, actor="carla@vendor.example")
    queue = query(warehouse, "select status from ops.callback_tasks where task_id = ?", [r1])
    assert queue == [("contacted",)]

    # one minute before due: nothing escalates
    before = step(warehouse, outbox, FRI_1359)
    assert before["escalated"] == 0 and before["escalation_digests"]["sent"] == 0

    # Friday 15:00, one hour late: level 1, one digest per manager
    late, level1 = escalation_round(warehouse, outbox, FRI_1500)
    assert late["escalated"] == 4 and late["escalation_digests"]["sent"] == 2
    assert set(level1) == {"mona@vendor.example", "cx-lead@vendor.example"}
    assert "2 callback tasks are past due" in level1["mona@vendor.example"]
    assert (
        "Owner: carla@vendor.example. Status: contacted. Escalation level 1."
        in (level1["mona@vendor.example"])
    )
    assert "1.0 hours overdue" in level1["cx-lead@vendor.example"]
    with duckdb.connect(str(warehouse)) as con:
        overdue = task_queue(con, FRI_1500, owner="DAN@vendor.example", overdue=True)
    assert [(t["task_id"], t["escalation_level"]) for t in overdue] == sorted(
        [(r3, 1), (task_of(warehouse, "R4"), 1)]
    )

    # the same moment again, and Monday 13:00 (level 2 is due Mon 14:00): nothing new
    for now in (FRI_1500, MON_1300):
        again = step(warehouse, outbox, now)
        assert again["escalated"] == 0 and again["escalation_digests"]["sent"] == 0

    # Dan closes R3 before level 2; Monday 14:30: level 2 for the three still open
    with duckdb.connect(str(warehouse)) as con:
        close_task(
            con,
            r3,
            outcome="no_answer",
            root_cause="support_experience",
            config=CONFIG.callbacks,
            now=MON_1300,
        )
    second, level2 = escalation_round(warehouse, outbox, MON_1430)
    assert second["escalated"] == 3 and second["escalation_digests"]["sent"] == 2
    assert set(level2) == {"victor@vendor.example", "cx-lead@vendor.example"}
    assert "Escalation level 2." in level2["victor@vendor.example"]
    assert "2 callback tasks are past due" in level2["victor@vendor.example"]
    assert "1 callback task is past due" in level2["cx-lead@vendor.example"]  # R4 only

    # max level is 2: a week later nothing more is sent
    later = step(warehouse, outbox, datetime(2024, 6, 17, 12, 0, tzinfo=UTC))
    assert later["escalated"] == 0 and later["escalation_digests"]["sent"] == 0

    # closure: bad values are refused with the option and the list; good ones close once
    with duckdb.connect(str(warehouse)) as con:
        with pytest.raises(CallbackError, match=r"--outcome: 'fixed' is not one of resolved"):
            close_task(
                con,
                r1,
                outcome="fixed",
                root_cause="billing",
                config=CONFIG.callbacks,
                now=MON_1430,
            )
        close_task(
            con, r1, outcome="resolved", root_cause="billing", config=CONFIG.callbacks, now=MON_1430
        )
        with pytest.raises(CallbackError, match="is already closed"):
            close_task(
                con,
                r1,
                outcome="resolved",
                root_cause="billing",
                config=CONFIG.callbacks,
                now=MON_1430,
            )
        with pytest.raises(CallbackError, match="a closed task cannot be contacted"):
            mark_contacted(con, r1, now=MON_1430)
    history = query(
        warehouse,
        "select event_type, status, escalation_level, escalated_to, outcome, root_cause "
        "from ops.callback_events where task_id = ? order by occurred_at, event_type",
        [r1],
    )
    assert history == [
        ("opened", "open", None, None, None, None),
        ("contacted", "contacted", None, None, None, None),
        ("escalated", "contacted", 1, "mona@vendor.example", None, None),
        ("escalated", "contacted", 2, "victor@vendor.example", None, None),
        ("closed", "closed", None, None, "resolved", "billing"),
    ]
    # every escalation e-mail went exactly once per task and level (the ledger's item keys)
    assert query(
        warehouse,
        "select count(*), count(distinct action_key) from ops.playbook_actions "
        "where playbook = 'callback_escalation' and status = 'sent'",
    ) == [(4, 4)]
    assert r2  # R2 stays open: escalated twice, not closed


def test_a_task_with_no_csm_goes_to_the_queue(tmp_path: Path) -> None:
    from small_marts import RESPONSES, build_warehouse

    warehouse = build_warehouse(tmp_path / "cx.duckdb", RESPONSES[2:3])  # R3: Dan's account
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.dim_accounts set csm_email = null")
    con.close()
    queued = ProjectConfig(sources={}, callbacks=CallbacksConfig(queue="CX-Queue@vendor.example"))
    run_playbooks(
        warehouse,
        load_playbooks(REPO / "playbooks", ["detractor_followup"]),
        channel=OutboxChannel(tmp_path / "outbox", "cx@vendor.example", "CX"),
        ctx=plan_context(queued, WED_1400),
    )
    assert query(warehouse, "select assignee_email, owner_source from ops.callback_tasks") == [
        ("cx-queue@vendor.example", "queue")
    ]


def test_the_escalation_digest_uses_the_runs_clock_however_it_is_run(
    warehouse: Path, tmp_path: Path
) -> None:
    """`$now` comes from the run's clock: no 1970 default, also outside the callbacks step."""
    add_users(warehouse)
    outbox = tmp_path / "outbox"
    create_tasks(warehouse, outbox)
    with duckdb.connect(str(warehouse)) as con:  # Friday 15:00: one hour late, level 1
        assert escalate_overdue(con, CONFIG.callbacks, plan_context(CONFIG, FRI_1500))["escalated"]
    seen = set(outbox.glob("*.eml"))
    sent = run_playbooks(
        warehouse,
        load_playbooks(REPO / "playbooks", ["callback_escalation"]),
        channel=OutboxChannel(outbox, "cx@vendor.example", "CX"),
        ctx=plan_context(CONFIG, FRI_1500),
    )["callback_escalation"]
    assert sent["sent"] == 2
    assert "1.0 hours overdue" in digests(outbox, seen)["cx-lead@vendor.example"]
    # the main playbook loop never runs it, even when named: only the callbacks step does
    assert load_specs(CONFIG, ["callback_escalation"]) == []
    assert [s.spec.name for s in load_specs(CONFIG, None)] == [
        "at_risk_alert",
        "detractor_followup",
        "repeat_complaint",
    ]
