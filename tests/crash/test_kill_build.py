"""kill -9 during a dbt build: the warehouse stays consistent and the next build succeeds.

dbt-duckdb builds each table under a temporary name and swaps it in within one transaction, and
DuckDB replays only committed transactions from its WAL, so after a kill at any moment every
mart is whole: here, the same rows as the build before (same raw layer, same day).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from crashkit import KILLED, kill_after, run_child, start_child

TABLES = (
    "marts.dim_accounts",
    "marts.dim_customers",
    "marts.fct_survey_responses",
    "marts.fct_tickets",
    "marts.mart_nps",
    "marts.mart_ticket_kpis",
    "ml.account_snapshots",
)


def fingerprint(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Rows and an order-free hash of every row, per table; opened as a reader would."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            table: con.execute(f"select count(*), bit_xor(hash(t)) from {table} t").fetchone()
            for table in TABLES
        }
    finally:
        con.close()


def dbt_leftovers(warehouse: Path) -> list[str]:
    """Relations dbt builds under a temporary name (`__dbt_tmp`, `__dbt_backup`)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select table_name from duckdb_tables() union all "
            "select view_name from duckdb_views() where not internal"
        ).fetchall()
    finally:
        con.close()
    return sorted(name for (name,) in rows if "__dbt_" in name)


def build(warehouse: Path, home: Path, kill_after_seconds: float | None = None):
    if kill_after_seconds is None:
        return run_child("build", str(warehouse), str(home))
    return kill_after(start_child("build", str(warehouse), str(home)), kill_after_seconds)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path, dict]:
    warehouse, home = tmp_path / "cx.duckdb", tmp_path / "home"
    subprocess.run(
        [sys.executable, "-m", "cxloop.demo.sample_raw", str(warehouse), "--accounts", "10"],
        check=True,
        capture_output=True,
    )
    first = build(warehouse, home)
    assert first.returncode == 0, first.stderr[-3000:]
    return warehouse, home, fingerprint(warehouse)


def test_kills_during_a_build_leave_whole_marts(built) -> None:
    warehouse, home, reference = built
    assert all(rows for rows, _ in reference.values())
    assert dbt_leftovers(warehouse) == []
    killed = 0
    for seconds in (4.0, 7.0, 10.0):  # start-up and parse, staging, intermediate and marts
        run = build(warehouse, home, seconds)
        assert run.returncode in (0, KILLED), run.stderr[-3000:]
        killed += run.returncode == KILLED
        assert fingerprint(warehouse) == reference  # every mart whole, none half-replaced
    assert killed
    final = build(warehouse, home)
    assert final.returncode == 0, final.stderr[-3000:]
    assert final.result.get("error", 0) == 0
    assert fingerprint(warehouse) == reference
    assert dbt_leftovers(warehouse) == []
