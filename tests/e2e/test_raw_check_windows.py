"""The pipeline's raw checks read only what landed since they last passed (docs/quality.md)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cxloop.demo.generator import generate
from cxloop.flows.pipeline import pipeline
from cxloop.settings import Settings

TICKETS = "raw.zendesk__tickets"


def validated_rows(warehouse: Path, run_id: str, dataset: str) -> set[int]:
    """The row counts the raw check of one pipeline run saw for a dataset (one per check)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select distinct r.element_count from ops.quality_results as r "
            "where r.stage = 'raw' and r.dataset = ? and r.element_count is not null "
            "and r.checked_at >= (select started_at from ops.pipeline_runs where run_id = ?)",
            [dataset, run_id],
        ).fetchall()
    finally:
        con.close()
    return {n for (n,) in rows}


def test_a_new_delivery_is_validated_alone_after_a_passing_run(
    tmp_path: Path, cx_home: Path, prefect_harness: None
) -> None:
    sources, held = tmp_path / "sources", tmp_path / "held"
    generate(sources, scale=0.02, seed=5)
    newest = sorted((sources / "zendesk" / "tickets").glob("*.json"))[-1]
    held.mkdir()
    shutil.move(newest, held / newest.name)
    warehouse = Settings().paths.warehouse

    first = pipeline(str(sources), now=datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert first["status"] == "ok"
    assert "landed_after" not in first["check_raw"]  # nothing checked before: read whole
    before = first["ingest"]["entities"]["zendesk.tickets"]["landed"]
    assert validated_rows(warehouse, first["run_id"], TICKETS) == {before}

    shutil.move(held / newest.name, newest)  # the next delivery
    second = pipeline(str(sources), now=datetime(2026, 11, 2, 13, tzinfo=UTC))
    assert second["status"] == "ok"
    new = second["ingest"]["entities"]["zendesk.tickets"]["landed"]
    assert 0 < new < before
    assert TICKETS in second["check_raw"]["landed_after"]
    assert validated_rows(warehouse, second["run_id"], TICKETS) == {new}  # only the new rows
