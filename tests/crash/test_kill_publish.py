"""kill -9 during publish: the previous snapshot stays whole and readable, the next run finishes.

Version 1 of the marts is published; the marts then change (version 2) and publish is killed.
At every moment `bi/cx.duckdb` is one whole version and `bi/parquet/` one whole version (they
may differ from each other for the instant between their two renames, docs/bi.md).
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest
from crashkit import KILLED, kill_after, run_child, start_child
from gate_state import mark_checked

V1 = {"marts.mart_nps": 3, "marts.dim_accounts": 2}
V2 = {"marts.mart_nps": 5, "marts.dim_accounts": 4}


def write_marts(warehouse: Path, counts: dict[str, int]) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists marts")
    con.execute(
        "create or replace table marts.mart_nps as select range as date_day, "
        f"'all' as segment_type, 10 * range as nps from range({counts['marts.mart_nps']})"
    )
    con.execute(
        "create or replace table marts.dim_accounts as select 'A' || range as account_id, "
        f"'Account ' || range as account_name from range({counts['marts.dim_accounts']})"
    )
    con.close()
    mark_checked(warehouse)  # each version of the marts passed its check (the gate opens)


def published(bi_dir: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per table in the DuckDB snapshot and in the Parquet folder, read as a BI tool would."""
    con = duckdb.connect(str(bi_dir / "cx.duckdb"), read_only=True)
    try:
        in_duckdb = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in V1}
    finally:
        con.close()
    files = sorted((bi_dir / "parquet").glob("*.parquet"))
    reader = duckdb.connect()
    in_parquet = {
        p.name.removesuffix(".parquet"): reader.execute(
            "select count(*) from read_parquet(?)", [str(p)]
        ).fetchone()[0]
        for p in files
    }
    reader.close()
    return in_duckdb, in_parquet


def assert_whole(bi_dir: Path) -> None:
    in_duckdb, in_parquet = published(bi_dir)
    assert in_duckdb in (V1, V2), in_duckdb
    assert in_parquet in (V1, V2), in_parquet


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    warehouse, bi_dir = tmp_path / "cx.duckdb", tmp_path / "bi"
    write_marts(warehouse, V1)
    assert run_child("publish", str(warehouse), str(bi_dir)).returncode == 0
    assert published(bi_dir) == (V1, V1)
    write_marts(warehouse, V2)
    return warehouse, bi_dir


KILL_POINTS = [
    # while the new DuckDB file is being written
    ("cxloop.publish:select_masked:after:2", (V1, V1)),
    # DuckDB snapshot replaced, Parquet not yet
    ("cxloop.publish:swap_parquet:before", (V2, V1)),
    # new Parquet version moved into place, link not yet switched
    ("cxloop.publish:os.replace:after:2", (V2, V1)),
    # link switched, old versions not yet removed
    ("cxloop.publish:os.replace:after:3", (V2, V2)),
]


@pytest.mark.parametrize(("kill_at", "expected"), KILL_POINTS)
def test_kill_at_a_seeded_point_leaves_a_whole_snapshot(paths, kill_at, expected) -> None:
    warehouse, bi_dir = paths
    killed = run_child("publish", str(warehouse), str(bi_dir), kill_at=kill_at)
    assert killed.returncode == KILLED, killed.stderr[-3000:]
    assert published(bi_dir) == expected
    assert run_child("publish", str(warehouse), str(bi_dir)).returncode == 0
    assert published(bi_dir) == (V2, V2)
    versions = sorted(p.name for p in bi_dir.glob("parquet-*"))
    assert len(versions) <= 2, versions  # the current one and the one it replaced
    assert not list(bi_dir.glob("*.tmp")), "temporary files left after a normal run"


def test_kills_at_random_moments(paths) -> None:
    warehouse, bi_dir = paths
    rng = random.Random(3)
    for _ in range(4):
        proc = start_child("publish", str(warehouse), str(bi_dir))
        run = kill_after(proc, rng.uniform(0.1, 0.6))  # a whole run takes ~0.4 s
        assert run.returncode in (0, KILLED), run.stderr[-3000:]
        assert_whole(bi_dir)
    assert run_child("publish", str(warehouse), str(bi_dir)).returncode == 0
    assert published(bi_dir) == (V2, V2)


def test_the_folder_of_an_older_layout_becomes_the_link(tmp_path: Path) -> None:
    """bi/parquet as a plain folder (before the link) is replaced, its files kept until next."""
    warehouse, bi_dir = tmp_path / "cx.duckdb", tmp_path / "bi"
    write_marts(warehouse, V1)
    (bi_dir / "parquet").mkdir(parents=True)
    (bi_dir / "parquet" / "marts.old_table.parquet").write_bytes(b"PAR1")
    assert run_child("publish", str(warehouse), str(bi_dir)).returncode == 0
    assert (bi_dir / "parquet").is_symlink()
    assert published(bi_dir) == (V1, V1)
