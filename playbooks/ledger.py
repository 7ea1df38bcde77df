"""The action ledger `ops.playbook_actions` and the ops tables the playbooks write.

Order of writes for one action: planned -> sending -> sent/failed, each committed. A row
found in `sending` by a later run crashed between send and record: it becomes `unknown`.

Over 400 lines on purpose: the ledger's write order and the ops tables it needs are one
contract, kept in one place so that exactly-once is checked in one file.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

ACTION_NAMESPACE = uuid.UUID("6f1c3f4e-2a55-4d0e-9b1e-5c0c7c1a9e21")
OPEN_STATUSES = ("planned", "sending", "sent", "unknown")

ColumnSpec = tuple[str, str, str, str]  # name, DuckDB type, constraint, meaning

# The ops tables the playbooks write, defined once as data: `ensure_tables` below makes them,
# and cxloop.tables registers them with every other Python-written table (this package
# imports nothing of ours). qualified name -> (meaning, columns in order)
TABLES: dict[str, tuple[str, tuple[ColumnSpec, ...]]] = {
    "ops.playbook_actions": (
        "the action ledger: one row per action key (docs/playbooks.md)",
        (
            ("action_id", "varchar", "primary key", "uuid5 of action_key: same key, same id"),
            ("playbook", "varchar", "not null", ""),
            ("action_key", "varchar", "not null unique", ""),
            ("channel", "varchar", "not null", "email / callback"),
            ("recipient", "varchar", "", ""),
            ("status", "varchar", "not null", "planned/sending/sent/failed/suppressed/unknown"),
            ("attempts", "integer", "not null", ""),
            ("provider_message_id", "varchar", "", ""),
            ("error", "varchar", "", ""),
            ("payload", "json", "", ""),
            ("planned_at", "timestamp", "not null", ""),
            ("sent_at", "timestamp", "", ""),
            ("updated_at", "timestamp", "not null", ""),
        ),
    ),
    "ops.suppressions": (
        "addresses never mailed: unsubscribes, bounces, spam reports",
        (
            ("email", "varchar", "not null", ""),
            ("reason", "varchar", "", ""),
            ("source", "varchar", "", ""),
            ("created_at", "timestamp", "", ""),
        ),
    ),
    "ops.message_shapes": (
        "one row per distinct rendered message shape (the ledger payload refers to it)",
        (
            ("shape_id", "varchar", "primary key", "sha256 of subject, text and html (24 hex)"),
            ("subject", "varchar", "not null", "with substitution tags in place of row values"),
            ("text", "varchar", "not null", ""),
            ("html", "varchar", "not null", ""),
            ("created_at", "timestamp", "not null", ""),
        ),
    ),
    "ops.outbox": (
        "e-mails the local outbox channel wrote as .eml files",
        (
            ("action_id", "varchar", "primary key", ""),
            ("message_id", "varchar", "not null", ""),
            ("recipient", "varchar", "not null", ""),
            ("subject", "varchar", "not null", ""),
            ("path", "varchar", "not null", ""),
            ("written_at", "timestamp", "not null", ""),
        ),
    ),
    "ops.callback_tasks": (
        "callback tasks for a person to call a detractor back",
        (
            ("task_id", "varchar", "primary key", ""),
            ("action_id", "varchar", "not null unique", ""),
            ("account_id", "varchar", "", ""),
            ("customer_id", "varchar", "", ""),
            ("assignee_email", "varchar", "not null", ""),
            ("due_date", "date", "not null", ""),
            ("reason", "varchar", "", ""),
            ("created_at", "timestamp", "not null", ""),
            ("status", "varchar", "not null", "open/contacted/closed: the latest event's state"),
            ("due_at", "timestamp", "", "UTC; created + the SLA in business hours"),
            ("owner_source", "varchar", "", "csm (the account's CSM) / queue (callbacks.queue)"),
        ),
    ),
    "ops.callback_events": (
        "every state change of a callback task, appended, never updated (docs/playbooks.md)",
        (
            (
                "event_id",
                "varchar",
                "primary key",
                "<task_id>:opened / :contacted:<ISO time> / :closed / :escalated:<level>",
            ),
            ("task_id", "varchar", "not null", ""),
            ("event_type", "varchar", "not null", "opened/contacted/closed/escalated"),
            ("status", "varchar", "not null", "the task's state after the event"),
            ("occurred_at", "timestamp", "not null", "UTC"),
            ("source", "varchar", "not null", "act / cli / zendesk"),
            ("actor", "varchar", "", "who: an e-mail, or the Zendesk ticket id"),
            ("outcome", "varchar", "", "closed: one of callbacks.outcomes"),
            ("root_cause", "varchar", "", "closed: one of callbacks.root_causes"),
            ("escalation_level", "integer", "", "escalated: 1 = owner's manager, 2 = theirs"),
            ("escalated_to", "varchar", "", "escalated: the manager's e-mail"),
            ("note", "varchar", "", ""),
            ("recorded_at", "timestamp", "not null", "UTC, when cxloop wrote it"),
        ),
    ),
}


def table_ddl(table: str) -> str:
    """`create table if not exists` for one of TABLES."""
    _, columns = TABLES[table]
    body = ",\n    ".join(f'"{n}" {t} {constraint}'.rstrip() for n, t, constraint, _ in columns)
    return f"create table if not exists {table} (\n    {body}\n)"


def select_into(table: str, expressions: dict[str, str]) -> str:
    """`insert into table (every column) select <expression of each>`, in definition order.

    Every column of the definition must be given an expression, so an insert cannot drift
    from the table it writes.
    """
    names = [n for n, _, _, _ in TABLES[table][1]]
    if sorted(names) != sorted(expressions):
        raise ValueError(f"{table}: expressions for {sorted(expressions)}, columns {names}")
    return (
        f"insert into {table} ({', '.join(names)}) "
        f"select {', '.join(expressions[n] for n in names)}"
    )


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
    """Deterministic id for a key, so a re-planned key could never get a second id.

    Exactly `str(uuid.uuid5(ACTION_NAMESPACE, action_key))`, without building UUID objects
    (a large run plans hundreds of thousands).
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + action_key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = ACTION_NAMESPACE.bytes


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger, suppression, outbox and callback tables when missing."""
    con.execute("create schema if not exists ops")
    for table in TABLES:
        con.execute(table_ddl(table))
        for name, type_, constraint, _ in TABLES[table][1]:
            if not constraint:  # a column added after release; an old table gains it
                con.execute(f'alter table {table} add column if not exists "{name}" {type_}')


def ensure_playbook_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Before a dbt build (old name; cxloop.tables.ensure_warehouse makes every table)."""
    ensure_tables(con)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `schema.name` is a table or view in the warehouse."""
    schema, name = table.split(".")
    rows = con.execute(  # its own catalog only (cxloop.warehouse.table_exists says why)
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return bool(rows[0][0])


def known_keys(con: duckdb.DuckDBPyConnection, playbook: str) -> set[str]:
    """Every action key and digest item key this playbook has ever written."""
    if not table_exists(con, "ops.playbook_actions"):
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
    if not table_exists(con, "ops.playbook_actions"):
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
    if not table_exists(con, "ops.suppressions"):
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


def _with_frame(
    con: duckdb.DuckDBPyConnection, name: str, frame: pa.Table, sql: str, params: list[Any]
) -> None:
    """Run one set-based statement against an Arrow table registered as `name`."""
    con.register(name, frame)
    try:
        con.execute(sql, params)
    finally:
        con.unregister(name)


# how insert_actions fills each ledger column from its frame (`?`: the time of planning)
_NEW_ACTION = {
    "action_id": "action_id",
    "playbook": "playbook",
    "action_key": "action_key",
    "channel": "channel",
    "recipient": "recipient",
    "status": "status",
    "attempts": "0",
    "provider_message_id": "null",
    "error": "error",
    "payload": "cast(payload as json)",
    "planned_at": "?",
    "sent_at": "null",
    "updated_at": "?",
}
_NEW_SHAPE = {n: n for n in ("shape_id", "subject", "text", "html")} | {"created_at": "?"}


def insert_actions(
    con: duckdb.DuckDBPyConnection, actions: Iterable[PlannedAction], now: datetime
) -> None:
    """Write planned, suppressed and failed-at-plan actions in one statement (keys unique)."""
    columns: dict[str, list[Any]] = {
        k: [] for k in ("action_id", "playbook", "action_key", "channel", "recipient", "status")
    }
    columns |= {"error": [], "payload": []}
    shapes: dict[str, tuple[str, str, str]] = {}
    for a in actions:
        payload = dict(a.payload)
        if a.item_keys:
            payload["item_keys"] = a.item_keys
        if payload.get("shape"):
            payload["shape"] = _shape_reference(payload["shape"], shapes)
        for name in ("action_id", "playbook", "action_key", "channel", "recipient", "status"):
            columns[name].append(getattr(a, name))
        columns["error"].append(a.error)
        columns["payload"].append(json.dumps(payload, default=str, ensure_ascii=False))
    if not columns["action_id"]:
        return
    frame = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    _with_frame(
        con,
        "_new_actions",
        frame,
        select_into("ops.playbook_actions", _NEW_ACTION) + " from _new_actions",
        [now, now],  # planned_at, updated_at
    )
    _insert_shapes(con, shapes, now)


def _shape_reference(shape: dict[str, Any], shapes: dict[str, tuple[str, str, str]]) -> dict:
    """A message shape stored once in ops.message_shapes; the action keeps id + its values."""
    content = (shape["subject"], shape["text"], shape["html"])
    shape_id = hashlib.sha256("\x00".join(content).encode()).hexdigest()[:24]
    shapes.setdefault(shape_id, content)
    return {"shape_id": shape_id, "substitutions": shape["substitutions"]}


def _insert_shapes(
    con: duckdb.DuckDBPyConnection, shapes: dict[str, tuple[str, str, str]], now: datetime
) -> None:
    if not shapes:
        return
    ids = list(shapes)
    frame = pa.table(
        {
            "shape_id": pa.array(ids, type=pa.string()),
            "subject": pa.array([shapes[i][0] for i in ids], type=pa.string()),
            "text": pa.array([shapes[i][1] for i in ids], type=pa.string()),
            "html": pa.array([shapes[i][2] for i in ids], type=pa.string()),
        }
    )
    _with_frame(
        con,
        "_new_shapes",
        frame,
        select_into("ops.message_shapes", _NEW_SHAPE)
        + " from _new_shapes where shape_id not in (select shape_id from ops.message_shapes)",
        [now],
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
    found = [(r[0], r[1], json.loads(r[2] or "{}")) for r in rows]
    ids = {p["shape"]["shape_id"] for _, _, p in found if (p.get("shape") or {}).get("shape_id")}
    if ids:
        shapes = {
            r[0]: {"subject": r[1], "text": r[2], "html": r[3]}
            for r in con.execute(
                "select shape_id, subject, text, html from ops.message_shapes "
                "where shape_id in (select unnest(?))",
                [sorted(ids)],
            ).fetchall()
        }
        for _, _, payload in found:
            ref = payload.get("shape") or {}
            if ref.get("shape_id"):
                payload["shape"] = {
                    **shapes[ref["shape_id"]],
                    "substitutions": ref["substitutions"],
                }
    return found


def mark_sending(con: duckdb.DuckDBPyConnection, action_ids: list[str], now: datetime) -> None:
    """Record that a send attempt is about to start (committed before the attempt)."""
    if not action_ids:
        return
    _with_frame(
        con,
        "_sending_ids",
        pa.table({"action_id": pa.array(action_ids, type=pa.string())}),
        """update ops.playbook_actions
           set status = 'sending', attempts = attempts + 1, updated_at = ?
           where action_id in (select action_id from _sending_ids)""",
        [now],
    )


def record_outcomes(
    con: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome], now: datetime
) -> None:
    """Record many outcomes in one statement: `sent` (with the provider id), failed, unknown."""
    if not outcomes:
        return
    frame = pa.table(
        {
            "action_id": pa.array([o.action_id for o in outcomes], type=pa.string()),
            "status": pa.array([o.status for o in outcomes], type=pa.string()),
            "provider_message_id": pa.array(
                [o.provider_message_id for o in outcomes], type=pa.string()
            ),
            "error": pa.array([o.error for o in outcomes], type=pa.string()),
        }
    )
    _with_frame(
        con,
        "_outcomes",
        frame,
        """update ops.playbook_actions as a
           set status = o.status,
               provider_message_id = case when o.status = 'sent'
                                          then o.provider_message_id
                                          else a.provider_message_id end,
               error = case when o.status = 'sent' then null else coalesce(o.error, '') end,
               sent_at = case when o.status = 'sent' then ? else a.sent_at end,
               updated_at = ?
           from _outcomes as o
           where a.action_id = o.action_id""",
        [now, now],
    )


@dataclass(frozen=True)
class Outcome:
    """What became of one action."""

    action_id: str
    status: str  # sent / failed / unknown
    provider_message_id: str | None = None
    error: str | None = None


def mark_sent(
    con: duckdb.DuckDBPyConnection, action_id: str, provider_message_id: str | None, now: datetime
) -> None:
    """Record one action sent (see record_outcomes for many)."""
    record_outcomes(con, [Outcome(action_id, "sent", provider_message_id)], now)


def mark_outcome(
    con: duckdb.DuckDBPyConnection, action_id: str, status: str, error: str, now: datetime
) -> None:
    """Record a `failed` or `unknown` outcome with the reason."""
    record_outcomes(con, [Outcome(action_id, status, None, error)], now)


def status_counts(con: duckdb.DuckDBPyConnection, playbook: str) -> dict[str, int]:
    """How many ledger rows this playbook has in each status (all runs)."""
    if not table_exists(con, "ops.playbook_actions"):
        return {}
    rows = con.execute(
        "select status, count(*) from ops.playbook_actions where playbook = ? group by status",
        [playbook],
    ).fetchall()
    return {s: n for s, n in rows}
