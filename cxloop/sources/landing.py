"""Land parsed source files: validate, de-duplicate, append to raw, quarantine, record.

`prepare_batch` validates and hashes one parsed file (no warehouse needed); `land_batches`
lands prepared files of an entity, asking the warehouse once for what it already holds.
Everything of one file happens in one DuckDB transaction; the Parquet copy in the lake is
written under a temporary name and renamed only after the commit. `land_batch` does both for
one file.

Over 400 lines on purpose: validation, de-duplication, the raw append, quarantine and the
lake copy share one transaction per file and are read together.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cxloop.erasure.tombstones import TombstoneFilter
from cxloop.sources.readers import Batch, ParsedRow, RowValues
from cxloop.tables import (
    INGEST_FILES,
    RAW_METADATA,
    RAW_METADATA_NAMES,
    ensure_tables,
    raw_definition,
    raw_tables,
)

METADATA_COLUMNS = RAW_METADATA_NAMES  # the landing metadata, defined in cxloop.tables
_ARROW_TYPES = {"varchar": pa.string(), "timestamp": pa.timestamp("us"), "bigint": pa.int64()}


@dataclass(frozen=True)
class LandResult:
    """What landing one file did.

    rows_read = rows_landed + rows_quarantined + rows_duplicate + rows_erased (rows of people
    erased before, dropped by their tombstones: cxloop.erasure).
    """

    batch_id: str
    source: str
    entity: str
    source_file: str
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    rows_duplicate: int
    skipped: bool = False
    rows_erased: int = 0

    def as_dict(self) -> dict[str, object]:
        """JSON-able form for reports."""
        return asdict(self)


GoodRow = tuple[str, int, RowValues]  # content hash, row number, source fields as text


@dataclass(frozen=True)
class _Quarantined:
    row_number: int
    original: str
    field: str | None
    reason: str


def raw_table(source: str, entity: str) -> str:
    """The qualified, quoted name of a raw table: raw."<source>__<entity>"."""
    return f'raw."{source}__{entity}"'


_canonical_json = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":")
).encode  # made once: json.dumps with options builds an encoder per call


def content_hash(values: dict[str, str | None]) -> str:
    """sha256 of the canonical JSON of a row's source fields (keys sorted)."""
    return hashlib.sha256(_canonical_json(values).encode("utf-8")).hexdigest()


def landed_files(con: duckdb.DuckDBPyConnection, entity: str, source: str) -> set[str]:
    """The sha256 of every file already landed for this entity (one query per entity)."""
    rows = con.execute(
        "select file_sha256 from ops.ingest_files where source = ? and entity = ?",
        [source, entity],
    ).fetchall()
    return {sha for (sha,) in rows}


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


@dataclass(frozen=True)
class PreparedBatch:
    """One parsed file, validated and hashed, ready to land (it no longer holds the parse).

    `unique` holds the good rows as (content hash, row number, values) with repeats within
    the file removed (not the ParsedRow: a JSON row's parsed record is dropped here);
    `quarantined` the rows that broke the contract, their original text already taken.
    """

    source: str
    entity: str
    source_file: str
    file_sha256: str
    batch_id: str
    columns: list[str]
    rows_read: int
    unique: list[GoodRow]
    quarantined: list[_Quarantined]
    in_file_duplicates: int


def prepare_batch(batch: Batch) -> PreparedBatch:
    """Validate every row against the contract, hash the good ones, drop in-file repeats.

    The work of landing that needs no warehouse: `ingest_entity` does it for each file as it is
    parsed, so that a page's parsed JSON is not kept until the entity lands.
    """
    good, quarantined = _validate(batch)
    unique, in_file_duplicates = _dedupe_in_file(good)
    return PreparedBatch(
        batch.source,
        batch.entity,
        batch.source_file,
        batch.file_sha256,
        batch.batch_id,
        batch.columns,
        len(batch.rows),
        unique,
        quarantined,
        in_file_duplicates,
    )


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
    return land_batches(con, [(prepare_batch(batch), file_mtime)], lake_dir)[0]


