"""Land one parsed source file: validate, de-duplicate, append to raw, quarantine, record.

Everything of one file happens in one DuckDB transaction; the Parquet copy in the lake is
written under a temporary name and renamed only after the commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.sources.readers import Batch, ParsedRow

METADATA_COLUMNS = (
    "_batch_id",
    "_loaded_at",
    "_source",
    "_source_file",
    "_row_number",
    "_content_hash",
)


@dataclass(frozen=True)
class LandResult:
    """What landing one file did; rows_read = rows_landed + rows_quarantined + rows_duplicate."""

    batch_id: str
    source: str
    entity: str
    source_file: str
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    rows_duplicate: int
    skipped: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-able form for reports."""
        return asdict(self)


@dataclass(frozen=True)
class _Quarantined:
    row: ParsedRow
    field: str | None
    reason: str


def raw_table(source: str, entity: str) -> str:
    """The qualified, quoted name of a raw table: raw."<source>__<entity>"."""
    return f'raw."{source}__{entity}"'


def content_hash(values: dict[str, str | None]) -> str:
    """sha256 of the canonical JSON of a row's source fields (keys sorted)."""
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_file_landed(con: duckdb.DuckDBPyConnection, entity: str, sha256: str, source: str) -> bool:
    """Whether this file's bytes were already landed for this entity."""
    rows = con.execute(
        "select count(*) from ops.ingest_files where source = ? and entity = ? and file_sha256 = ?",
        [source, entity, sha256],
    ).fetchall()
    return bool(rows[0][0])


