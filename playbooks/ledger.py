"""The action ledger `ops.playbook_actions` and the ops tables the playbooks write.

Order of writes for one action: planned -> sending -> sent/failed, each committed. A row
found in `sending` by a later run crashed between send and record: it becomes `unknown`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

ACTION_NAMESPACE = uuid.UUID("6f1c3f4e-2a55-4d0e-9b1e-5c0c7c1a9e21")
OPEN_STATUSES = ("planned", "sending", "sent", "unknown")

DDL = """
create schema if not exists ops;
create table if not exists ops.playbook_actions (
    action_id            varchar primary key,   -- uuid5 of action_key: same key, same id
    playbook             varchar not null,
    action_key           varchar not null unique,
    channel              varchar not null,      -- email / callback
    recipient            varchar,
    status               varchar not null,      -- planned/sending/sent/failed/suppressed/unknown
    attempts             integer not null,
    provider_message_id  varchar,
    error                varchar,
    payload              json,
    planned_at           timestamp not null,
    sent_at              timestamp,
    updated_at           timestamp not null
);
create table if not exists ops.suppressions (
    email       varchar not null,
    reason      varchar,
    source      varchar,
    created_at  timestamp
);
create table if not exists ops.outbox (
    action_id    varchar primary key,
    message_id   varchar not null,
    recipient    varchar not null,
    subject      varchar not null,
    path         varchar not null,
    written_at   timestamp not null
);
create table if not exists ops.callback_tasks (
    task_id         varchar primary key,
    action_id       varchar not null unique,
    account_id      varchar,
    customer_id     varchar,
    assignee_email  varchar not null,
    due_date        date not null,
    reason          varchar,
    created_at      timestamp not null,
    status          varchar not null
);
"""


@dataclass
class PlannedAction:
    """One action the engine decided on, before or after it is written to the ledger."""

    action_id: str
    playbook: str
    action_key: str
    channel: str
    recipient: str | None
    status: str
    payload: dict[str, Any]
    error: str | None = None
    item_keys: list[str] = field(default_factory=list)


def action_id_for(action_key: str) -> str:
    """Deterministic id for a key, so a re-planned key could never get a second id."""
    return str(uuid.uuid5(ACTION_NAMESPACE, action_key))


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger, suppression, outbox and callback tables when missing."""
    con.execute(DDL)


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])


def known_keys(con: duckdb.DuckDBPyConnection, playbook: str) -> set[str]:
    """Every action key and digest item key this playbook has ever written."""
    if not _exists(con, "ops.playbook_actions"):
        return set()
    rows = con.execute(
        "select action_key, payload from ops.playbook_actions where playbook = ?", [playbook]
    ).fetchall()
    keys: set[str] = set()
    for action_key, payload in rows:
        keys.add(action_key)
        keys.update(json.loads(payload or "{}").get("item_keys", []))
    return keys


def recently_contacted(con: duckdb.DuckDBPyConnection, channel: str, since: datetime) -> set[str]:
    """Recipients with an action on this channel planned or sent since a time (cooldown)."""
    if not _exists(con, "ops.playbook_actions"):
        return set()
    rows = con.execute(
        f"""select distinct lower(recipient) from ops.playbook_actions
            where channel = ? and status in {OPEN_STATUSES}
              and coalesce(sent_at, planned_at) >= ?""",
        [channel, since],
    ).fetchall()
    return {r[0] for r in rows if r[0]}


def suppressed_addresses(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Addresses that must never be e-mailed (unsubscribes, bounces, spam reports)."""
    if not _exists(con, "ops.suppressions"):
        return set()
    rows = con.execute("select distinct lower(trim(email)) from ops.suppressions").fetchall()
    return {r[0] for r in rows if r[0]}


def mark_interrupted_unknown(
    con: duckdb.DuckDBPyConnection, playbooks: list[str], now: datetime
) -> list[tuple[str, str]]:
    """These playbooks' rows left in `sending` become `unknown`; returns (playbook, action_id)."""
    if not playbooks:
        return []
    marks = ", ".join("?" for _ in playbooks)
    rows = con.execute(
        f"""select playbook, action_id from ops.playbook_actions
            where status = 'sending' and playbook in ({marks}) order by playbook, action_id""",
        playbooks,
    ).fetchall()
    if rows:
        con.execute(
            f"""update ops.playbook_actions
                set status = 'unknown', updated_at = ?,
                    error = 'run stopped between send and record: check the provider, do not resend'
                where status = 'sending' and playbook in ({marks})""",
            [now, *playbooks],
        )
    return [(r[0], r[1]) for r in rows]


def insert_actions(
    con: duckdb.DuckDBPyConnection, actions: Iterable[PlannedAction], now: datetime
) -> None:
    """Write planned, suppressed and failed-at-plan actions (keys are unique forever)."""
    rows = []
    for a in actions:
        payload = dict(a.payload)
        if a.item_keys:
            payload["item_keys"] = a.item_keys
        rows.append(
            [
                a.action_id,
                a.playbook,
                a.action_key,
                a.channel,
                a.recipient,
                a.status,
                0,
                None,
                a.error,
                json.dumps(payload, default=str, ensure_ascii=False),
                now,
                None,
                now,
            ]
        )
    if rows:
        con.executemany(
            "insert into ops.playbook_actions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )


def pending(
    con: duckdb.DuckDBPyConnection, playbook: str, channel: str
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """Planned, never attempted actions: (action_id, recipient, payload), oldest first."""
    rows = con.execute(
        """select action_id, recipient, payload from ops.playbook_actions
           where playbook = ? and channel = ? and status = 'planned'
           order by planned_at, action_key""",
        [playbook, channel],
    ).fetchall()
    return [(r[0], r[1], json.loads(r[2] or "{}")) for r in rows]


def mark_sending(con: duckdb.DuckDBPyConnection, action_ids: list[str], now: datetime) -> None:
    """Record that a send attempt is about to start (committed before the attempt)."""
    con.executemany(
        """update ops.playbook_actions
           set status = 'sending', attempts = attempts + 1, updated_at = ? where action_id = ?""",
        [[now, i] for i in action_ids],
    )


def mark_sent(
    con: duckdb.DuckDBPyConnection, action_id: str, provider_message_id: str | None, now: datetime
) -> None:
    con.execute(
        """update ops.playbook_actions
           set status = 'sent', provider_message_id = ?, error = null, sent_at = ?, updated_at = ?
           where action_id = ?""",
        [provider_message_id, now, now, action_id],
    )


def mark_outcome(
    con: duckdb.DuckDBPyConnection, action_id: str, status: str, error: str, now: datetime
) -> None:
    """Record a `failed` or `unknown` outcome with the reason."""
    con.execute(
        "update ops.playbook_actions set status = ?, error = ?, updated_at = ? where action_id = ?",
        [status, error, now, action_id],
    )


def status_counts(con: duckdb.DuckDBPyConnection, playbook: str) -> dict[str, int]:
    """How many ledger rows this playbook has in each status (all runs)."""
    if not _exists(con, "ops.playbook_actions"):
        return {}
    rows = con.execute(
        "select status, count(*) from ops.playbook_actions where playbook = ? group by status",
        [playbook],
    ).fetchall()
    return {s: n for s, n in rows}
