"""An entity's new files land in one transaction, each as soon as it is prepared (issue #12).

One commit per entity instead of one per file; what a file lands, and when a failure leaves
nothing or the files before it, is as with a transaction per file: a file that fails to parse
leaves nothing of its entity (not in raw, ops or the lake), a file that fails to land leaves
the files before it landed, and the error is raised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from counting_connection import CountingConnection

from cxloop.errors import SourceError
from cxloop.sources import ingest, landing
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest
from cxloop.sources.landing import LandResult
from cxloop.warehouse import connect


def _pages(run: IngestRun, count: int) -> list[Path]:
    """`count` pages of Zendesk users (3 users each) instead of the fixture's."""
    folder = run.sources_dir / "zendesk" / "users"
    for page in folder.glob("*.json"):
        page.unlink()
    pages = []
    for p in range(1, count + 1):
        users = [
            {"id": 100 * p + n, "name": f"user {p}.{n}", "email": f"u{p}.{n}@example.com"}
            for n in range(3)
        ]
        page = folder / f"page-{p:03d}.json"
        page.write_text(json.dumps({"users": users, "end_of_stream": p == count}))
        pages.append(page)
    return pages


def _users(run: IngestRun, con: Any = None) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == "zendesk.users")
    return ingest_entity(run, job, con)


def _batch_id(page: Path) -> str:
    return f"zendesk-users-{hashlib.sha256(page.read_bytes()).hexdigest()[:12]}"


def _landed(warehouse: Path) -> tuple[list[tuple], list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = con.execute(
            "select source_file, rows_landed from ops.ingest_files order by source_file"
        ).fetchall()
        raw = con.execute(
            "select _source_file, count(*) from raw.zendesk__users group by 1 order by 1"
        ).fetchall()
        return files, raw
    finally:
        con.close()


def _commits_landing_every_page(run: IngestRun, warehouse: Path, pages: list[Path]) -> int:
    """Land the users' pages (3 users each, all new): every page landed whole, in raw and
    ops; how many commits it took."""
    con = CountingConnection(connect(warehouse))
    try:
        results = _users(run, con)
    finally:
        con.close()
    assert [(r.rows_read, r.rows_landed) for r in results] == [(3, 3)] * len(pages)
    files, raw = _landed(warehouse)
    expected = [(f"zendesk/users/{p.name}", 3) for p in pages]
    assert files == expected and raw == expected
    return [s.strip().lower() for s in con.statements].count("commit")


def test_an_entitys_files_commit_once_each_recorded_on_its_own(
    run: IngestRun, warehouse: Path, lake: Path
) -> None:
    pages = _pages(run, 4)
    assert _commits_landing_every_page(run, warehouse, pages) == 1
    parquet = sorted(p.name for p in (lake / "raw" / "zendesk" / "users").iterdir())
    assert parquet == sorted(f"{_batch_id(p)}.parquet" for p in pages)


def test_a_file_that_fails_to_parse_leaves_nothing_of_its_entity(
    run: IngestRun, warehouse: Path, lake: Path
) -> None:
    pages = _pages(run, 3)
    pages[2].write_text('{"users": [{"id": 9, "name": "Cut')  # the last file: landed after 2
    with pytest.raises(SourceError, match=r"^zendesk/users/page-003\.json"):
        _users(run)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from ops.ingest_files").fetchone() == (0,)
        assert not con.execute(
            "select 1 from duckdb_tables() "
            "where schema_name = 'raw' and table_name = 'zendesk__users'"
        ).fetchall()
    finally:
        con.close()
    assert not list(lake.rglob("*.parquet*")), "a lake copy of a file that never committed"


def test_a_file_that_fails_to_land_leaves_the_files_before_it_landed(
    run: IngestRun, warehouse: Path, lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _pages(run, 3)
    full = _batch_id(pages[2])
    write = landing._write_parquet_tmp

    def disk_full_at_the_third(frame: Any, lake_dir: Path, batch: Any) -> Path:
        if batch.batch_id == full:
            raise OSError(28, "No space left on device")
        return write(frame, lake_dir, batch)

    monkeypatch.setattr(landing, "_write_parquet_tmp", disk_full_at_the_third)
    with pytest.raises(OSError, match="No space left"):
        _users(run)
    files, raw = _landed(warehouse)
    expected = [(f"zendesk/users/{p.name}", 3) for p in pages[:2]]
    assert files == expected and raw == expected
    names = sorted(p.name for p in (lake / "raw" / "zendesk" / "users").iterdir())
    assert names == sorted(f"{_batch_id(p)}.parquet" for p in pages[:2])
    monkeypatch.undo()
    results = _users(run)  # the next run lands the third, skips the two
    assert [(r.skipped, r.rows_landed) for r in results] == [(True, 0), (True, 0), (False, 3)]
    files, raw = _landed(warehouse)
    expected = [(f"zendesk/users/{p.name}", 3) for p in pages]
    assert files == expected and raw == expected


def test_past_its_size_an_entity_commits_after_every_file_parsed_in_several_transactions(
    run: IngestRun, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "TRANSACTION_BYTES", 1)  # one prepared file per transaction
    pages = _pages(run, 4)
    pages[3].write_text('{"users": [{"id": 9, "name": "Cut')
    with pytest.raises(SourceError, match=r"^zendesk/users/page-004\.json"):
        _users(run)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:  # nothing commits before every file parsed
        assert con.execute("select count(*) from ops.ingest_files").fetchone() == (0,)
    finally:
        con.close()
    pages = _pages(run, 4)
    assert _commits_landing_every_page(run, warehouse, pages) == 4


def test_a_raw_insert_that_fails_after_more_files_names_its_file_and_keeps_those_before(
    run: IngestRun, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # page 2's rows carry a landing time DuckDB cannot read as a timestamp: their insert fails.
    # They wait for one insert with the next files' (other columns: the insert runs as page 3
    # is added), so the error surfaces at page 3; page 1 must stay landed, page 2 be named.
    pages = _pages(run, 3)
    users = [{"id": 201, "name": "other columns", "email": "a@example.com", "phone": "1"}]
    pages[1].write_text(json.dumps({"users": users, "end_of_stream": False}))
    broken, raw_frame = _batch_id(pages[1]), landing._raw_frame

    def unreadable_time(batch: Any, rows: list[int], loaded_at: Any) -> Any:
        frame = raw_frame(batch, rows, loaded_at)
        if batch.batch_id != broken:
            return frame
        at = frame.schema.get_field_index("_loaded_at")
        return frame.set_column(at, "_loaded_at", pa.array(["not a time"] * frame.num_rows))

    monkeypatch.setattr(landing, "_raw_frame", unreadable_time)
    with pytest.raises(duckdb.Error) as raised:
        _users(run)
    notes = " ".join(getattr(raised.value, "__notes__", []))
    assert "zendesk/users/page-002.json: landing it again failed too" in notes
    files, raw = _landed(warehouse)
    assert files == [("zendesk/users/page-001.json", 3)]
    assert raw == [("zendesk/users/page-001.json", 3)]
