"""dbt test results and source freshness in ops.quality_results; stale sources close the gate."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from cxloop.build import run_dbt_build
from cxloop.dbt import BuildError
from cxloop.quality import StaleSourcesError, check_freshness, enforce_freshness


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def warehouse_copy(built_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "cx.duckdb"
    shutil.copy(built_home / "warehouse" / "cx.duckdb", copy)
    return copy


def test_build_records_every_dbt_test_as_a_row(built_home: Path) -> None:
    recorded = rows(
        built_home / "warehouse" / "cx.duckdb",
        "select dataset, check_name, severity, success from ops.quality_results "
        "where stage = 'dbt'",
    )
    names = {r[1] for r in recorded}
    assert len(recorded) > 50 and all(r[3] for r in recorded)
    assert "unique_mart_account_health_account_id" in names
    assert any(r[0].endswith("mart_nps") and r[1].startswith("unique_") for r in recorded)
    assert {r[2] for r in recorded} <= {"critical", "warning"}


def test_a_failing_dbt_test_is_recorded_and_named(warehouse_copy: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(warehouse_copy))
    con.execute("insert into marts.mart_topics select * from marts.mart_topics limit 1")
    con.close()
    with pytest.raises(BuildError, match="unique_mart_topics"):
        run_dbt_build(
            ["test", "--select", "mart_topics"], warehouse_copy, tmp_path, None, "test-run"
        ).report()
    failed = rows(
        warehouse_copy,
        "select check_name, unexpected_count, details->>'message' from ops.quality_results "
        "where stage = 'dbt' and not success",
    )
    assert [r[0] for r in failed] == ["unique_mart_topics_cast_month_start_date_as_varchar_topic"]
    assert failed[0][1] == 1


def test_stale_sources_are_named_and_recorded(warehouse_copy: Path, tmp_path: Path) -> None:
    """The sample raw layer was landed 2025-07-01: every non-empty source is past 7 days."""
    con = duckdb.connect(str(warehouse_copy))
    con.execute("update raw.salesforce__account set _loaded_at = now()::timestamp")
    con.execute("delete from raw.zendesk__users")  # empty: a system not landed yet
    con.close()
    results = check_freshness(warehouse_copy, tmp_path, "run-1")
    status = {r.source: r.status for r in results}
    assert status["salesforce.account"] == "pass"
    assert status["zendesk.users"] == "empty"
    assert status["zendesk.tickets"] == "error"
    with pytest.raises(StaleSourcesError, match=r"zendesk\.tickets \(newest delivery 2025-07-01"):
        enforce_freshness(results)
    recorded = rows(
        warehouse_copy,
        "select dataset, success, severity from ops.quality_results where stage = 'freshness' "
        "and run_id = 'run-1' order by dataset",
    )
    assert len(recorded) == len(results)
    assert ("raw.salesforce__account", True, "warning") in recorded
    assert ("raw.zendesk__tickets", False, "critical") in recorded


def test_fresh_sources_pass(warehouse_copy: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(warehouse_copy))
    for (table,) in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw'"
    ).fetchall():
        con.execute(f'update raw."{table}" set _loaded_at = now()::timestamp - interval 1 hour')
    con.close()
    results = check_freshness(warehouse_copy, tmp_path, "run-2")
    raw = [r for r in results if r.relation.startswith("raw.")]
    assert raw and all(r.status in {"pass", "empty"} for r in raw)
    assert not any(r.is_stale for r in results)
    enforce_freshness(results)  # no error
