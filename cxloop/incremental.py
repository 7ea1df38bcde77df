"""When the build may run dbt's incremental models incrementally, and when it must refresh them.

The incremental models (docs/decisions.md "Incremental models") read only the raw landings
newer than the newest they kept (the Zendesk ticket events, the survey responses), or only the
rows whose content is not the content they kept (the survey answers' topics). That equals a
full rebuild while raw only grows, each landing later than the ones before it, and the SQL that
produced the kept rows is the SQL that runs now. So a build refreshes fully (`dbt build
--full-refresh`) when no successful build is recorded in ops.incremental_builds, when the dbt
project, its vars or the dbt / DuckDB versions changed since the last one (its fingerprint),
when a person was erased since (erasure deletes raw rows an incremental run never sees), or
when a raw table's rows landed at or before its newest landing of the last build are no
longer the rows it held then (a clock set back, another loader: rows no watermark would ever
read; the raw checks' window guard, cxloop.changes `covered_windows`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from cxloop.changes import (
    BUILD_THROUGH,
    covered_through,
    covered_windows,
    raw_table_facts,
    raw_table_names,
    record_many,
)
from cxloop.dbt import DBT_PROJECT_DIR, project_signature
from cxloop.quality.results import utc_now
from cxloop.tables import ERASURES, INCREMENTAL_BUILDS, TOMBSTONES
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
            f"select fingerprint, recorded_at from {INCREMENTAL_BUILDS.qualified} "
            "order by recorded_at desc limit 1"
        ).fetchall()
        if not row:
            return "no incremental build recorded"
        last_fingerprint, last_at = row[0]
        if last_fingerprint != fingerprint:
            return "the dbt project, its vars or the dbt/DuckDB versions changed"
        if erased_since(con, last_at):
            return "a person was erased since the last build"
        datasets = [f"raw.{table}" for table in raw_table_names(con)]
    windows = covered_windows(warehouse, BUILD_THROUGH, datasets, fingerprint)
    behind = [dataset for dataset, end in windows.items() if end is None]
    if behind:
        return (
            f"rows landed at or before the last build's newest landing of {', '.join(behind)}"
            " (a clock set back or another loader)"
        )
    return None


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
    """One ops.incremental_builds row: this build succeeded on this fingerprint; and what it
    read of each raw table (`covered_through` under BUILD_THROUGH: its newest landing, rows and
    content), which the next build's `full_refresh_reason` checks."""
    build_id = build_id or str(uuid.uuid4())
    with writer(warehouse) as con:
        con.execute(
            f"insert into {INCREMENTAL_BUILDS.qualified} values (?, ?, ?, ?, ?)",
            [build_id, fingerprint, reason is not None, reason, utc_now()],
        )
    raw = raw_table_facts(warehouse)
    datasets = [f"raw.{table}" for table in raw]
    record_many(warehouse, covered_through(BUILD_THROUGH, raw, datasets, fingerprint), build_id)
