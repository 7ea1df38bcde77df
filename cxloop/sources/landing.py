"""Land prepared source files: de-duplicate, append to raw, quarantine, record.

`prepare_batch` (cxloop.sources.prepared) validates and hashes one parsed file, with no
warehouse; `EntityLanding` lands an entity's prepared files, asking the warehouse once for what
it holds. Everything of one file happens in one DuckDB transaction (which the ingest shares
among the new files of an entity); the Parquet copy in the lake is written under a temporary
name and renamed only after the commit. `land_batch` does both for one file.

Over 400 lines on purpose: de-duplication, erasure, the raw append, quarantine, the file record
and the lake copy share one transaction and are read together.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cxloop.erasure.tombstones import TombstoneFilter
from cxloop.sources.prepared import PreparedBatch, Quarantined, prepare_batch
from cxloop.sources.readers import Batch
from cxloop.sqlnames import fold_case, quoted
from cxloop.tables import (
    INGEST_FILES,
    RAW_METADATA,
    RAW_METADATA_NAMES,
    ensure_tables,
    raw_definition,
    raw_tables,
)

METADATA_COLUMNS = RAW_METADATA_NAMES  # the landing metadata, defined in cxloop.tables
INSERT_BYTES = 64 * 1024 * 1024  # raw rows (Arrow bytes) buffered for one insert
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


def raw_table(source: str, entity: str) -> str:
    """The qualified, quoted name of a raw table: raw."<source>__<entity>"."""
    return f'raw."{source}__{entity}"'


def landed_files(con: duckdb.DuckDBPyConnection, entity: str, source: str) -> set[str]:
    """The sha256 of every file already landed for this entity (one query per entity)."""
    rows = con.execute(
        "select file_sha256 from ops.ingest_files where source = ? and entity = ?",
        [source, entity],
    ).fetchall()
    return {sha for (sha,) in rows}


# Files landed before, seen again (a VALUES list of content hash, modification time).
NOTE_REDELIVERIES = """
update ops.ingest_files as f set
    last_delivered_at = case when f.file_mtime is null
        then coalesce(f.last_delivered_at, f.loaded_at) else ? end,
    file_mtime = s.mtime
from (values {values}) as s(sha, mtime)
where f.source = ? and f.entity = ? and f.file_sha256 = s.sha
    and f.file_mtime is distinct from s.mtime
returning f.batch_id
"""


def note_redeliveries(
    con: duckdb.DuckDBPyConnection,
    source: str,
    entity: str,
    seen: Sequence[tuple[str, datetime | None]],
) -> int:
    """Record that files landed before (content hash, modification time) were seen again; how
    many landed files' records changed.

    A delivery is the same bytes with a new modification time (a nightly export that did not
    change): it keeps the source fresh. The same file lying untouched in the folder is not one,
    so a source whose exports stop arriving still turns stale. One statement for all the files
    (a statement a file took ~0.9 ms, ~1.9 s a run at scale 10); the same bytes in two files
    are noted one file after the other, in the order they were seen, as before.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    times = Counter(sha for sha, _ in seen)
    once = [pair for pair in seen if times[pair[0]] == 1]
    groups = [once] if once else []
    groups += [[pair] for pair in seen if times[pair[0]] > 1]
    changed = 0
    for group in groups:
        values = ", ".join(["(?::varchar, ?::timestamp)"] * len(group))
        params = [now, *(v for pair in group for v in pair), source, entity]
        changed += len(con.execute(NOTE_REDELIVERIES.format(values=values), params).fetchall())
    return changed


def land_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    lake_dir: Path,
    file_mtime: datetime | None = None,
) -> LandResult:
    """Land one file in one transaction; a file landed before is skipped whole.

    `file_mtime` (the file's modification time, UTC) is kept to tell a re-delivery of the same
    bytes from the same file lying in the folder (`note_redeliveries`).
    """
    return land_batches(con, [(prepare_batch(batch), file_mtime)], lake_dir)[0]


