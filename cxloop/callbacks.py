"""Callback tasks after they are created: contacted, closed, overdue and escalated.

A task (ops.callback_tasks, written by the playbook engine) moves open -> contacted -> closed;
every change is a row appended to ops.callback_events in the same transaction that updates the
task's current `status`, so history is never lost. Closing needs an outcome and a root cause
from the configured lists (cxloop.yaml `callbacks`). A solved mirrored Zendesk task ticket
(external_id = the callback's action id) closes its task when it comes back through ingest.
An open task past its due time escalates to the owner's manager, once per task and level; the
`callback_escalation` playbook then mails (or posts) the digest through the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from cxloop.config import CallbacksConfig
from cxloop.errors import CxloopError
from cxloop.playbooks import ledger
from cxloop.playbooks.plan import PlanContext, add_business_hours

STATES = ("open", "contacted", "closed")
ZENDESK_SOLVED = ("solved", "closed")
OUTCOME_TAG, ROOT_CAUSE_TAG = "cxloop_outcome_", "cxloop_root_cause_"


class CallbackError(CxloopError):
    """A callback command that cannot be carried out (unknown task, wrong state or value)."""


@dataclass(frozen=True)
class Task:
    task_id: str
    action_id: str
    assignee_email: str
    status: str
    due_at: datetime | None
    created_at: datetime


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def find_task(con: duckdb.DuckDBPyConnection, task_id: str) -> Task:
    """The task whose id is `task_id` or starts with it (8 characters at least)."""
    ledger.ensure_tables(con)
    wanted = task_id.strip().lower()
    if len(wanted) < 8:
        raise CallbackError(f"task id {task_id!r}: give at least 8 characters of the task_id")
    rows = con.execute(
        "select task_id, action_id, assignee_email, status, due_at, created_at "
        "from ops.callback_tasks where task_id like ? || '%'",
        [wanted],
    ).fetchall()
    if not rows:
        raise CallbackError(
            f"ops.callback_tasks: no task {task_id!r} (expected a task_id from `cxloop callbacks "
            "list`)"
        )
    if len(rows) > 1:
        raise CallbackError(f"ops.callback_tasks: {task_id!r} matches {len(rows)} tasks")
    return Task(*rows[0])


def _append(con: duckdb.DuckDBPyConnection, event: dict[str, Any], now: datetime) -> bool:
    """Append one event (ignored when its id exists) and set the task's status; True if new."""
    row = {
        "outcome": None,
        "root_cause": None,
        "escalation_level": None,
        "escalated_to": None,
        "note": None,
        "actor": None,
        **event,
        "recorded_at": now,
    }
    names = [n for n, _, _, _ in ledger.TABLES["ops.callback_events"][1]]
    before = con.execute(
        "select count(*) from ops.callback_events where event_id = ?", [row["event_id"]]
    ).fetchone()
    if before and before[0]:
        return False
    con.execute(
        f"insert into ops.callback_events ({', '.join(names)}) "
        f"values ({', '.join('?' for _ in names)})",
        [row[n] for n in names],
    )
    con.execute(
        "update ops.callback_tasks set status = ? where task_id = ?",
        [row["status"], row["task_id"]],
    )
    return True


