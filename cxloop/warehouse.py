"""Access to the DuckDB warehouse: one writer at a time, schemas named exactly, ops tables.

Every writer opens the file, works inside a transaction, and closes it again, so that dbt
(in the same process) and other processes can take their turn.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

import duckdb

SCHEMAS = ("raw", "staging", "intermediate", "marts", "ml", "ops")

OPS_DDL = """
create table if not exists ops.quarantine (
    quarantine_id   varchar primary key,   -- sha256 of source, entity, file content hash, row
    source          varchar not null,
    entity          varchar not null,
    source_file     varchar not null,
    row_number      bigint,                -- 1-based data row (CSV: after headers; JSON: index)
    field           varchar,
    reason          varchar not null,
    original        varchar not null,      -- the row as it was read (CSV line / JSON text)
    batch_id        varchar not null,
    quarantined_at  timestamp not null
);
create table if not exists ops.ingest_files (
    batch_id          varchar primary key,
    source            varchar not null,
    entity            varchar not null,
    source_file       varchar not null,
    file_sha256       varchar not null,
    rows_read         bigint not null,
    rows_landed       bigint not null,
    rows_quarantined  bigint not null,
    rows_duplicate    bigint not null,
    loaded_at         timestamp not null,
    file_mtime        timestamp,            -- the file's modification time when last seen
    last_delivered_at timestamp             -- when these bytes last arrived (landed or re-sent)
);
create table if not exists ops.pipeline_runs (
    run_id       varchar primary key,
    started_at   timestamp not null,
    finished_at  timestamp,
    status       varchar not null,
    summary      json
);
"""


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (creating its folder); writers get the schemas and ops tables."""
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    ensure_schemas(con)
    return con


# Columns added after a release: `create table if not exists` does not add them to old files.
MIGRATIONS = (
    "alter table ops.ingest_files add column if not exists file_mtime timestamp",
    "alter table ops.ingest_files add column if not exists last_delivered_at timestamp",
)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    con.execute(OPS_DDL)
    for column in MIGRATIONS:  # warehouses created before a column was added
        con.execute(column)


@contextlib.contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one unit of work: committed on success, rolled back on error, closed."""
    con = connect(path)
    try:
        con.execute("begin transaction")
        yield con
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    finally:
        con.close()


@contextlib.contextmanager
def reader(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection for reading in this process (default config, see dbt notes)."""
    con = duckdb.connect(str(path))
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def release_dbt_connections() -> None:
    """Make dbt-duckdb let go of the warehouse file after an in-process dbt invocation."""
    with contextlib.suppress(Exception):
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    gc.collect()
