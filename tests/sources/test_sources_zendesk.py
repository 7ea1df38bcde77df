"""Zendesk export pages: envelopes, nested JSON, page-boundary duplicates, re-appearing tickets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.errors import SourceError
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest
from cxloop.sources.landing import LandResult

Query = Callable[..., list[tuple]]


def _land(run: IngestRun, entity: str) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == f"zendesk.{entity}")
    return ingest_entity(run, job)


def _counts(result: LandResult) -> tuple[int, int, int, int]:
    return (result.rows_read, result.rows_landed, result.rows_quarantined, result.rows_duplicate)


def test_ticket_pages_land_in_file_order_with_nested_json_as_text(
    run: IngestRun, query: Query
) -> None:
    first, second = _land(run, "tickets")
    assert (first.source_file, second.source_file) == (
        "zendesk/tickets/page-001.json",
        "zendesk/tickets/page-002.json",
    )
    rows = query(
        "select id, requester_id, external_id, tags, custom_fields, via, _row_number "
        "from raw.zendesk__tickets where _batch_id = ? order by _row_number",
        [first.batch_id],
    )
    assert [(r[0], r[1], r[2], r[6]) for r in rows] == [
        ("1001", "501", None, 1),
        ("1002", "502", "SF-CASE-77", 2),
    ]
    assert json.loads(rows[0][3]) == ["refund", "vip"]
    assert json.loads(rows[1][4]) == [{"id": 360001, "value": ["billing", "invoice"]}]
    assert json.loads(rows[0][5])["source"]["from"]["address"] == "anna.schmidt@acme.example.com"
    assert query("select subject from raw.zendesk__tickets where id = '1002'") == [
        ("خطأ في الفاتورة",)
    ]


def test_a_ticket_that_reappears_with_a_later_update_lands_again(
    run: IngestRun, query: Query
) -> None:
    first, second = _land(run, "tickets")
    assert _counts(first) == (3, 2, 1, 0)
    assert _counts(second) == (2, 1, 1, 0)
    assert query(
        "select updated_at, status from raw.zendesk__tickets where id = '1001' order by updated_at"
    ) == [("2024-03-01T10:00:40Z", "open"), ("2024-03-04T08:00:00Z", "solved")]


def test_null_ids_and_bad_datetimes_are_quarantined(run: IngestRun, query: Query) -> None:
    _land(run, "tickets")
    rows = query(
        "select source_file, row_number, field, reason, original from ops.quarantine "
        "order by source_file"
    )
    assert [r[:4] for r in rows] == [
        ("zendesk/tickets/page-001.json", 3, "id", "id: is required but empty"),
        (
            "zendesk/tickets/page-002.json",
            2,
            "created_at",
            "created_at: '2024-03-04 09:00:00' is not an ISO datetime like 2024-03-01T09:15:02Z",
        ),
    ]
    assert json.loads(rows[0][4])["subject"] == "Ghost"


def test_the_record_repeated_at_a_time_based_page_boundary_is_a_duplicate(
    run: IngestRun, query: Query
) -> None:
    first, second = _land(run, "users")
    assert _counts(first) == (2, 2, 0, 0)
    assert _counts(second) == (2, 0, 1, 1)
    assert query("select id from raw.zendesk__users order by id") == [("501",), ("502",)]
    assert query("select reason from ops.quarantine") == [
        ("active: 'yes' is not a boolean (true/false or 1/0)",)
    ]


def test_satisfaction_ratings_and_ticket_events_land(run: IngestRun, query: Query) -> None:
    [ratings] = _land(run, "satisfaction_ratings")
    [events] = _land(run, "ticket_events")
    assert _counts(ratings) == (3, 2, 1, 0)
    assert _counts(events) == (3, 2, 1, 0)
    assert query("select ticket_id, score from raw.zendesk__satisfaction_ratings order by id") == [
        ("1002", "good"),
        ("1001", "bad"),
    ]
    [(children,)] = query("select child_events from raw.zendesk__ticket_events where id = '70001'")
    assert [c["event_type"] for c in json.loads(children)] == ["Comment", "Create"]


def test_a_page_without_its_envelope_key_is_an_error(run: IngestRun, query: Query) -> None:
    Path(run.sources_dir, "zendesk/organizations/page-002.json").write_text(
        '{"results": [], "end_of_stream": true}'
    )
    with pytest.raises(SourceError) as err:
        _land(run, "organizations")
    assert str(err.value) == (
        "zendesk/organizations/page-002.json, field 'organizations': no 'organizations' array "
        'in the page (expected an envelope like {"organizations": [...], "end_of_stream": ...})'
    )
    assert query("select count(*) from ops.ingest_files") == [(0,)]


def test_a_page_that_is_not_json_is_an_error(run: IngestRun) -> None:
    Path(run.sources_dir, "zendesk/users/page-003.json").write_text('{"users": [\n  {"id": 1,}\n]}')
    with pytest.raises(SourceError, match=r"zendesk/users/page-003.json, row 2: not valid JSON"):
        _land(run, "users")


def test_nan_is_not_json_and_never_lands_as_text(run: IngestRun, query) -> None:
    Path(run.sources_dir, "zendesk/users/page-003.json").write_text(
        '{"users": [{"id": 9, "phone": NaN}], "end_of_stream": true}'
    )
    with pytest.raises(SourceError, match=r"page-003.json: not valid JSON: 'NaN' is not a JSON"):
        _land(run, "users")
    assert query("select count(*) from ops.ingest_files where entity = 'users'") == [(0,)]
