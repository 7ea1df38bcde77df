"""Erasure in the warehouse: rows removed, tombstones and the log written, the file rewritten.

`remove_from_warehouse` deletes, in one transaction, the person's raw rows (every raw table,
by `row_match_sql`), quarantined rows whose original text names them, identity records and
changes, playbook actions, callback tasks, outbox rows and suppressions, and any other ops row
that mentions them; and it writes their tombstones. dbt rebuilds the rest from raw.
`compact` rewrites the file afterwards: DuckDB keeps freed blocks (with the bytes) until then.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cxloop.erasure.identifiers import row_match_sql
from cxloop.erasure.subject import Subject, _in, _tables
from cxloop.erasure.tombstones import record_salt, registered_hashes
from cxloop.errors import CxloopError
from cxloop.sqlnames import quoted
from cxloop.tables import ERASURES, TOMBSTONE_SALT, TOMBSTONES, ensure_tables
from cxloop.warehouse import is_held

# ops tables never swept for mentions: they hold hashes, counts, ids and file names only
_NOT_SWEPT = {"tombstones", "tombstone_salt", "erasures", "ingest_files", "builds", "gate_verdicts"}


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _delete(con: duckdb.DuckDBPyConnection, table: str, where: str, params: list) -> int:
    n = _count(con, f"select count(*) from {table} where {where}", params)
    if n:
        con.execute(f"delete from {table} where {where}", params)
    return n


def _mentions(columns: list[str], needles: list[str]) -> tuple[str, list[str]]:
    """SQL: one of the columns' text contains one of the needles (case-insensitive)."""
    if not needles or not columns:
        return "false", []
    terms, params = [], []
    for column in columns:
        for needle in needles:
            terms.append(f"contains(lower(cast({quoted(column)} as varchar)), ?)")
            params.append(needle.lower())
    return "(" + " or ".join(terms) + ")", params


def remove_from_warehouse(
    con: duckdb.DuckDBPyConnection, subject: Subject, salt: str, erasure_id: str
) -> tuple[dict[str, int], list[str]]:
    """Delete the person everywhere in the warehouse but the dbt-built tables; tombstone them.

    Returns rows removed per table, and the outbox files of the removed messages (to delete).
    The caller commits.
    """
    ensure_tables(con, (ERASURES, TOMBSTONES, TOMBSTONE_SALT))
    record_salt(con, salt)  # refuses a salt other than the tombstones'
    hashes = subject.hashes(salt)
    con.executemany(
        "insert into ops.tombstones values (?, ?, ?) on conflict do nothing",
        [[h, kind, erasure_id] for h, kind in hashes.items()],
    )
    removed: dict[str, int] = {}
    with registered_hashes(con, hashes, salt):
        for table, columns in _tables(con, "raw").items():
            removed[f"raw.{table}"] = _delete(
                con, f'raw."{table}"', row_match_sql(table, columns), []
            )
    needles = subject.needles()
    where, params = _mentions(["original"], needles)
    removed["ops.quarantine"] = _delete(con, "ops.quarantine", where, params)
    removed.update(_remove_identity(con, subject))
    removed.update(_remove_voice(con, subject))
    outbox_files, ledger = _remove_ledger(con, subject)
    removed.update(ledger)
    for table, columns in _tables(con, "ops").items():
        if table in _NOT_SWEPT:
            continue
        where, params = _mentions(columns, needles)
        n = _delete(con, f'ops."{table}"', where, params)
        if n:
            removed[f"ops.{table}"] = removed.get(f"ops.{table}", 0) + n
    return {k: v for k, v in removed.items() if v}, outbox_files


def _remove_identity(con: duckdb.DuckDBPyConnection, subject: Subject) -> dict[str, int]:
    ids, customers = _in(subject.customer_ids)
    keys, records = _in(f"{s}:{r}" for s, r in subject.records)
    removed = {}
    tables = _tables(con, "intermediate")
    if "identity_clusters" in tables:
        removed["intermediate.identity_clusters"] = _delete(
            con,
            "intermediate.identity_clusters",
            f"customer_id in ({ids}) or source || ':' || source_record_id in ({keys})",
            [*customers, *records],
        )
    if "identity_changes" in _tables(con, "ops"):
        removed["ops.identity_changes"] = _delete(
            con,
            "ops.identity_changes",
            f"customer_id in ({ids}) or previous_customer_id in ({ids}) "
            f"or source || ':' || source_record_id in ({keys})",
            [*customers, *customers, *records],
        )
    return removed