class _EntityState:
    """What landing needs to know about one raw table, read once per `land_batches` call.

    Kept current as files commit: the raw table's columns, the files landed, and the content
    hashes present among this call's candidates (the hashes already in raw that some file of
    this call also has, plus every hash landed by this call). Asking the raw table once for all
    candidates, instead of once per file, is what keeps a run linear in the rows it reads.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: str, entity: str, candidates: list[str]
    ) -> None:
        self.source, self.entity = source, entity
        self.table = raw_table(source, entity)
        self.columns = _existing_columns(con, source, entity)
        self.files = landed_files(con, entity, source)
        self.hashes = _present_hashes(con, self.table, candidates) if self.columns else set()
        self.tombstones = TombstoneFilter.load(con)


def land_batches(
    con: duckdb.DuckDBPyConnection,
    batches: Sequence[tuple[PreparedBatch, datetime | None]],
    lake_dir: Path,
) -> list[LandResult]:
    """Land prepared files in order, each in its own transaction (as `land_batch` would).

    The raw tables are asked once for the content hashes of all the files' rows and the
    files already landed; after that each file's transaction only writes. An error stops at
    the failing file: the files before it stay landed, as with one `land_batch` per file.
    """
    states: dict[tuple[str, str], _EntityState] = {}
    for prepared, _ in batches:
        key = (prepared.source, prepared.entity)
        if key not in states:
            candidates = [
                h for p, _ in batches if (p.source, p.entity) == key for h, _, _ in p.unique
            ]
            states[key] = _EntityState(con, prepared.source, prepared.entity, candidates)
    return [
        _land_prepared(con, prepared, states[(prepared.source, prepared.entity)], lake_dir, mtime)
        for prepared, mtime in batches
    ]


def _land_prepared(
    con: duckdb.DuckDBPyConnection,
    batch: PreparedBatch,
    state: _EntityState,
    lake_dir: Path,
    file_mtime: datetime | None,
) -> LandResult:
    if batch.file_sha256 in state.files:
        return LandResult(
            batch.batch_id, batch.source, batch.entity, batch.source_file, 0, 0, 0, 0, True
        )
    unique, quarantined = _drop_erased(con, batch, state)
    landed = [row for row in unique if row[0] not in state.hashes]
    con.execute("begin transaction")
    tmp_parquet: Path | None = None
    try:
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        frame = _raw_frame(batch, landed, loaded_at)
        if landed:
            _append_raw(con, state, frame)
            tmp_parquet = _write_parquet_tmp(frame, lake_dir, batch)
        _insert_quarantine(con, batch, quarantined, loaded_at)
        result = LandResult(
            batch.batch_id,
            batch.source,
            batch.entity,
            batch.source_file,
            rows_read=batch.rows_read,
            rows_landed=len(landed),
            rows_quarantined=len(quarantined),
            rows_duplicate=batch.in_file_duplicates + len(unique) - len(landed),
            rows_erased=len(batch.unique) - len(unique) + len(batch.quarantined) - len(quarantined),
        )
        _record_file(con, batch, result, loaded_at, file_mtime)
        con.execute("commit")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        if tmp_parquet is not None:
            tmp_parquet.unlink(missing_ok=True)
        raise  # the caller's state for this table is dropped with the error
    state.files.add(batch.file_sha256)
    state.hashes.update(h for h, _, _ in landed)
    if landed:
        state.columns |= {name.lower() for name in frame.column_names}
    if tmp_parquet is not None:
        os.replace(tmp_parquet, tmp_parquet.with_suffix(""))
    return result


def _drop_erased(
    con: duckdb.DuckDBPyConnection, batch: PreparedBatch, state: _EntityState
) -> tuple[list[GoodRow], list[_Quarantined]]:
    """The file's good and quarantined rows without those of erased people (ops.tombstones)."""
    tombstones = state.tombstones
    if not tombstones:
        return batch.unique, batch.quarantined
    frame = _raw_frame(batch, batch.unique, datetime.now(UTC).replace(tzinfo=None))
    erased = tombstones.matching_rows(con, f"{batch.source}__{batch.entity}", frame)
    unique = [row for row in batch.unique if row[1] not in erased]
    quarantined = [q for q in batch.quarantined if not tombstones.text_matches(q.original)]
    return unique, quarantined


def _validate(batch: Batch) -> tuple[list[ParsedRow], list[_Quarantined]]:
    good: list[ParsedRow] = []
    bad: list[_Quarantined] = []
    violations = batch.contract.violations
    for row in batch.rows:
        problems = [row.problem] if row.problem else violations(row.values)
        if problems:
            reason = "; ".join(p.reason for p in problems)
            bad.append(
                _Quarantined(row.row_number, row.original, problems[0].field or None, reason)
            )
        else:
            good.append(row)
    return good, bad


def _dedupe_in_file(rows: list[ParsedRow]) -> tuple[list[GoodRow], int]:
    unique: dict[str, GoodRow] = {}
    for row in rows:
        h = content_hash(row.values)
        if h not in unique:
            unique[h] = (h, row.row_number, row.values)
    return list(unique.values()), len(rows) - len(unique)


def _present_hashes(con: duckdb.DuckDBPyConnection, table: str, candidates: list[str]) -> set[str]:
    """The candidate content hashes already in the raw table (one scan of it)."""
    if not candidates:
        return set()
    con.register(
        "_candidate_hashes", pa.table({"_content_hash": pa.array(candidates, pa.string())})
    )
    try:
        return {
            h
            for (h,) in con.execute(
                f"select distinct t._content_hash from {table} t "
                "semi join _candidate_hashes c using (_content_hash)"
            ).fetchall()
        }
    finally:
        _unregister(con, "_candidate_hashes")


