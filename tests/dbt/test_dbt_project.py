"""dbt build (models, data tests, unit tests) through prefect-dbt on a small raw layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cxloop.build import run_dbt_build
from cxloop.dbt import BuildError

SAMPLE = ("-m", "cxloop.demo.sample_raw")  # the sample raw layer dbt tests build on


def count(warehouse: Path, table: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


def test_build_on_a_sample_raw_layer(tmp_path: Path) -> None:
    warehouse = tmp_path / "cx.duckdb"
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "60"], check=True)
    report = run_dbt_build(["build"], warehouse, tmp_path, None, "test-run").report()
    assert report["success"] and not report["failures"]
    assert report["counts"].get("pass", 0) > 50  # data tests and unit tests ran and passed
    for table in (
        "marts.dim_accounts",
        "marts.fct_survey_responses",
        "marts.mart_nps",
        "ml.account_snapshots",
    ):
        assert count(warehouse, table) > 0, table
    # The marts agree with a direct computation of NPS over all responses.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        direct = con.execute(
            "select 100.0 * (count(*) filter (where nps_score >= 9) "
            "- count(*) filter (where nps_score <= 6)) / count(nps_score) "
            "from marts.fct_survey_responses"
        ).fetchone()[0]
        mart = con.execute(
            "select 100.0 * (sum(promoters) - sum(detractors)) / sum(responses) "
            "from marts.mart_nps where segment_type = 'all'"
        ).fetchone()[0]
    finally:
        con.close()
    assert mart == pytest.approx(direct)


def test_build_for_a_company_without_zendesk(tmp_path: Path) -> None:
    """A missing system gets empty raw tables: the build and its data tests still pass."""
    warehouse = tmp_path / "cx.duckdb"
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "20"], check=True)
    con = duckdb.connect(str(warehouse))
    for (table,) in con.execute(
        "select table_name from duckdb_tables() where table_name like 'zendesk__%'"
    ).fetchall():
        con.execute(f'drop table raw."{table}"')
    con.close()
    report = run_dbt_build(
        ["build", "--exclude-resource-type", "unit_test"], warehouse, tmp_path, None, "test-run"
    ).report()
    assert report["success"]
    assert count(warehouse, "marts.fct_tickets") == 0
    assert count(warehouse, "marts.dim_customers") > 0


def test_a_failing_data_test_stops_the_build_and_names_it(tmp_path: Path) -> None:
    warehouse = tmp_path / "cx.duckdb"
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "10"], check=True)
    con = duckdb.connect(str(warehouse))
    con.execute('update raw.salesforce__account set "Id" = null where rowid = 0')
    con.close()
    with pytest.raises(BuildError, match=r"not_null_stg_salesforce__accounts_account_id"):
        run_dbt_build(
            ["build", "--exclude-resource-type", "unit_test"], warehouse, tmp_path, None, "test-run"
        ).report()
