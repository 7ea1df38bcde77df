"""Source freshness follows deliveries: an unchanged nightly export keeps a source fresh, a file
left lying in the folder does not (ops.ingest_files.last_delivered_at, macros/freshness.sql)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from cxloop.config import load_config
from cxloop.dbt import dbt_vars
from cxloop.quality import StaleSourcesError, check_freshness, enforce_freshness

Query = Callable[..., list[tuple]]

TEN_DAYS_AGO = "now()::timestamp - interval 10 day"


def age_everything(warehouse: Path) -> None:
    """Pretend every file and row arrived ten days ago."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            f"update ops.ingest_files set loaded_at = {TEN_DAYS_AGO}, "
            f"last_delivered_at = {TEN_DAYS_AGO}"
        )
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw'"
        ).fetchall():
            con.execute(f'update raw."{table}" set _loaded_at = {TEN_DAYS_AGO}')
    finally:
        con.close()


def delivered_days_ago(query: Query, entity: str) -> list[int]:
    return [
        r[0]
        for r in query(
            "select date_diff('day', last_delivered_at, now()::timestamp) from ops.ingest_files "
            "where source || '__' || entity = ? order by source_file",
            [entity],
        )
    ]


def redeliver(path: Path) -> None:
    """The same bytes written again by tonight's export: only the modification time moves."""
    later = time.time() + 60
    os.utime(path, (later, later))


def test_an_unchanged_redelivery_refreshes_only_its_entity(
    ingest: Callable[[], dict], sources: Path, query: Query, warehouse: Path
) -> None:
    ingest()
    assert query("select count(*) from ops.ingest_files where last_delivered_at is null") == [(0,)]
    age_everything(warehouse)
    report = ingest()  # the same files, untouched: no delivery
    assert report["totals"]["landed"] == 0
    assert delivered_days_ago(query, "salesforce__user") == [10]

    redeliver(sources / "salesforce" / "User.csv")
    report = ingest()
    assert (
        report["totals"]["landed"] == 0
        and report["entities"]["salesforce.user"]["skipped_files"] == 1
    )
    assert delivered_days_ago(query, "salesforce__user") == [0]
    assert delivered_days_ago(query, "salesforce__account") == [10]
    ingest()  # seen again, same modification time: not another delivery
    assert delivered_days_ago(query, "salesforce__user") == [0]


def test_freshness_uses_deliveries_and_the_configured_hours(
    ingest: Callable[[], dict], sources: Path, warehouse: Path, tmp_path: Path
) -> None:
    ingest()
    age_everything(warehouse)
    redeliver(sources / "salesforce" / "User.csv")
    ingest()
    con = duckdb.connect(str(warehouse))
    con.execute("drop table raw.zendesk__users")  # as if nothing had landed from it yet
    con.execute("delete from ops.ingest_files where source = 'zendesk' and entity = 'users'")
    con.close()

    config = load_config(sources / "cxloop.yaml")
    results = check_freshness(warehouse, tmp_path, "run-1", dbt_vars(config))
    status = {r.source: r.status for r in results}
    assert status["salesforce.user"] == "pass"  # re-delivered, no new rows
    assert status["salesforce.account"] == "error"  # the same old file, 10 days
    assert status["zendesk.tickets"] == "error"
    assert status["qualtrics.responses"] == "error"
    assert status["zendesk.users"] == "empty"  # created empty, not a failed query
    assert status["sendgrid.events"] == "empty"  # events are landed by the webhook receiver
    with pytest.raises(StaleSourcesError, match=r"salesforce\.account \(newest delivery "):
        enforce_freshness(results)

    # 15 days allowed for Salesforce in cxloop.yaml: ten days old is a warning, not stale
    config.sources["salesforce"].freshness_hours = 15 * 24
    results = check_freshness(warehouse, tmp_path, "run-2", dbt_vars(config))
    status = {r.source: r.status for r in results}
    assert status["salesforce.account"] == "warn"
    assert status["zendesk.tickets"] == "error"