class EntityLanding:
    """Lands the files of one raw table, several to a transaction, knowing what it already holds.

    Read once, when made: the raw table's columns, the files landed, the tombstones, and which
    of the content hashes about to land (`candidates`, every new file's) raw already holds: one
    semi-join, so memory grows with the new data, not with the table. The hashes this run lands
    are kept as a set (updated after each commit), so a file is checked against raw and every
    file landed before it without asking the table again. `land` and `land_files` open and
    commit their own transaction; the ingest lands an entity's files with `begin`, `add` per
    file as it is prepared, and `commit` (cxloop.sources.ingest).
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: str, entity: str, candidates: list[str]
    ) -> None:
        self.con, self.source, self.entity = con, source, entity
        self.table = raw_table(source, entity)
        self.columns = _existing_columns(con, source, entity)
        self.files = landed_files(con, entity, source)
        self.in_raw = _hashes_in_raw(con, self.table, candidates) if self.columns else set()
        self.hashes: set[str] = set()  # landed by this run
        self.tombstones = TombstoneFilter.load(con)
        self.pending = _Pending()  # what the open transaction landed

    def land(self, batch: PreparedBatch, lake_dir: Path, file_mtime: datetime | None) -> LandResult:
        """Land one prepared file of this entity (skipped whole when its sha256 landed before)."""
        return self.land_files([(batch, file_mtime)], lake_dir)[0]

    def land_files(
        self, files: Sequence[tuple[PreparedBatch, datetime | None]], lake_dir: Path
    ) -> list[LandResult]:
        """Land prepared files of this entity in order, in one transaction (one commit).

        When a file fails, the files before it are landed again in a transaction of their own
        (so they stay landed, as with one transaction per file) and the error is raised.
        """
        results: list[LandResult] = []
        self.begin()
        try:
            for batch, file_mtime in files:
                results.append(self.add(batch, lake_dir, file_mtime))
        except Exception as exc:
            self.rollback()
            if results:
                self.land_again(files[: len(results)], lake_dir, exc)
            raise
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return results

    def begin(self) -> None:
        """Open the transaction the next files land in (`add`), until `commit` or `rollback`."""
        self.con.execute("begin transaction")
        self.pending = _Pending()

    def add(self, batch: PreparedBatch, lake_dir: Path, file_mtime: datetime | None) -> LandResult:
        """Land one prepared file in the open transaction: its raw rows, quarantine rows, lake
        copy (a temporary name until the commit) and `ops.ingest_files` row, all or nothing.
        A file whose sha256 landed before, or earlier in this transaction, is skipped whole."""
        return _land_prepared(self.con, batch, self, self.pending, lake_dir, file_mtime)

    def commit(self) -> None:
        """Commit what the transaction landed, then give the lake copies their names (a
        failed commit is rolled back: nothing of the transaction's files lands)."""
        try:
            if self.pending.rows:
                _append_raw(self.con, self, self.pending)
            _insert_quarantine(self.con, self.pending.quarantine)
            _insert_file_rows(self.con, self.pending.file_rows)
            self.con.execute("commit")
        except BaseException:
            self.rollback()
            raise
        pending, self.pending = self.pending, _Pending()
        self.files |= pending.files
        self.hashes |= pending.hashes
        self.columns |= pending.columns
        for tmp in pending.renames:
            os.replace(tmp, tmp.with_suffix(""))

    def rollback(self) -> None:
        """Undo the open transaction: nothing of its files is in the warehouse or the lake."""
        with contextlib.suppress(duckdb.Error):  # never hide the error that aborted it
            self.con.execute("rollback")
        pending, self.pending = self.pending, _Pending()
        for tmp in pending.renames:
            tmp.unlink(missing_ok=True)

    def land_again(
        self,
        files: Sequence[tuple[PreparedBatch, datetime | None]],
        lake_dir: Path,
        error: Exception,
    ) -> None:
        """After `error` in a later file: land the files before it, which were rolled back with
        it, each in a transaction of its own (as when every file had one), up to the first that
        fails again: its failure is noted on `error`, naming it, and the caller raises `error`.
        (A raw insert holds several files' rows, so the file that broke it may be among them.)"""
        for batch, file_mtime in files:
            try:
                self.land_files([(batch, file_mtime)], lake_dir)
            except Exception as again:
                error.add_note(f"{batch.source_file}: landing it again failed too: {again}")
                return


@dataclass
class _Pending:
    """What an open transaction landed: the entity's state once it commits, forgotten if not."""

    files: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    renames: list[Path] = field(default_factory=list)  # lake copies' temporary names
    quarantine: list[pa.Table] = field(default_factory=list)  # rows to insert at the commit
    file_rows: list[list[object]] = field(default_factory=list)  # ops.ingest_files', likewise
    rows: list[pa.Table] = field(default_factory=list)  # raw rows not inserted yet
    rows_bytes: int = 0


def land_batches(
    con: duckdb.DuckDBPyConnection,
    batches: Sequence[tuple[PreparedBatch, datetime | None]],
    lake_dir: Path,
) -> list[LandResult]:
    """Land prepared files in order, each in its own transaction (as `land_batch` would).

    An error stops at the failing file: the files before it stay landed.
    """
    candidates: dict[tuple[str, str], list[str]] = {}
    for prepared, _ in batches:
        candidates.setdefault((prepared.source, prepared.entity), []).extend(prepared.hashes)
    states: dict[tuple[str, str], EntityLanding] = {}
    results = []
    for prepared, mtime in batches:
        key = (prepared.source, prepared.entity)
        if key not in states:
            states[key] = EntityLanding(con, *key, candidates[key])
        results.append(states[key].land(prepared, lake_dir, mtime))
    return results


def _land_prepared(
    con: duckdb.DuckDBPyConnection,
    batch: PreparedBatch,
    state: EntityLanding,
    pending: _Pending,
    lake_dir: Path,
    file_mtime: datetime | None,
) -> LandResult:
    """Land one file inside the open transaction; what it adds is noted in `pending`."""
    if batch.file_sha256 in state.files or batch.file_sha256 in pending.files:
        return LandResult(
            batch.batch_id, batch.source, batch.entity, batch.source_file, 0, 0, 0, 0, True
        )
    kept, quarantined = _drop_erased(con, batch, state)
    seen, in_raw, now = state.hashes, state.in_raw, pending.hashes
    landed = [
        i for i in kept if (h := batch.hashes[i]) not in seen and h not in in_raw and h not in now
    ]
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    frame = _raw_frame(batch, landed, loaded_at)
    if landed:
        _add_columns(con, state, pending, frame)
        _buffer_raw(con, state, pending, frame)
        pending.renames.append(_write_parquet_tmp(frame, lake_dir, batch))
    if quarantined:  # inserted with the other files' at the commit (one statement)
        pending.quarantine.append(_quarantine_frame(batch, quarantined, loaded_at))
    result = LandResult(
        batch.batch_id,
        batch.source,
        batch.entity,
        batch.source_file,
        rows_read=batch.rows_read,
        rows_landed=len(landed),
        rows_quarantined=len(quarantined),
        rows_duplicate=batch.in_file_duplicates + len(kept) - len(landed),
        rows_erased=len(batch.hashes) - len(kept) + len(batch.quarantined) - len(quarantined),
    )
    pending.file_rows.append(_file_row(batch, result, loaded_at, file_mtime))
    pending.files.add(batch.file_sha256)
    now.update(batch.hashes[i] for i in landed)
    return result


def _drop_erased(
    con: duckdb.DuckDBPyConnection, batch: PreparedBatch, state: EntityLanding
) -> tuple[list[int], list[Quarantined]]:
    """Indexes of the file's good rows, and its quarantined rows, without erased people's."""
    tombstones = state.tombstones
    everything = list(range(len(batch.hashes)))
    if not tombstones:
        return everything, batch.quarantined
    frame = _raw_frame(batch, everything, datetime.now(UTC).replace(tzinfo=None))
    erased = tombstones.matching_rows(con, f"{batch.source}__{batch.entity}", frame)
    kept = [i for i in everything if batch.row_numbers[i] not in erased]
    quarantined = [q for q in batch.quarantined if not tombstones.text_matches(q.original)]
    return kept, quarantined


def _hashes_in_raw(con: duckdb.DuckDBPyConnection, table: str, hashes: list[str]) -> set[str]:
    """Which of these content hashes the raw table holds (one semi-join)."""
    if not hashes:
        return set()
    view = "_cxloop_candidate_hashes"
    con.register(view, pa.table({"h": pa.array(hashes, pa.string())}))
    try:
        rows = con.execute(
            f"select distinct _content_hash from {table} "
            f"where _content_hash in (select h from {view})"
        ).fetchall()
    finally:
        _unregister(con, view)
    return {row[0] for row in rows}


def _unregister(con: duckdb.DuckDBPyConnection, view: str) -> None:
    with contextlib.suppress(duckdb.Error):  # never hide the error that aborted the transaction
        con.unregister(view)


def raw_has_rows(con: duckdb.DuckDBPyConnection, source: str, entity: str) -> bool:
    """Whether the entity's raw table may hold rows (else no hash about to land can be in it).

    From the catalog's row estimate, without reading the table: 0 for a table never landed
    in; rows deleted (an erasure) may still count until a checkpoint, which errs on "may"."""
    row = con.execute(
        "select estimated_size from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = ?",
        [f"{source}__{entity}"],
    ).fetchone()
    return bool(row and row[0])


def _existing_columns(con: duckdb.DuckDBPyConnection, source: str, entity: str) -> set[str]:
    """The raw table's column names, case folded as DuckDB folds them (empty: no table yet)."""
    rows = con.execute(
        "select column_name from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'raw' and table_name = ?",
        [f"{source}__{entity}"],
    ).fetchall()
    return {fold_case(name) for (name,) in rows}


def _raw_frame(batch: PreparedBatch, rows: list[int], loaded_at: datetime) -> pa.Table:
    """The rows (indexes into the batch's frame) with the landing metadata appended."""
    frame = batch.frame
    if len(rows) != frame.num_rows:
        frame = frame.take(pa.array(rows, pa.int64()))
    n = len(rows)
    metadata = {
        "_batch_id": [batch.batch_id] * n,
        "_loaded_at": [loaded_at] * n,
        "_source": [batch.source] * n,
        "_source_file": [batch.source_file] * n,
        "_row_number": [batch.row_numbers[i] for i in rows],
        "_content_hash": [batch.hashes[i] for i in rows],
    }
    for column in RAW_METADATA:  # in the definition's order and types
        frame = frame.append_column(
            column.name, pa.array(metadata[column.name], type=_ARROW_TYPES[column.type])
        )
    return frame


def _add_columns(
    con: duckdb.DuckDBPyConnection, state: EntityLanding, pending: _Pending, frame: pa.Table
) -> None:
    """Create the raw table from the first frame's columns, or add the frame's new columns."""
    if not state.columns and not pending.columns:
        con.execute(raw_definition(state.source, state.entity, frame.column_names).ddl)
    else:
        for column in frame.column_names:
            name = fold_case(column)
            if name not in state.columns and name not in pending.columns:
                con.execute(f"alter table {state.table} add column {quoted(column)} varchar")
    pending.columns |= {fold_case(name) for name in frame.column_names}


def _buffer_raw(
    con: duckdb.DuckDBPyConnection, state: EntityLanding, pending: _Pending, frame: pa.Table
) -> None:
    """Keep a file's raw rows for one insert with the next files' of the same columns (flushed
    at `INSERT_BYTES`, at other columns and at the commit): an insert per file cost more."""
    if pending.rows and not frame.schema.equals(pending.rows[0].schema):
        _append_raw(con, state, pending)
    pending.rows.append(frame)
    pending.rows_bytes += frame.nbytes
    if pending.rows_bytes >= INSERT_BYTES:
        _append_raw(con, state, pending)


def _append_raw(con: duckdb.DuckDBPyConnection, state: EntityLanding, pending: _Pending) -> None:
    """Insert the buffered raw rows (files of the same columns) in one statement."""
    frames, pending.rows, pending.rows_bytes = pending.rows, [], 0
    con.register("_landing_rows", frames[0] if len(frames) == 1 else pa.concat_tables(frames))
    try:
        con.execute(f"insert into {state.table} by name select * from _landing_rows")
    except duckdb.Error as exc:  # the rows of several files: name them
        files = sorted({f.column("_source_file")[0].as_py() for f in frames if f.num_rows})
        exc.add_note(f"inserting the raw rows of {', '.join(files)} into {state.table}")
        raise
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


def _quarantine_frame(
    batch: PreparedBatch, rows: list[Quarantined], loaded_at: datetime
) -> pa.Table:
    """The file's quarantined rows as `ops.quarantine` rows."""
    return pa.table(
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


def _insert_quarantine(con: duckdb.DuckDBPyConnection, frames: list[pa.Table]) -> None:
    """Insert the quarantined rows of a transaction's files (one statement; a row quarantined
    before, by its id, is not inserted again)."""
    if not frames:
        return
    rows = pa.concat_tables(frames)
    rows = rows.append_column("_pos", pa.array(range(rows.num_rows), pa.int64()))
    con.register("_quarantine_rows", rows)
    try:  # in the files' order (the anti-join alone returns rows in any order)
        con.execute(
            "insert into ops.quarantine by name select * exclude (_pos) from _quarantine_rows q "
            "where q.quarantine_id not in (select quarantine_id from ops.quarantine) "
            "order by _pos"
        )
    finally:
        _unregister(con, "_quarantine_rows")


def _file_row(
    batch: PreparedBatch, result: LandResult, loaded_at: datetime, file_mtime: datetime | None
) -> list[object]:
    """The file's `ops.ingest_files` row."""
    return INGEST_FILES.row(
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
    )


def _insert_file_rows(con: duckdb.DuckDBPyConnection, rows: list[list[object]]) -> None:
    """Record a transaction's files in `ops.ingest_files`, one statement for all (one insert
    per file cost ~2 ms each: a Zendesk export is hundreds of pages)."""
    if rows:
        con.execute(INGEST_FILES.insert_many_sql(len(rows)), [v for row in rows for v in row])


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create an empty raw table for every entity no file has landed yet; returns their names.

    A company without one of the systems (no Zendesk, say) still gets a building dbt project:
    its staging models read zero rows instead of failing on a missing table. Part of
    cxloop.tables.ensure_warehouse, which callers before dbt should use instead.
    """
    missing = [t for t in raw_tables() if not _existing_columns(con, *t.name.split("__", 1))]
    ensure_tables(con, missing)
    return [t.sql_name for t in missing]
