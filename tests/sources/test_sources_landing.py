"""Landing: idempotent re-runs, read = landed + quarantined + duplicate + erased, Parquet,
atomicity."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from cxloop.sources import ADAPTERS
from cxloop.sources.ingest import IngestRun, plan_ingest
from cxloop.sources.landing import land_batch
from cxloop.warehouse import connect

Query = Callable[..., list[tuple]]
TABLE_COUNTS = (
    "select (select count(*) from raw.salesforce__account), "
    "(select count(*) from raw.zendesk__tickets), (select count(*) from raw.zendesk__users), "
    "(select count(*) from raw.qualtrics__responses), (select count(*) from ops.quarantine), "
    "(select count(*) from ops.ingest_files)"
)


def test_every_entity_keeps_read_equal_landed_quarantined_duplicate(
    ingest: Callable[[], dict], query: Query
) -> None:
    report = ingest()
    for counts in [*report["entities"].values(), report["totals"]]:
        assert counts["read"] == (
            counts["landed"] + counts["quarantined"] + counts["duplicate"] + counts["erased"]
        )
    files = query(
        "select rows_read, rows_landed, rows_quarantined, rows_duplicate, rows_erased "
        "from ops.ingest_files"
    )
    assert len(files) == report["totals"]["files"] == 13
    assert all(read == landed + bad + dup + gone for read, landed, bad, dup, gone in files)
    assert query("select sum(rows_landed), sum(rows_quarantined) from ops.ingest_files") == [
        (report["totals"]["landed"], report["totals"]["quarantined"])
    ]


def test_landing_the_same_folder_twice_adds_nothing(
    ingest: Callable[[], dict], query: Query
) -> None:
    first = ingest()
    before = query(TABLE_COUNTS)
    second = ingest()
    assert query(TABLE_COUNTS) == before
    assert second["totals"] == {
        "files": 13,
        "read": 0,
        "landed": 0,
        "quarantined": 0,
        "duplicate": 0,
        "erased": 0,
        "skipped_files": 13,
    }
    assert first["totals"]["skipped_files"] == 0


def test_relanding_a_forgotten_file_adds_no_rows_and_no_quarantine(
    run: IngestRun, warehouse: Path, lake: Path, query: Query
) -> None:
    job = next(j for j in plan_ingest(run) if j.key == "zendesk.tickets")
    path = job.files[0]
    batch = ADAPTERS["zendesk"].read_file(
        "tickets", path, "zendesk/tickets/page-001.json", run.config.sources["zendesk"]
    )
    con = connect(warehouse)
    try:
        first = land_batch(con, batch, lake)
        assert land_batch(con, batch, lake).skipped  # same sha256: skipped whole
        con.execute("delete from ops.ingest_files")  # forget the file, keep its rows
        again = land_batch(con, batch, lake)
    finally:
        con.close()
    assert (first.rows_landed, first.rows_quarantined) == (2, 1)
    assert (again.rows_read, again.rows_landed, again.rows_quarantined, again.rows_duplicate) == (
        3,
        0,
        1,
        2,
    )
    assert query("select count(*) from raw.zendesk__tickets") == [(2,)]
    assert query("select count(*) from ops.quarantine") == [(1,)]


def test_landed_rows_are_also_written_to_the_lake_as_parquet(
    ingest: Callable[[], dict], lake: Path, query: Query
) -> None:
    ingest()
    for batch_id, landed in query(
        "select batch_id, rows_landed from ops.ingest_files "
        "where source = 'zendesk' and entity = 'tickets'"
    ):
        table = pq.read_table(lake / "raw" / "zendesk" / "tickets" / f"{batch_id}.parquet")
        assert table.num_rows == landed
        assert set(table.column_names) >= {"id", "via", "_batch_id", "_content_hash"}
    assert not list(lake.rglob("*.tmp"))


def test_a_failing_insert_leaves_no_trace(
    run: IngestRun, warehouse: Path, lake: Path, query: Query
) -> None:
    con = connect(warehouse)
    con.execute(
        'create table raw.salesforce__account ("Id" varchar, "Region__c" integer, '
        '"_content_hash" varchar)'
    )
    job = next(j for j in plan_ingest(run) if j.key == "salesforce.account")
    batch = ADAPTERS["salesforce"].read_file(
        "account", job.files[0], "salesforce/Account.csv", run.config.sources["salesforce"]
    )
    try:
        with pytest.raises(duckdb.ConversionException, match="EMEA"):
            land_batch(con, batch, lake)
    finally:
        con.close()
    assert query(
        "select column_name from information_schema.columns "
        "where table_name = 'salesforce__account'"
    ) == [("Id",), ("Region__c",), ("_content_hash",)]
    assert query(
        "select (select count(*) from ops.ingest_files), (select count(*) from ops.quarantine)"
    ) == [(0, 0)]
    assert not list(lake.rglob("*.parquet*"))


def test_redeliveries_are_noted_in_one_statement_as_file_by_file() -> None:
    """`note_redeliveries` against the per-file rule, written out: a landed file whose bytes
    are seen with another modification time is delivered now (or, with no time kept yet, keeps
    its last delivery); the same time is no delivery; the same bytes seen twice in one run are
    noted in the order seen; other entities and sources are untouched."""
    from datetime import UTC, datetime, timedelta

    from cxloop.sources.landing import note_redeliveries
    from cxloop.tables import INGEST_FILES, ensure_tables

    con = duckdb.connect()
    ensure_tables(con, [INGEST_FILES])
    t0 = datetime(2026, 1, 1)
    landed = [  # batch, source, entity, sha, file_mtime, last_delivered_at
        ("b1", "zendesk", "tickets", "s1", t0, t0),  # seen with a new time: delivered now
        ("b2", "zendesk", "tickets", "s2", t0, t0),  # seen with the same time: nothing
        ("b3", "zendesk", "tickets", "s3", None, None),  # no time kept: delivered when loaded
        ("b4", "zendesk", "tickets", "s4", None, t0),  # seen twice: kept, then now
        ("b5", "zendesk", "users", "s1", t0, t0),  # another entity, the same bytes
        ("b6", "salesforce", "tickets", "s1", t0, t0),  # another source
        ("b7", "zendesk", "tickets", "s7", t0, t0),  # not seen
    ]
    for batch, source, entity, sha, mtime, delivered in landed:
        con.execute(
            "insert into ops.ingest_files (batch_id, source, entity, source_file, file_sha256, "
            "rows_read, rows_landed, rows_quarantined, rows_duplicate, loaded_at, file_mtime, "
            "last_delivered_at) values (?, ?, ?, 'f', ?, 0, 0, 0, 0, ?, ?, ?)",
            [batch, source, entity, sha, t0 - timedelta(days=3), mtime, delivered],
        )
    t1, t2 = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
    before = datetime.now(UTC).replace(tzinfo=None)
    seen = [("s1", t1), ("s2", t0), ("s3", t1), ("s4", t1), ("s4", t2), ("s9", t1)]
    changed = note_redeliveries(con, "zendesk", "tickets", seen)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "select batch_id, file_mtime, last_delivered_at >= ?, last_delivered_at "
            "from ops.ingest_files",
            [before],
        ).fetchall()
    }
    assert changed == 4  # s1, s3, and s4 twice
    assert rows["b1"][:2] == (t1, True)
    assert rows["b2"] == (t0, False, t0)
    assert rows["b3"] == (t1, False, t0 - timedelta(days=3))
    assert rows["b4"][:2] == (t2, True)
    assert rows["b5"] == (t0, False, t0) and rows["b6"] == (t0, False, t0)
    assert rows["b7"] == (t0, False, t0)
    again = [("s1", t1), ("s2", t0), ("s3", t1), ("s4", t2)]  # as last seen: no delivery
    assert note_redeliveries(con, "zendesk", "tickets", again) == 0
