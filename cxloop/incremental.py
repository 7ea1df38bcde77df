"""When the build may run dbt's incremental models incrementally, and when it must refresh them.

The incremental models (docs/decisions.md "Incremental models") read only the raw landings
newer than the newest they kept (the Zendesk ticket events, the survey responses), or only the
rows whose content is not the content they kept (the survey answers' topics). That equals a
full rebuild while raw only grows, each landing later than the ones before it, and the SQL that
produced the kept rows is the SQL that runs now. So a build refreshes fully (`dbt build
--full-refresh`) when no successful build is recorded in ops.incremental_builds, when the dbt
project, its vars or the dbt / DuckDB versions changed since the last one (its fingerprint),
when a person was erased since (erasure deletes raw rows an incremental run never sees), or
when a raw table holds rows landed at or before its newest landing of the last build that it
did not hold then (ops.incremental_landings: a clock set back, another loader), which no
watermark would ever read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from cxloop.dbt import DBT_PROJECT_DIR, project_signature
from cxloop.quality.results import utc_now
from cxloop.sqlnames import quoted
from cxloop.tables import ERASURES, INCREMENTAL_BUILDS, INCREMENTAL_LANDINGS, TOMBSTONES
from cxloop.warehouse import table_exists, writer

VERSIONED = ("dbt-core", "dbt-duckdb", "duckdb")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def project_fingerprint(vars_: dict[str, object]) -> str:
    """sha256 of every dbt project file's content, the vars and the dbt and DuckDB versions."""
    digest = hashlib.sha256()
    for path, _, _ in project_signature():
        digest.update(str(Path(path).relative_to(DBT_PROJECT_DIR)).encode())
        digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    digest.update(json.dumps(vars_, sort_keys=True, default=str).encode())
    digest.update(json.dumps([_version(p) for p in VERSIONED]).encode())
    return digest.hexdigest()


def full_refresh_reason(warehouse: Path, fingerprint: str) -> str | None:
    """Why this build must rebuild the incremental models fully; None: incremental is exact."""
    with writer(warehouse) as con:
        if not table_exists(con, INCREMENTAL_BUILDS.schema, INCREMENTAL_BUILDS.name):
            return "no incremental build recorded"
        row = con.execute(
            f"select build_id, fingerprint, recorded_at from {INCREMENTAL_BUILDS.qualified} "
            "order by recorded_at desc limit 1"
        ).fetchall()
        if not row:
            return "no incremental build recorded"
        last_build, last_fingerprint, last_at = row[0]
        if last_fingerprint != fingerprint:
            return "the dbt project, its vars or the dbt/DuckDB versions changed"
        if erased_since(con, last_at):
            return "a person was erased since the last build"
        behind = landed_behind(con, last_build)
        if behind:
            return (
                f"rows landed at or before the last build's newest landing of {', '.join(behind)}"
                " (a clock set back or another loader)"
            )
    return None


def landed_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """schema.table of every raw table with a `_loaded_at` column (what a watermark reads)."""
    return [
        f"raw.{name}"
        for (name,) in con.execute(
            "select table_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'raw' and column_name = '_loaded_at' order by table_name"
        ).fetchall()
    ]


def landed_behind(con: duckdb.DuckDBPyConnection, build_id: str) -> list[str]:
    """The raw tables whose rows landed at or before the newest landing recorded for `build_id`
    are no longer the rows recorded then (more: written behind the watermark; fewer: deleted).
    A build recorded before ops.incremental_landings existed has none recorded: none."""
    if not table_exists(con, INCREMENTAL_LANDINGS.schema, INCREMENTAL_LANDINGS.name):
        return []
    recorded = con.execute(
        f"select raw_table, loaded_through, landed_rows from {INCREMENTAL_LANDINGS.qualified} "
        "where build_id = ? order by raw_table",
        [build_id],
    ).fetchall()
    present = set(landed_tables(con))
    behind = []
    for raw_table, loaded_through, landed_rows in recorded:
        if raw_table not in present:
            continue  # dropped since: nothing an incremental model can read from it
        schema, table = raw_table.split(".", 1)
        rows = (
            con.execute(
                f"select count(*) from {quoted(schema)}.{quoted(table)} where _loaded_at <= ?",
                [loaded_through],
            ).fetchall()[0][0]
            if loaded_through is not None
            else 0
        )
        if rows != landed_rows:
            behind.append(raw_table)
    return behind


def erased_since(con: duckdb.DuckDBPyConnection, last_at: datetime) -> bool:
    """An erasure logged at or after `last_at`, or one not finished (logged) before it.

    Tombstones are written in the transaction that deletes the person's raw rows; the log row
    (ops.erasures) only when the erasure finishes, after its own build. A tombstone whose
    erasure was not logged before `last_at` therefore means raw lost rows the incremental
    models may still hold: the erasure's own build, or one after a killed erasure.
    """
    logged = table_exists(con, ERASURES.schema, ERASURES.name)
    if (
        logged
        and con.execute(
            f"select count(*) from {ERASURES.qualified} where erased_at >= ?", [last_at]
        ).fetchall()[0][0]
    ):
        return True
    if not table_exists(con, TOMBSTONES.schema, TOMBSTONES.name):
        return False
    if not logged:
        return bool(con.execute(f"select count(*) from {TOMBSTONES.qualified}").fetchall()[0][0])
    pending = con.execute(
        f"select count(*) from {TOMBSTONES.qualified} t where not exists (select 1 from "
        f"{ERASURES.qualified} e where e.erasure_id = t.erasure_id and e.erased_at < ?)",
        [last_at],
    ).fetchall()[0][0]
    return bool(pending)


def record_incremental_build(
    warehouse: Path, build_id: str, fingerprint: str, reason: str | None
) -> None:
    """One ops.incremental_builds row: this build succeeded on this fingerprint; and one
    ops.incremental_landings row per raw table: its newest landing and its rows now."""
    build_id = build_id or str(uuid.uuid4())
    with writer(warehouse) as con:
        con.execute(
            f"insert into {INCREMENTAL_BUILDS.qualified} values (?, ?, ?, ?, ?)",
            [build_id, fingerprint, reason is not None, reason, utc_now()],
        )
        for raw_table in landed_tables(con):
            schema, table = raw_table.split(".", 1)
            con.execute(
                f"insert into {INCREMENTAL_LANDINGS.qualified} select ?, ?, max(_loaded_at), "
                f"count(_loaded_at) from {quoted(schema)}.{quoted(table)}",  # as landed_behind
                [build_id, raw_table],
            )
