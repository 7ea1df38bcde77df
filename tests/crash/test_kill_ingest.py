"""kill -9 during ingest: no partial batch, and the next run completes what was left.

A batch (one file) is in raw, ops.quarantine and ops.ingest_files together or not at all; its
Parquet copy in the lake is either there with the rows raw has, or (killed between the commit
and the rename) still `<batch>.parquet.tmp`, which the next run renames
(cxloop/sources/recovery.py).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from crashkit import KILLED, kill_after, run_child, start_child

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    target = tmp_path / "sources"
    shutil.copytree(FIXTURES, target)
    return target


def ingest(sources: Path, warehouse: Path, lake: Path, kill_at: str | None = None):
    return run_child("ingest", str(sources), str(warehouse), str(lake), kill_at=kill_at)


def state(warehouse: Path, lake: Path, *, after_kill: bool) -> dict[str, tuple[int, ...]]:
    """Every batch's counts, after checking that raw, quarantine, files and lake agree."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = {
            r[0]: r[1:]
            for r in con.execute(
                "select batch_id, source, entity, rows_read, rows_landed, rows_quarantined, "
                "rows_duplicate, rows_erased from ops.ingest_files"
            ).fetchall()
        }
        raw: dict[str, int] = {}
        for (table,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'raw'"
        ).fetchall():
            for batch_id, n in con.execute(
                f'select _batch_id, count(*) from raw."{table}" group by 1'
            ).fetchall():
                raw[batch_id] = n
        quarantined = dict(
            con.execute("select batch_id, count(*) from ops.quarantine group by 1").fetchall()
        )
    finally:
        con.close()
    parquet = {p.name.removesuffix(".parquet"): p for p in lake.rglob("*.parquet")}
    tmp = {p.name.removesuffix(".parquet.tmp") for p in lake.rglob("*.parquet.tmp")}
    for batch_id, (_, _, read, landed, quarantine, duplicate, erased) in files.items():
        assert read == landed + quarantine + duplicate + erased, batch_id
        assert raw.get(batch_id, 0) == landed, batch_id
        assert quarantined.get(batch_id, 0) == quarantine, batch_id
        if landed and batch_id in parquet:
            assert pq.read_metadata(parquet[batch_id]).num_rows == landed, batch_id
        elif landed:  # committed, killed before the rename: only allowed right after a kill
            assert after_kill and batch_id in tmp, f"{batch_id}: no Parquet copy"
    assert set(raw) <= set(files), "raw rows of a batch that never committed"
    assert set(quarantined) <= set(files), "quarantined rows of a batch that never committed"
    assert set(parquet) <= set(files), "a Parquet file of a batch that never committed"
    if not after_kill:
        assert not tmp, f"temporary Parquet files left: {tmp}"
    return files


@pytest.fixture
def reference(tmp_path: Path, sources: Path) -> dict[str, tuple[int, ...]]:
    """The batches of one uninterrupted run."""
    warehouse, lake = tmp_path / "ref" / "cx.duckdb", tmp_path / "ref" / "lake"
    assert ingest(sources, warehouse, lake).returncode == 0
    return state(warehouse, lake, after_kill=False)


KILL_POINTS = [
    "cxloop.sources.landing:_append_raw:after:2",  # raw appended, not committed
    "cxloop.sources.landing:_write_parquet_tmp:after:3",  # Parquet tmp written, not committed
    "cxloop.sources.landing:_insert_file_rows:after:2",  # files recorded, commit not yet run
    "cxloop.sources.landing:os.replace:before:2",  # committed, Parquet not renamed
    "cxloop.sources.landing:os.replace:after:5",  # a batch complete, the next not started
]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_kill_at_a_seeded_point_then_the_next_run_completes(
    tmp_path, sources, reference, kill_at
) -> None:
    warehouse, lake = tmp_path / "cx.duckdb", tmp_path / "lake"
    killed = ingest(sources, warehouse, lake, kill_at)
    assert killed.returncode == KILLED, killed.stderr[-3000:]
    partial = state(warehouse, lake, after_kill=True)
    assert len(partial) < len(reference)
    if "os.replace:before" in kill_at:
        assert list(lake.rglob("*.parquet.tmp")), "the kill should leave a committed tmp"
    rerun = ingest(sources, warehouse, lake)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert state(warehouse, lake, after_kill=False) == reference
    again = ingest(sources, warehouse, lake)  # a third run adds nothing
    assert sum(c["landed"] for c in again.result.values()) == 0


def test_kills_at_random_moments_then_a_normal_run(tmp_path, sources, reference) -> None:
    warehouse, lake = tmp_path / "cx.duckdb", tmp_path / "lake"
    rng = random.Random(7)
    for _ in range(4):
        proc = start_child("ingest", str(sources), str(warehouse), str(lake))
        run = kill_after(proc, rng.uniform(1.0, 4.0))
        assert run.returncode in (0, KILLED), run.stderr[-3000:]
        state(warehouse, lake, after_kill=True)
    assert ingest(sources, warehouse, lake).returncode == 0
    assert state(warehouse, lake, after_kill=False) == reference
