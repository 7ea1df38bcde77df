"""Access to the DuckDB warehouse: one writer at a time, schemas named exactly, ops tables.

Every writer opens the file, works inside a transaction, and closes it again, so that dbt
(in the same process) and other processes can take their turn. A pipeline run holds the
database open for all its stages (`held_open`): their connections then share it, and a close
neither checkpoints the file nor makes the next open read its catalog again. The tables
themselves are defined in cxloop.tables; `ensure_warehouse` there creates all of them before
dbt runs.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from cxloop.settings import Settings, require_no_warehouse_key
from cxloop.tables import CORE_TABLES, SCHEMAS, ensure_tables, ensure_warehouse

__all__ = [
    "SCHEMAS",
    "connect",
    "connect_when_free",
    "limit_memory",
    "ensure_schemas",
    "ensure_warehouse",
    "held_open",
    "is_held",
    "reader",
    "release_dbt_connections",
    "table_exists",
    "writer",
]


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (creating its folder); writers get the schemas and ops tables.

    `read_only` opens it read-only, unless this process holds it open (`held_open`): DuckDB
    refuses a second configuration of an open database, so the reader then shares it. A held
    database was configured and ensured when the hold began: its connections skip both (each
    open ran ~100 statements of `ensure_schemas`: 0.8 s of a scale-1 run's main thread).
    """
    require_no_warehouse_key(bool(os.environ.get("CXLOOP_WAREHOUSE_KEY")))
    path = Path(path)
    if is_held(path):  # shared, in its configuration, its schemas and tables ensured once
        return duckdb.connect(str(path))
    if read_only:
        return limit_memory(duckdb.connect(str(path), read_only=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = limit_memory(duckdb.connect(str(path)))
    ensure_schemas(con)
    return con


def limit_memory(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Cap the database's memory at CXLOOP_DUCKDB_MEMORY_LIMIT (DuckDB spills past it; its
    default, 80% of the machine, let a scale-10 run grow past 4 GB: docs/benchmarks.md)."""
    con.execute(f"set memory_limit = '{Settings().duckdb_memory_limit}'")
    return con


def connect_when_free(
    path: Path,
    wait_seconds: float,
    *,
    read_only: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> duckdb.DuckDBPyConnection:
    """`connect`, retrying with backoff while another process holds DuckDB's file lock;
    after `wait_seconds` the lock error is raised. `on_wait` is called once, when the first
    attempt finds the file locked (to tell a person why nothing happens yet)."""
    deadline, delay = time.monotonic() + wait_seconds, 0.2
    while True:
        try:
            return connect(path, read_only=read_only)
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            if on_wait is not None:
                on_wait()
                on_wait = None
            time.sleep(delay)
            delay = min(delay * 2, 5)


def ensure_schemas(con: duckdb.DuckDBPyConnection) -> None:
    """The layer schemas and the ops tables every warehouse has (cxloop.tables)."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    ensure_tables(con, CORE_TABLES)


_WRITING = threading.RLock()


@contextlib.contextmanager
def writer(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one unit of work: committed on success, rolled back on error, closed.

    One writer at a time per process (`_WRITING`): stages that run in threads side by side
    (the pipeline's voice and scoring) never race on the same catalog or rows, which DuckDB
    would refuse as a transaction conflict. A thread may nest writers.
    """
    with _WRITING:
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


_HELD: dict[str, int] = {}  # the files held open in this process, and how many times
_HELD_AS: dict[str, str] = {}  # a held file's name as held_open was given it -> its real path


def is_held(path: Path) -> bool:
    """Whether this process holds the warehouse file open (`held_open`)."""
    if not any(_HELD.values()):
        return False
    key = _HELD_AS.get(str(path)) or str(Path(path).resolve())
    return _HELD.get(key, 0) > 0


@contextlib.contextmanager
def held_open(path: Path) -> Iterator[None]:
    """Keep the warehouse's database open in this process while a run's stages come and go.

    Every `duckdb.connect` of the file in this process (writers, readers, dbt-duckdb's, all
    with DuckDB's default configuration) then shares the open database: opening costs no
    catalog read and a close no checkpoint (~2 s of a scale-1 run: docs/benchmarks.md).
    DuckDB still checkpoints by itself as its WAL grows, and once more when the hold ends.
    Other processes cannot open the file meanwhile; the run holds the `warehouse-writer`
    slot throughout, which cxloop's other writers wait for.
    """
    key = str(Path(path).resolve())
    con = connect(path)
    _HELD[key] = _HELD.get(key, 0) + 1
    _HELD_AS[str(path)] = key  # the run's stages name the file as the run does: no resolve
    try:
        yield
    finally:
        _HELD[key] -= 1
        if not _HELD[key]:
            _HELD_AS.pop(str(path), None)
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
    """Whether `schema.table` is a table or view of the warehouse itself.

    Only its own catalog is read: an open transaction that had read the catalog of a database
    attached beside it (publish's new snapshot) would defer that database's write-out at its
    detach past the snapshot's rename (cxloop.publish)."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def require_model_table(warehouse: Path, table: tuple[str, str], error: type[Exception]) -> None:
    """Raise `error` saying what to run when the warehouse file or the dbt model's table is
    missing."""
    if not Path(warehouse).is_file():
        raise error(f"{warehouse}: no warehouse file (run `cxloop build` first)")
    with reader(warehouse) as con:
        if not table_exists(con, *table):
            raise error(
                f"{warehouse}: no table {'.'.join(table)} (expected the dbt model; "
                "run `cxloop build` first)"
            )


def release_dbt_connections() -> None:
    """Make dbt-duckdb let go of the warehouse file after an in-process dbt invocation."""
    with contextlib.suppress(Exception):
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    gc.collect()


# The result types fetch_frame converts through Arrow: for these, Arrow's conversion is `.df()`'s
# once integers and booleans with nulls take pandas' nullable types and dates datetime64[us]
# (`_series`); any other type (decimals, UUIDs, enums, lists, times...) converts differently,
# and the result goes through `.df()`.
ARROW_SAFE = frozenset(
    "VARCHAR BIGINT INTEGER SMALLINT TINYINT UBIGINT UINTEGER USMALLINT UTINYINT BOOLEAN "
    "DOUBLE FLOAT TIMESTAMP DATE".split()
) | {"TIMESTAMP WITH TIME ZONE"}
ARROW_BATCH_ROWS = 122_880  # the record batches' size (DuckDB's row group)
# pandas' nullable type of an Arrow integer or boolean column with nulls (as `.df()` gives)
_NULLABLE = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def fetch_frame(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: list[object] | dict[str, object] | None = None,
) -> pd.DataFrame:
    """The rows of one SELECT as `con.execute(sql).df()` gives them (same dtypes and values),
    read as Arrow from a relation: 3-5x faster for text columns (`.df()` makes a Python string
    of each value, which pandas turns back into Arrow), with about `.df()`'s peak (Arrow from
    a DB-API result instead, which DuckDB copies once more, raised the scale-10 peak by ~0.5 GB:
    docs/benchmarks.md). A result with a type outside `ARROW_SAFE`, or a repeated column name,
    is read with `.df()` (the relation only bound the SELECT, so it runs once).

    Like `execute`, it first runs any earlier result of `execute` on `con` to its end (DuckDB
    refuses a relation query while one is pending; `complete` runs, never cancels, a write)."""
    (frame,) = fetch_frames(con, sql, params, rows=sys.maxsize)
    return frame


def fetch_frames(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: list[object] | dict[str, object] | None = None,
    rows: int = ARROW_BATCH_ROWS,
) -> Iterator[pd.DataFrame]:
    """The rows of one SELECT as `fetch_frame` gives them, in frames of about `rows` rows (at
    least one frame, empty for no rows), read from the one query as it streams: a frame and
    one Arrow batch in memory at a time. `con` runs nothing else until the last frame is read.
    """
    con.complete()
    relation = con.sql(sql, params=params)
    names = relation.columns
    if len(set(names)) != len(names) or not all(str(t) in ARROW_SAFE for t in relation.types):
        frame = con.execute(sql, params).df()
        if len(frame) <= rows:
            yield frame
            return
        for start in range(0, len(frame), rows):
            yield frame.iloc[start : start + rows].reset_index(drop=True)
        return
    reader = relation.to_arrow_reader(min(rows, ARROW_BATCH_ROWS))
    pending: list[pa.RecordBatch] = []
    held, sent = 0, False
    for batch in reader:
        pending.append(batch)
        held += batch.num_rows
        if held >= rows:
            yield _frame(names, pa.Table.from_batches(pending, schema=reader.schema))
            pending, held, sent = [], 0, True
    if pending or not sent:
        yield _frame(names, pa.Table.from_batches(pending, schema=reader.schema))


def _frame(names: list[str], table: pa.Table) -> pd.DataFrame:
    return pd.DataFrame(
        {name: _series(column) for name, column in zip(names, table.columns, strict=True)}
    )


def _series(column: pa.ChunkedArray) -> pd.Series:
    """One column as `.df()` converts it (see fetch_frame)."""
    if pa.types.is_date32(column.type):  # .df(): datetime64[us] at midnight, NaT for null
        return column.to_pandas(date_as_object=False).astype("datetime64[us]")
    if column.null_count == len(column) and not (
        pa.types.is_floating(column.type) or pa.types.is_timestamp(column.type)
    ):
        if column.type in _NULLABLE and len(column):
            return column.to_pandas(types_mapper=_NULLABLE.get)
        if column.type not in _NULLABLE:  # text with no value at all: objects, as .df()
            return pd.Series([None] * len(column), dtype=object)
    if column.null_count and column.type in _NULLABLE:
        return column.to_pandas(types_mapper=_NULLABLE.get)
    return column.to_pandas()