def _unregister(con: duckdb.DuckDBPyConnection, view: str) -> None:
    with contextlib.suppress(duckdb.Error):  # never hide the error that aborted the transaction
        con.unregister(view)


def _existing_columns(con: duckdb.DuckDBPyConnection, source: str, entity: str) -> set[str]:
    """Lower-cased column names of the raw table (empty when it does not exist yet)."""
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = ?",
        [f"{source}__{entity}"],
    ).fetchall()
    return {name.lower() for (name,) in rows}


def _raw_frame(batch: PreparedBatch, landed: list[GoodRow], loaded_at: datetime) -> pa.Table:
    names = list(dict.fromkeys([*batch.columns, *(k for _, _, values in landed for k in values)]))
    # Arrow reads the row dicts itself (a key a row lacks is null): no Python loop per cell
    frame = pa.Table.from_pylist(
        [values for _, _, values in landed],
        schema=pa.schema([(name, pa.string()) for name in names]),
    )
    n = len(landed)
    metadata = {
        "_batch_id": [batch.batch_id] * n,
        "_loaded_at": [loaded_at] * n,
        "_source": [batch.source] * n,
        "_source_file": [batch.source_file] * n,
        "_row_number": [number for _, number, _ in landed],
        "_content_hash": [h for h, _, _ in landed],
    }
    for column in RAW_METADATA:  # in the definition's order and types
        frame = frame.append_column(
            column.name, pa.array(metadata[column.name], type=_ARROW_TYPES[column.type])
        )
    return frame


def _append_raw(con: duckdb.DuckDBPyConnection, state: _EntityState, frame: pa.Table) -> None:
    table = state.table
    if not state.columns:
        con.execute(raw_definition(state.source, state.entity, frame.column_names).ddl)
    else:
        for column in frame.column_names:
            if column.lower() not in state.columns:
                con.execute(f'alter table {table} add column "{column}" varchar')
    con.register("_landing_rows", frame)
    try:
        con.execute(f"insert into {table} by name select * from _landing_rows")
    finally:
        _unregister(con, "_landing_rows")


def _write_parquet_tmp(frame: pa.Table, lake_dir: Path, batch: PreparedBatch) -> Path:
    folder = Path(lake_dir) / "raw" / batch.source / batch.entity
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{batch.batch_id}.parquet.tmp"
    pq.write_table(frame, tmp)
    return tmp


def _quarantine_id(batch: PreparedBatch, row_number: int) -> str:
    key = f"{batch.source}|{batch.entity}|{batch.file_sha256}|{row_number}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _insert_quarantine(
    con: duckdb.DuckDBPyConnection,
    batch: PreparedBatch,
    rows: list[_Quarantined],
    loaded_at: datetime,
) -> None:
    if not rows:
        return
    frame = pa.table(
        {
            "quarantine_id": [_quarantine_id(batch, q.row_number) for q in rows],
            "source": [batch.source] * len(rows),
            "entity": [batch.entity] * len(rows),
            "source_file": [batch.source_file] * len(rows),
            "row_number": pa.array([q.row_number for q in rows], type=pa.int64()),
            "field": pa.array([q.field for q in rows], type=pa.string()),
            "reason": [q.reason for q in rows],
            "original": [q.original for q in rows],
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
    batch: PreparedBatch,
    result: LandResult,
    loaded_at: datetime,
    file_mtime: datetime | None,
) -> None:
    con.execute(
        INGEST_FILES.insert_sql,
        INGEST_FILES.row(
            {
                "batch_id": batch.batch_id,
                "source": batch.source,
                "entity": batch.entity,
                "source_file": batch.source_file,
                "file_sha256": batch.file_sha256,
                "rows_read": result.rows_read,
                "rows_landed": result.rows_landed,
                "rows_quarantined": result.rows_quarantined,
                "rows_duplicate": result.rows_duplicate,
                "rows_erased": result.rows_erased,
                "loaded_at": loaded_at,
                "file_mtime": file_mtime,
                "last_delivered_at": loaded_at,
            }
        ),
    )


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create an empty raw table for every entity no file has landed yet; returns their names.

    A company without one of the systems (no Zendesk, say) still gets a building dbt project:
    its staging models read zero rows instead of failing on a missing table. Part of
    cxloop.tables.ensure_warehouse, which callers before dbt should use instead.
    """
    missing = [t for t in raw_tables() if not _existing_columns(con, *t.name.split("__", 1))]
    ensure_tables(con, missing)
    return [t.sql_name for t in missing]