def mark_contacted(
    con: duckdb.DuckDBPyConnection,
    task_id: str,
    *,
    now: datetime,
    source: str = "cli",
    actor: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """open/contacted -> contacted (each contact attempt is its own event)."""
    task = find_task(con, task_id)
    if task.status == "closed":
        raise CallbackError(f"task {task.task_id}: is closed; a closed task cannot be contacted")
    at = _naive_utc(now)
    event = {
        "event_id": f"{task.task_id}:contacted:{at.isoformat()}",
        "task_id": task.task_id,
        "event_type": "contacted",
        "status": "contacted",
        "occurred_at": at,
        "source": source,
        "actor": actor,
        "note": note,
    }
    _append(con, event, at)
    return {"task_id": task.task_id, "status": "contacted", "contacted_at": at}


def check_value(value: str | None, allowed: list[str], option: str, key: str) -> str:
    """`value` if it is one of `allowed`, else a one-line error naming the option and list."""
    if value is None or value.strip().lower() not in allowed:
        raise CallbackError(
            f"{option}: {value!r} is not one of {', '.join(allowed)} (cxloop.yaml key "
            f"'callbacks.{key}')"
        )
    return value.strip().lower()


def close_task(
    con: duckdb.DuckDBPyConnection,
    task_id: str,
    *,
    outcome: str,
    root_cause: str,
    config: CallbacksConfig,
    now: datetime,
    source: str = "cli",
    actor: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """open/contacted -> closed with an outcome and a root cause from the configured lists."""
    outcome = check_value(outcome, config.outcomes, "--outcome", "outcomes")
    root_cause = check_value(root_cause, config.root_causes, "--root-cause", "root_causes")
    task = find_task(con, task_id)
    if task.status == "closed":
        raise CallbackError(f"task {task.task_id}: is already closed")
    at = _naive_utc(now)
    _append(con, _closed(task.task_id, at, source, actor, outcome, root_cause, note), at)
    return {"task_id": task.task_id, "status": "closed", "outcome": outcome, "closed_at": at}


def _closed(
    task_id: str,
    at: datetime,
    source: str,
    actor: str | None,
    outcome: str | None,
    root_cause: str | None,
    note: str | None,
) -> dict[str, Any]:
    return {
        "event_id": f"{task_id}:closed",
        "task_id": task_id,
        "event_type": "closed",
        "status": "closed",
        "occurred_at": at,
        "source": source,
        "actor": actor,
        "outcome": outcome,
        "root_cause": root_cause,
        "note": note,
    }


def close_from_zendesk(
    con: duckdb.DuckDBPyConnection, config: CallbacksConfig, now: datetime
) -> dict[str, Any]:
    """Close every task whose mirrored Zendesk ticket came back solved (or closed).

    The ticket is found by `external_id` = the task's action id in staging.stg_zendesk__tickets
    (a view over raw, so a ticket landed since the last build counts). Its tags carry the
    outcome and root cause (`cxloop_outcome_<name>`, `cxloop_root_cause_<name>`, as a Zendesk
    drop-down field sets them); a missing or unknown value closes the task without it and says
    so in `problems` and the event's note.
    """
    counts: dict[str, Any] = {"closed": 0, "problems": []}
    if not ledger.table_exists(con, "staging.stg_zendesk__tickets"):
        return counts
    rows = con.execute(
        """select tasks.task_id, tickets.ticket_id, tickets.status, tickets.updated_at,
                  tickets.tags_json
           from ops.callback_tasks as tasks
           join staging.stg_zendesk__tickets as tickets on tickets.external_id = tasks.action_id
           where tasks.status <> 'closed' and tickets.status in ('solved', 'closed')
           order by tasks.task_id"""
    ).fetchall()
    at_now = _naive_utc(now)
    for task_id, ticket_id, _, solved_at, tags_json in rows:
        tags = _tags(tags_json)
        where = f"zendesk ticket {ticket_id} (raw.zendesk__tickets), field 'tags'"
        outcome, problem_o = _tagged(tags, OUTCOME_TAG, config.outcomes, where, "outcome")
        root_cause, problem_r = _tagged(
            tags, ROOT_CAUSE_TAG, config.root_causes, where, "root cause"
        )
        problems = [p for p in (problem_o, problem_r) if p]
        counts["problems"].extend(problems)
        event = _closed(
            task_id,
            _naive_utc(solved_at) if solved_at else at_now,
            "zendesk",
            str(ticket_id),
            outcome,
            root_cause,
            "; ".join(problems) or None,
        )
        counts["closed"] += _append(con, event, at_now)
    return counts


def _tags(tags_json: Any) -> list[str]:
    try:
        tags = json.loads(tags_json) if isinstance(tags_json, str) else tags_json
    except ValueError:
        return []
    return [str(t).lower() for t in tags] if isinstance(tags, list) else []


def _tagged(
    tags: list[str], prefix: str, allowed: list[str], where: str, what: str
) -> tuple[str | None, str | None]:
    values = [t[len(prefix) :] for t in tags if t.startswith(prefix)]
    if not values:
        return None, f"{where}: no {prefix}<{what.replace(' ', '_')}> tag (closed without {what})"
    if values[0] not in allowed:
        return None, (
            f"{where}: '{prefix}{values[0]}': {values[0]!r} is not a configured {what} "
            f"(expected one of {', '.join(allowed)}; closed without {what})"
        )
    return values[0], None


@dataclass(frozen=True)
class Person:
    email: str
    manager_email: str | None
    team_manager_email: str | None


def _people(con: duckdb.DuckDBPyConnection, config: CallbacksConfig) -> dict[str, Person]:
    """CRM users by lower-case e-mail: their manager's e-mail, or their team's escalation."""
    users: list[tuple[str, str | None, str | None]] = []  # (user_id, email, manager_user_id)
    for table in ("staging.stg_salesforce__users", "staging.stg_hubspot__owners"):
        if ledger.table_exists(con, table):
            users += con.execute(
                f"select user_id, email_normalized, manager_user_id from {table}"
            ).fetchall()
    team_of: dict[str, str] = {}
    if config.team_managers and ledger.table_exists(con, "staging.stg_hubspot__owner_teams"):
        managers = {k.strip().lower(): v for k, v in config.team_managers.items()}
        for user_id, team_id, team_name in con.execute(
            "select user_id, team_id, team_name from staging.stg_hubspot__owner_teams "
            "order by user_id, is_primary desc, team_id"
        ).fetchall():
            for name in (team_name, team_id, str(team_id).removeprefix("hubspot:")):
                if user_id not in team_of and name and name.strip().lower() in managers:
                    team_of[user_id] = managers[name.strip().lower()]
    email_of = {user_id: email for user_id, email, _ in users if email}
    return {
        email: Person(email, email_of.get(manager or ""), team_of.get(user_id))
        for user_id, email, manager in users
        if email
    }


def escalation_chain(
    owner: str, levels: int, people: dict[str, Person], config: CallbacksConfig
) -> list[str | None]:
    """Who each level escalates to: the manager (or HubSpot team's), else the fallback."""
    chain: list[str | None] = []
    current: str | None = owner.strip().lower()
    for _ in range(levels):
        person = people.get(current or "")
        nxt = (person.manager_email or person.team_manager_email) if person else None
        nxt = (nxt or config.escalation_email or "").strip().lower() or None
        chain.append(nxt)
        current = nxt
    return chain


def escalate_overdue(
    con: duckdb.DuckDBPyConnection, config: CallbacksConfig, ctx: PlanContext
) -> dict[str, Any]:
    """Append an `escalated` event for each level an unclosed task's lateness has reached.

    Level L is reached `(L - 1) * escalate_again_after_business_hours` business hours after the
    due time; each (task, level) is escalated once ever (event id `<task>:escalated:<L>`).
    """
    counts: dict[str, Any] = {"escalated": 0, "no_recipient": []}
    levels = config.max_escalation_level
    if levels == 0:
        return counts
    now = ctx.now.astimezone(UTC)
    tasks = con.execute(
        "select task_id, assignee_email, due_at from ops.callback_tasks "
        "where status <> 'closed' and due_at is not null and due_at <= ? order by task_id",
        [ctx.now_utc],
    ).fetchall()
    if not tasks:
        return counts
    people = _people(con, config)
    for task_id, owner, due_at in tasks:
        chain = escalation_chain(owner, levels, people, config)
        for level, recipient in enumerate(chain, start=1):
            reached = add_business_hours(
                due_at.replace(tzinfo=UTC),
                (level - 1) * config.escalate_again_after_business_hours,
                ctx,
            )
            if level > 1 and reached > now:
                break
            if recipient is None:
                counts["no_recipient"].append(f"{task_id}: level {level}")
                break
            event = {
                "event_id": f"{task_id}:escalated:{level}",
                "task_id": task_id,
                "event_type": "escalated",
                "status": _status(con, task_id),
                "occurred_at": _naive_utc(reached) if level > 1 else due_at,
                "source": "act",
                "escalation_level": level,
                "escalated_to": recipient,
            }
            counts["escalated"] += _append(con, event, ctx.now_utc)
    return counts


def _status(con: duckdb.DuckDBPyConnection, task_id: str) -> str:
    row = con.execute("select status from ops.callback_tasks where task_id = ?", [task_id])
    found = row.fetchone()
    return str(found[0]) if found else "open"


def task_queue(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    owner: str | None = None,
    overdue: bool = False,
    include_closed: bool = False,
) -> list[dict[str, Any]]:
    """A CSM's (or everyone's) tasks, most urgent first, with their escalation level.

    Reads only (the connection may be read-only): no callback tables yet means no tasks.
    """
    present = con.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ops' and table_name in ('callback_tasks', 'callback_events')"
    ).fetchone()
    if not present or present[0] < 2:
        return []
    cursor = con.execute(
        """select tasks.task_id, tasks.status, tasks.assignee_email as owner, tasks.owner_source,
                  tasks.account_id, tasks.customer_id, tasks.reason, tasks.created_at,
                  tasks.due_at, tasks.due_at <= $now and tasks.status <> 'closed' as is_overdue,
                  (select max(escalation_level) from ops.callback_events as events
                   where events.task_id = tasks.task_id) as escalation_level
           from ops.callback_tasks as tasks
           where ($owner is null or tasks.assignee_email = lower(trim($owner)))
             and ($closed or tasks.status <> 'closed')
             and (not $overdue or (tasks.due_at <= $now and tasks.status <> 'closed'))
           order by tasks.due_at nulls last, tasks.task_id""",
        {"now": _naive_utc(now), "owner": owner, "overdue": overdue, "closed": include_closed},
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