def _remove_voice(con: duckdb.DuckDBPyConnection, subject: Subject) -> dict[str, int]:
    """The person's texts' sentiment and topics (ml.text_sentiment, ml.text_topics) and what
    each was computed from (ml.voice_state: the text's id and hash): written by the voice
    stage, which the rebuild after an erasure does not run."""
    if "text_sentiment" not in _tables(con, "ml"):
        return {}
    ids, customers = _in(subject.customer_ids)
    own = {r for _, r in subject.records} | {v for _, v in subject.ids}
    sources, values = _in(own)
    texts = (
        f"select text_id from ml.text_sentiment where customer_id in ({ids}) "
        f"or source_id in ({sources})"
    )
    params = [*customers, *values]
    removed = {}
    ml = _tables(con, "ml")
    if "voice_state" in ml:
        removed["ml.voice_state"] = _delete(con, "ml.voice_state", f"text_id in ({texts})", params)
    if "text_topics" in ml:
        removed["ml.text_topics"] = _delete(con, "ml.text_topics", f"text_id in ({texts})", params)
    where = f"text_id in ({texts})"
    removed["ml.text_sentiment"] = _delete(con, "ml.text_sentiment", where, params)
    return removed


def _remove_ledger(
    con: duckdb.DuckDBPyConnection, subject: Subject
) -> tuple[list[str], dict[str, int]]:
    ops = _tables(con, "ops")
    if "playbook_actions" not in ops:
        return [], {}
    acts, actions = _in(v for k, v in subject.ids if k == "playbook_action")
    ids, customers = _in(subject.customer_ids)
    mails, emails = _in(subject.emails)
    paths = [
        p
        for (p,) in con.execute(
            f"select path from ops.outbox where action_id in ({acts}) "
            f"or lower(trim(recipient)) in ({mails})",
            [*actions, *emails],
        ).fetchall()
    ]
    tasks = f"action_id in ({acts}) or customer_id in ({ids})"
    removed: dict[str, int] = {}
    if "callback_events" in ops:  # a task's history goes with it
        removed["ops.callback_events"] = _delete(
            con,
            "ops.callback_events",
            f"task_id in (select task_id from ops.callback_tasks where {tasks})",
            [*actions, *customers],
        )
    removed |= {
        "ops.outbox": _delete(
            con,
            "ops.outbox",
            f"action_id in ({acts}) or lower(trim(recipient)) in ({mails})",
            [*actions, *emails],
        ),
        "ops.callback_tasks": _delete(con, "ops.callback_tasks", tasks, [*actions, *customers]),
        "ops.playbook_actions": _delete(
            con,
            "ops.playbook_actions",
            f"action_id in ({acts}) or lower(trim(recipient)) in ({mails})",
            [*actions, *emails],
        ),
        "ops.suppressions": _delete(
            con, "ops.suppressions", f"lower(trim(email)) in ({mails})", emails
        ),
    }
    return paths, removed


def log_erasure(
    con: duckdb.DuckDBPyConnection,
    erasure_id: str,
    subject_hash: str,
    identifiers: int,
    removed: dict[str, int],
) -> None:
    """One row of ops.erasures: a salted hash, the time and counts; nothing in clear."""
    ensure_tables(con, (ERASURES,))
    con.execute(
        ERASURES.insert_sql,
        ERASURES.row(
            {
                "erasure_id": erasure_id,
                "erased_at": datetime.now(UTC).replace(tzinfo=None),
                "subject_hash": subject_hash,
                "identifiers": identifiers,
                "removed": json.dumps(removed, sort_keys=True),
            }
        ),
    )


def residual_mentions(con: duckdb.DuckDBPyConnection, needles: list[str]) -> dict[str, int]:
    """Rows per `schema.table.column` of any table whose text still holds a needle."""
    if not needles:
        return {}
    rows = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() "
        "where database_name = current_database() and data_type in ('VARCHAR', 'JSON') "
        "and (schema_name, table_name) in (select (schema_name, table_name) from duckdb_tables() "
        "where database_name = current_database())"  # tables: views only re-read them
    ).fetchall()
    found: dict[str, int] = {}
    for schema, table, column in rows:
        where, params = _mentions([column], needles)
        n = _count(con, f'select count(*) from {schema}."{table}" where {where}', params)
        if n:
            found[f"{schema}.{table}.{column}"] = n
    return found


def compact(path: Path) -> int:
    """Rewrite the warehouse file so no freed block keeps erased bytes; returns its new size.

    Everything is copied into a new file (COPY FROM DATABASE), checkpointed and closed, then
    renamed over the old one in one step; the old file's WAL was checkpointed away first.
    A crash before the rename leaves the old file as it was, and a `.erase.tmp` removed by
    the next erasure.
    """
    path = Path(path)
    if is_held(path):  # the open database would go on writing to the replaced file
        raise CxloopError(f"{path}: held open by a run in this process; compact after it")
    tmp = path.with_name(path.name + ".erase.tmp")
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
        name = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach '{tmp}' as cx_compact")
        con.execute(f'copy from database "{name}" to cx_compact')
        con.execute("checkpoint cx_compact")
        con.execute("detach cx_compact")
    finally:
        con.close()
    with contextlib.suppress(FileNotFoundError):
        os.remove(f"{path}.wal")  # checkpointed above: nothing in it
    os.replace(tmp, path)
    return path.stat().st_size