def note_redelivery(
    con: duckdb.DuckDBPyConnection, entity: str, sha256: str, source: str, mtime: datetime
) -> bool:
    """Record that a file landed before was seen again; True if its record changed.

    A delivery is the same bytes with a new modification time (a nightly export that did not
    change): it keeps the source fresh. The same file lying untouched in the folder is not one,
    so a source whose exports stop arriving still turns stale.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    changed = con.execute(
        "update ops.ingest_files set last_delivered_at = "
        "case when file_mtime is null then coalesce(last_delivered_at, loaded_at) else ? end, "
        "file_mtime = ? "
        "where source = ? and entity = ? and file_sha256 = ? "
        "and file_mtime is distinct from ? returning file_mtime",
        [now, mtime, source, entity, sha256, mtime],
    ).fetchall()
    return bool(changed)


def land_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    lake_dir: Path,
    file_mtime: datetime | None = None,
) -> LandResult:
    """Land one file in one transaction; a file landed before is skipped whole.

    `file_mtime` (the file's modification time, UTC) is kept to tell a re-delivery of the same
    bytes from the same file lying in the folder (`note_redelivery`).
    """
    good, quarantined = _validate(batch)
    unique, in_file_duplicates = _dedupe_in_file(good)
    con.execute("begin transaction")
    tmp_parquet: Path | None = None
    try:
        if is_file_landed(con, batch.entity, batch.file_sha256, batch.source):
            con.execute("rollback")
            return LandResult(
                batch.batch_id,
                batch.source,
                batch.entity,
                batch.source_file,
                0,
                0,
                0,
                0,
                skipped=True,
            )
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        existing_columns = _existing_columns(con, batch)
        landed = _drop_existing(con, batch, unique) if existing_columns else unique
        frame = _raw_frame(batch, landed, loaded_at)
        if landed:
            _append_raw(con, batch, frame, existing_columns)
            tmp_parquet = _write_parquet_tmp(frame, lake_dir, batch)
        _insert_quarantine(con, batch, quarantined, loaded_at)
        result = LandResult(
            batch.batch_id,
            batch.source,
            batch.entity,
            batch.source_file,
            rows_read=len(batch.rows),
            rows_landed=len(landed),
            rows_quarantined=len(quarantined),
            rows_duplicate=in_file_duplicates + len(unique) - len(landed),
        )
        _record_file(con, batch, result, loaded_at, file_mtime)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        if tmp_parquet is not None:
            tmp_parquet.unlink(missing_ok=True)
        raise
    if tmp_parquet is not None:
        os.replace(tmp_parquet, tmp_parquet.with_suffix(""))
    return result


def _validate(batch: Batch) -> tuple[list[ParsedRow], list[_Quarantined]]:
    good: list[ParsedRow] = []
    bad: list[_Quarantined] = []
    for row in batch.rows:
        problems = [row.problem] if row.problem else batch.contract.violations(row.values)
        if problems:
            reason = "; ".join(p.reason for p in problems)
            bad.append(_Quarantined(row, problems[0].field or None, reason))
        else:
            good.append(row)
    return good, bad


def _dedupe_in_file(rows: list[ParsedRow]) -> tuple[list[tuple[str, ParsedRow]], int]:
    unique: dict[str, ParsedRow] = {}
    for row in rows:
        unique.setdefault(content_hash(row.values), row)
    return list(unique.items()), len(rows) - len(unique)


def _drop_existing(
    con: duckdb.DuckDBPyConnection, batch: Batch, rows: list[tuple[str, ParsedRow]]
) -> list[tuple[str, ParsedRow]]:
    if not rows:
        return rows
    candidates = pa.table({"_content_hash": [h for h, _ in rows]})
    con.register("_candidate_hashes", candidates)
    try:
        existing = {
            h
            for (h,) in con.execute(
                f"select distinct t._content_hash from {raw_table(batch.source, batch.entity)} t "
                "join _candidate_hashes c using (_content_hash)"
            ).fetchall()
        }
    finally:
        _unregister(con, "_candidate_hashes")
    return [(h, row) for h, row in rows if h not in existing]


def _unregister(con: duckdb.DuckDBPyConnection, view: str) -> None:
    with contextlib.suppress(duckdb.Error):  # never hide the error that aborted the transaction
        con.unregister(view)


def _existing_columns(con: duckdb.DuckDBPyConnection, batch: Batch) -> set[str]:
    """Lower-cased column names of the raw table (empty when it does not exist yet)."""
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = ?",
        [f"{batch.source}__{batch.entity}"],
    ).fetchall()
    return {name.lower() for (name,) in rows}


def _raw_frame(batch: Batch, landed: list[tuple[str, ParsedRow]], loaded_at: datetime) -> pa.Table:
    names = list(dict.fromkeys([*batch.columns, *(k for _, r in landed for k in r.values)]))
    data: dict[str, pa.Array] = {
        name: pa.array([r.values.get(name) for _, r in landed], type=pa.string()) for name in names
    }
    n = len(landed)
    data["_batch_id"] = pa.array([batch.batch_id] * n, type=pa.string())
    data["_loaded_at"] = pa.array([loaded_at] * n, type=pa.timestamp("us"))
    data["_source"] = pa.array([batch.source] * n, type=pa.string())
    data["_source_file"] = pa.array([batch.source_file] * n, type=pa.string())
    data["_row_number"] = pa.array([r.row_number for _, r in landed], type=pa.int64())
    data["_content_hash"] = pa.array([h for h, _ in landed], type=pa.string())
    return pa.table(data)


def _append_raw(
    con: duckdb.DuckDBPyConnection, batch: Batch, frame: pa.Table, existing_columns: set[str]
) -> None:
    table = raw_table(batch.source, batch.entity)
    if not existing_columns:
        source_columns = [c for c in frame.column_names if c not in METADATA_COLUMNS]
        con.execute(
            f"create table {table} ("
            + "".join(f'"{c}" varchar, ' for c in source_columns)
            + '"_batch_id" varchar, "_loaded_at" timestamp, "_source" varchar, '
            '"_source_file" varchar, "_row_number" bigint, "_content_hash" varchar)'
        )
    else:
        for column in frame.column_names:
            if column.lower() not in existing_columns:
                con.execute(f'alter table {table} add column "{column}" varchar')
    con.register("_landing_rows", frame)
    try:
        con.execute(f"insert into {table} by name select * from _landing_rows")
    finally:
        _unregister(con, "_landing_rows")


def _write_parquet_tmp(frame: pa.Table, lake_dir: Path, batch: Batch) -> Path:
    folder = Path(lake_dir) / "raw" / batch.source / batch.entity
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{batch.batch_id}.parquet.tmp"
    pq.write_table(frame, tmp)
    return tmp


def _quarantine_id(batch: Batch, row_number: int) -> str:
    key = f"{batch.source}|{batch.entity}|{batch.file_sha256}|{row_number}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _insert_quarantine(
    con: duckdb.DuckDBPyConnection, batch: Batch, rows: list[_Quarantined], loaded_at: datetime
) -> None:
    if not rows:
        return
    frame = pa.table(
        {
            "quarantine_id": [_quarantine_id(batch, q.row.row_number) for q in rows],
            "source": [batch.source] * len(rows),
            "entity": [batch.entity] * len(rows),
            "source_file": [batch.source_file] * len(rows),
            "row_number": pa.array([q.row.row_number for q in rows], type=pa.int64()),
            "field": pa.array([q.field for q in rows], type=pa.string()),
            "reason": [q.reason for q in rows],
            "original": [q.row.original for q in rows],
            "batch_id": [batch.batch_id] * len(rows),
            "quarantined_at": pa.array([loaded_at] * len(rows), type=pa.timestamp("us")),
        }
    )
    con.register("_quarantine_rows", frame)
    try:
        con.execute(
            "insert into ops.quarantine by name select * from _quarantine_rows q "
            "where q.quarantine_id not in (select quarantine_id from ops.quarantine)"
        )
    finally:
        _unregister(con, "_quarantine_rows")


def _record_file(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    result: LandResult,
    loaded_at: datetime,
    file_mtime: datetime | None,
) -> None:
    con.execute(
        "insert into ops.ingest_files (batch_id, source, entity, source_file, file_sha256, "
        "rows_read, rows_landed, rows_quarantined, rows_duplicate, loaded_at, file_mtime, "
        "last_delivered_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch.batch_id,
            batch.source,
            batch.entity,
            batch.source_file,
            batch.file_sha256,
            result.rows_read,
            result.rows_landed,
            result.rows_quarantined,
            result.rows_duplicate,
            loaded_at,
            file_mtime,
            loaded_at,
        ],
    )


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create an empty raw table for every entity no file has landed yet; returns their names.

    A company without one of the systems (no Zendesk, say) still gets a building dbt project:
    its staging models read zero rows instead of failing on a missing table.
    """
    from flows.sources.contracts import CONTRACTS

    created = []
    for source, entity in CONTRACTS:
        table = raw_table(source, entity)
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'raw' and table_name = ?",
            [f"{source}__{entity}"],
        ).fetchone()
        if exists and exists[0]:
            continue
        contract = CONTRACTS[(source, entity)]
        columns = list(dict.fromkeys([*contract.columns, *contract.required, *contract.types]))
        con.execute(
            f"create table {table} ("
            + "".join(f'"{c}" varchar, ' for c in columns)
            + '"_batch_id" varchar, "_loaded_at" timestamp, "_source" varchar, '
            '"_source_file" varchar, "_row_number" bigint, "_content_hash" varchar)'
        )
        created.append(table)
    return created
