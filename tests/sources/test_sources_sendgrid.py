"""SendGrid Event Webhook batches: both category forms, re-deliveries, bad events, extra keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.errors import SourceError
from cxloop.settings import Settings
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest, resolve_run
from cxloop.sources.landing import LandResult

Query = Callable[..., list[tuple]]


def add_sendgrid_source(sources: Path) -> None:
    """Declare the fixture's sendgrid folder in the copied cxloop.yaml."""
    config = sources / "cxloop.yaml"
    config.write_text(config.read_text() + "  sendgrid:\n    kind: sendgrid\n    path: sendgrid\n")


@pytest.fixture
def sg_run(sources: Path, warehouse: Path, lake: Path) -> IngestRun:
    add_sendgrid_source(sources)
    return resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=lake)


def _land(run: IngestRun) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == "sendgrid.events")
    return ingest_entity(run, job)


def _counts(r: LandResult) -> tuple[int, int, int, int]:
    return (r.rows_read, r.rows_landed, r.rows_quarantined, r.rows_duplicate)


def test_batches_land_in_file_order_with_keys_as_sent(sg_run: IngestRun, query: Query) -> None:
    first, second = _land(sg_run)
    assert first.source_file == "sendgrid/events/batch-20240605T150000Z.json"
    assert _counts(first) == (6, 4, 2, 0)
    # the identical re-delivery of 'delivered' is a duplicate; 'processed' differs (no pool)
    assert _counts(second) == (9, 8, 0, 1)
    rows = query(
        'select "smtp-id", category, cxloop_action_id, "timestamp", x_unknown_future_field, '
        "url_offset from raw.sendgrid__events where sg_event_id = 'kCAi1KttyQdEKHhdC-nuEA=='"
    )
    assert rows == [
        (
            "<msg0002.1@ismtpd-1>",
            None,
            "fed440e4-5bca-5924-956c-1b80b23ccae2",
            "1717600300",
            "kept",
            '{"index":0,"type":"html"}',
        )
    ]
    categories = query(
        "select sg_event_id, category from raw.sendgrid__events where category is not null "
        "order by _batch_id, _row_number"
    )
    assert json.loads(categories[0][1]) == ["detractor_followup", "wave3"]
    assert categories[1][1] == "detractor_followup"


def test_bad_events_are_quarantined_with_row_and_field(sg_run: IngestRun, query: Query) -> None:
    _land(sg_run)
    rows = query(
        "select row_number, field, reason from ops.quarantine where source = 'sendgrid' "
        "order by row_number"
    )
    assert rows[0][:2] == (5, "timestamp")
    assert "'yesterday' is not Unix epoch seconds" in rows[0][2]
    assert rows[1][0] == 6 and "is not a JSON object" in rows[1][2]


def test_a_rerun_lands_nothing(sg_run: IngestRun, query: Query) -> None:
    _land(sg_run)
    again = _land(sg_run)
    assert all(r.skipped for r in again)
    assert query("select count(*) from raw.sendgrid__events") == [(12,)]


def test_a_body_that_is_not_an_array_names_the_file(sg_run: IngestRun, sources: Path) -> None:
    (sources / "sendgrid" / "events" / "batch-zz.json").write_text('{"event": "open"}')
    with pytest.raises(SourceError, match=r"batch-zz\.json: the body is a JSON dict"):
        _land(sg_run)


def test_broken_json_names_file_and_line(sg_run: IngestRun, sources: Path) -> None:
    (sources / "sendgrid" / "events" / "batch-zz.json").write_text('[\n{"event": "open",}\n]')
    with pytest.raises(SourceError, match=r"batch-zz\.json, row 2: not valid JSON"):
        _land(sg_run)
