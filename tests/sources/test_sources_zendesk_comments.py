"""Zendesk per-ticket comments (GET /api/v2/tickets/{id}/comments.json saved one page a file)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.errors import SourceError
from cxloop.flows.ingest import ingest as ingest_sources
from cxloop.settings import Settings
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest, resolve_run
from cxloop.sources.landing import LandResult

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk_comments"
Query = Callable[..., list[tuple]]


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    target = tmp_path / "sources"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture
def run(sources: Path, warehouse: Path, lake: Path) -> IngestRun:
    return resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=lake)


def _land_comments(run: IngestRun) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == "zendesk.ticket_comments")
    return ingest_entity(run, job)


def _comments_dir(sources: Path) -> Path:
    return sources / "zendesk" / "ticket_comments"


def test_pages_land_by_ticket_then_page_with_the_ticket_id_from_the_file_name(
    run: IngestRun, query: Query
) -> None:
    results = _land_comments(run)
    assert [(r.source_file.rsplit("/", 1)[1], r.rows_landed) for r in results] == [
        ("ticket_2001_comments.json", 3),
        ("ticket_2001_comments_page2.json", 2),
        ("ticket_2002_comments.json", 3),  # the cursor envelope (meta.has_more, links.next)
        ("ticket_2003_comments.json", 3),
    ]
    rows = query(
        "select ticket_id, id, type, public, audit_id, _row_number "
        "from raw.zendesk__ticket_comments where ticket_id = '2002' order by _row_number"
    )
    assert rows == [
        ("2002", "840001", "Comment", "true", "830001", 1),
        ("2002", "840002", "VoiceComment", "true", "830002", 2),
        ("2002", "840003", "Comment", "false", "830004", 3),
    ]
    [(attachments, data)] = query(
        "select attachments, data from raw.zendesk__ticket_comments where id = '840002'"
    )
    assert json.loads(attachments) == [] and json.loads(data)["call_duration"] == 240
    [(attachments,)] = query(
        "select attachments from raw.zendesk__ticket_comments where id = '810005'"
    )
    assert json.loads(attachments)[0]["file_name"] == "invoice-2024-04.pdf"


def test_a_second_run_lands_nothing(run: IngestRun) -> None:
    _land_comments(run)
    assert all(r.skipped for r in _land_comments(run))


def test_a_file_name_without_a_numeric_ticket_id_is_an_error_and_nothing_else_is_lost(
    sources: Path, warehouse: Path, lake: Path, query: Query, prefect_harness: None
) -> None:
    shutil.copy(
        _comments_dir(sources) / "ticket_2002_comments.json",
        _comments_dir(sources) / "ticket_ABC-12_comments.json",
    )
    with pytest.raises(SourceError) as err:
        ingest_sources(sources, warehouse=warehouse, lake_dir=lake)
    assert str(err.value) == (
        "zendesk/ticket_comments/ticket_ABC-12_comments.json: the file name gives no numeric "
        "ticket id (expected a per-ticket comments page named ticket_<id>_comments.json, "
        "later pages ticket_<id>_comments_page<n>.json)"
    )
    # the entities before it landed; no comment file landed half
    assert query("select count(*) from raw.zendesk__tickets") == [(5,)]
    assert query(
        "select count(*) from duckdb_tables() where table_name = 'zendesk__ticket_comments'"
    ) == [(0,)]
    assert query("select count(*) from ops.ingest_files where entity = 'ticket_comments'") == [(0,)]


@pytest.mark.parametrize(
    "body",
    [
        '{"ticket_comments": [], "next_page": null, "previous_page": null, "count": 0}',
        '[{"id": 1, "type": "Comment", "public": true}]',
    ],
)
def test_a_page_without_the_comments_envelope_is_an_error(
    run: IngestRun, sources: Path, body: str
) -> None:
    (_comments_dir(sources) / "ticket_2002_comments.json").write_text(body)
    with pytest.raises(SourceError) as err:
        _land_comments(run)
    assert str(err.value).startswith(
        "zendesk/ticket_comments/ticket_2002_comments.json, field 'comments': "
        "no 'comments' array in the page (expected an envelope like"
    )


def test_bad_comments_are_quarantined_with_row_and_field(
    run: IngestRun, sources: Path, query: Query
) -> None:
    page = _comments_dir(sources) / "ticket_2003_comments.json"
    body = json.loads(page.read_text())
    body["comments"][1]["created_at"] = "2024-04-04 15:20"
    body["comments"][2]["ticket_id"] = 2004
    page.write_text(json.dumps(body))
    results = _land_comments(run)
    assert [(r.rows_read, r.rows_landed, r.rows_quarantined) for r in results][-1] == (3, 1, 2)
    assert query("select row_number, field, reason from ops.quarantine order by row_number") == [
        (
            2,
            "created_at",
            "created_at: '2024-04-04 15:20' is not an ISO datetime like 2024-03-01T09:15:02Z",
        ),
        (3, "ticket_id", "ticket_id: '2004' is not the ticket 2003 the file name gives"),
    ]
    [(original,)] = query("select original from ops.quarantine where row_number = 3")
    assert json.loads(original)["id"] == 860021
