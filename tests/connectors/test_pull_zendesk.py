"""The Zendesk connector against a local Zendesk API (zendesk_api.py), page by page."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pullkit import ingest_raw, write_config, zendesk_source
from vendor_http import VendorServer
from zendesk_api import ZendeskApp, records_of

from cxloop.config import load_config
from cxloop.connectors.http import ApiAuthError, ApiError
from cxloop.connectors.run import check_source, pull_source
from cxloop.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "zendesk"


def ticket(tid: int, gts: int, subject: str = "Printer on fire") -> dict:
    stamp = "2024-03-01T09:15:02Z"
    return {"id": tid, "url": f"https://acme.zendesk.com/api/v2/tickets/{tid}.json",
            "created_at": stamp, "updated_at": stamp, "generated_timestamp": gts,
            "type": "question", "subject": subject, "status": "open", "requester_id": 501,
            "tags": ["vip"], "custom_fields": [{"id": 1, "value": None}]}  # fmt: skip


def pull(sources: Path, url: str, **api: object) -> dict:
    config = load_config(write_config(sources, {"zendesk": zendesk_source(url, **api)}))
    return pull_source(sources, "zendesk", config.sources["zendesk"])


def pages(sources: Path, entity: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((sources / "zendesk" / entity).glob("*"))]


def ids(sources: Path, entity: str) -> list:
    return [r["id"] for page in pages(sources, entity) for r in page[entity]]


def test_tickets_page_by_cursor_and_resume_from_it(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    zendesk_app.put("tickets", *(ticket(i, 1_700_000_000 + i) for i in range(1, 6)))
    report = pull(tmp_path, zendesk_server.url, page_size=2, entities=["tickets"])
    assert report["streams"]["tickets"] == {"pages": 3, "records": 5, "seconds": pytest.approx(
        report["streams"]["tickets"]["seconds"])}  # fmt: skip
    assert ids(tmp_path, "tickets") == [1, 2, 3, 4, 5]
    names = sorted(p.name for p in (tmp_path / "zendesk" / "tickets").iterdir())
    assert names == ["pull-00000001.json", "pull-00000002.json", "pull-00000003.json"]
    first = zendesk_server.requests[0]
    assert first.query == {"per_page": "2", "start_time": "0"}
    assert [r.query.get("cursor") is not None for r in zendesk_server.requests] == [
        False, True, True]  # fmt: skip
    # every page is the bytes the API sent, and listed once in the manifest
    lines = (tmp_path / "zendesk/.cxloop-pull/manifest.jsonl").read_text().splitlines()
    manifest = [json.loads(line) for line in lines]
    assert [m["path"] for m in manifest] == [f"tickets/{n}" for n in names]
    assert [m["records"] for m in manifest] == [2, 2, 1]
    state = json.loads((tmp_path / "zendesk/.cxloop-pull/state.json").read_text())
    assert state["streams"]["tickets"]["next_seq"] == 4
    assert state["streams"]["tickets"]["cursor"]["watermark"] == 1_700_000_005

    # the next run starts at the saved cursor: only what changed since
    zendesk_server.requests.clear()
    zendesk_app.put(
        "tickets", ticket(3, 1_700_000_100, "Printer still on fire"), ticket(6, 1_700_000_101)
    )
    again = pull(tmp_path, zendesk_server.url, page_size=2, entities=["tickets"])
    assert again["records"] == 2
    assert ids(tmp_path, "tickets") == [1, 2, 3, 4, 5, 3, 6]
    assert "cursor" in zendesk_server.requests[0].query

    # nothing new: an empty page moves nothing and writes no file
    nothing = pull(tmp_path, zendesk_server.url, page_size=2, entities=["tickets"])
    assert nothing["records"] == 0 and nothing["pages"] == 0
    assert len(list((tmp_path / "zendesk" / "tickets").iterdir())) == 4


def test_429_retry_after_and_500_then_success(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    zendesk_app.put("tickets", *(ticket(i, 1_700_000_000 + i) for i in range(1, 4)))
    zendesk_server.fail("/api/v2/incremental/tickets", 429, Retry_After="1")
    zendesk_server.fail("/api/v2/incremental/tickets", 500)
    report = pull(tmp_path, zendesk_server.url, page_size=2, entities=["tickets"])
    assert report["rate_limited"] == 1 and report["retries"] == 1
    assert report["requests"] == 4  # 429, 500, then the two pages
    assert ids(tmp_path, "tickets") == [1, 2, 3]


def test_5xx_beyond_the_retries_is_one_line_naming_the_endpoint(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    zendesk_server.fail("/api/v2/incremental/organizations.json", 503, times=10)
    with pytest.raises(ApiError) as err:
        pull(tmp_path, zendesk_server.url, entities=["organizations"], max_retries=1)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"GET {zendesk_server.url}/api/v2/incremental/organizations.json")
    assert "HTTP 503 after 2 attempts" in message


def test_expired_cursor_restarts_from_the_watermark(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    zendesk_app.put("tickets", *(ticket(i, 1_700_000_000 + i) for i in range(1, 4)))
    pull(tmp_path, zendesk_server.url, entities=["tickets"])
    zendesk_app.expire_cursors()
    zendesk_app.put("tickets", ticket(4, 1_700_000_050))
    zendesk_server.requests.clear()
    pull(tmp_path, zendesk_server.url, entities=["tickets"])
    # refused cursor, then start_time = the newest generated_timestamp seen (inclusive)
    assert [r.query.get("start_time") for r in zendesk_server.requests] == [None, "1700000003"]
    assert ids(tmp_path, "tickets") == [1, 2, 3, 3, 4]  # ticket 3 again: a duplicate row


def test_a_ticket_updated_while_paging_comes_again_later(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    zendesk_app.put("tickets", *(ticket(i, 1_700_000_000 + i) for i in range(1, 5)))

    def update_ticket_1(request: object) -> None:
        if len(zendesk_server.requests) == 2:  # as the second page is asked for
            zendesk_app.put("tickets", ticket(1, 1_700_000_010, "Updated while paging"))

    zendesk_server.before = update_ticket_1
    pull(tmp_path, zendesk_server.url, page_size=2, entities=["tickets"])
    subjects = [(r["id"], r["subject"]) for p in pages(tmp_path, "tickets") for r in p["tickets"]]
    assert subjects == [(1, "Printer on fire"), (2, "Printer on fire"), (3, "Printer on fire"),
                        (4, "Printer on fire"), (1, "Updated while paging")]  # fmt: skip


def test_time_based_pages_repeat_the_boundary_and_resume_at_end_time(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    _, users = records_of(str(FIXTURES / "users" / "page-001.json"))
    _, more = records_of(str(FIXTURES / "users" / "page-002.json"))
    zendesk_app.put("users", *users, *more)
    pull(tmp_path, zendesk_server.url, page_size=2, entities=["users"])
    # a full page (count == per_page) is not the end: the next starts at its end_time, so
    # the record at that second comes again; a short page ends the stream
    assert [[u["id"] for u in p["users"]] for p in pages(tmp_path, "users")] == [
        [501, 502], [502, 9001], [9001]]  # fmt: skip
    starts = [r.query["start_time"] for r in zendesk_server.requests]
    assert starts == ["0", "1706864400", "1706918400"]
    state = json.loads((tmp_path / "zendesk/.cxloop-pull/state.json").read_text())
    assert state["streams"]["users"]["cursor"] == {"start_time": 1706918400}


def test_ratings_follow_links_next_while_has_more(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    ratings = [{"id": i, "ticket_id": 1000 + i, "score": "good", "created_at":
                f"2024-03-0{i}T10:00:00Z", "updated_at": f"2024-03-0{i}T10:00:00Z"}
               for i in range(1, 4)]  # fmt: skip
    zendesk_app.put("satisfaction_ratings", *ratings)
    pull(tmp_path, zendesk_server.url, page_size=2, entities=["satisfaction_ratings"])
    assert ids(tmp_path, "satisfaction_ratings") == [1, 2, 3]
    assert "page[after]" in zendesk_server.requests[1].query
    state = json.loads((tmp_path / "zendesk/.cxloop-pull/state.json").read_text())
    assert state["streams"]["satisfaction_ratings"]["cursor"] == {"start_time": 1709460000}


def test_auth_errors_are_one_line_and_secrets_are_nowhere(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    zendesk_app.put("tickets", ticket(1, 1_700_000_001))
    zendesk_server.fail("/api/v2/incremental/users.json", 429, Retry_After="0")
    pull(tmp_path, zendesk_server.url)
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    auth = base64.b64encode(b"admin@acme.example/token:zd-token-123")
    for secret in (b"zd-token-123", auth):
        assert secret not in written
        assert secret.decode() not in caplog.text

    monkeypatch.setenv("TEST_ZENDESK_TOKEN", "wrong")
    with pytest.raises(ApiAuthError) as err:
        pull(tmp_path, zendesk_server.url)
    assert "HTTP 401" in str(err.value) and "sources.zendesk.api.credentials" in str(err.value)
    assert "wrong" not in str(err.value)
    monkeypatch.delenv("TEST_ZENDESK_TOKEN")
    with pytest.raises(ConfigError, match="environment variable TEST_ZENDESK_TOKEN is not set"):
        pull(tmp_path, zendesk_server.url)


def test_check_makes_one_cheap_call_and_needs_an_admin(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    config = load_config(write_config(tmp_path, {"zendesk": zendesk_source(zendesk_server.url)}))
    result = check_source("zendesk", config.sources["zendesk"])
    assert result["ok"] and zendesk_server.paths() == ["/api/v2/users/me.json"]
    assert not (tmp_path / "zendesk").exists()
    zendesk_app.role = "agent"
    with pytest.raises(ApiAuthError, match="need an admin"):
        check_source("zendesk", config.sources["zendesk"])


def test_pull_then_ingest_equals_the_hand_written_export_files(
    tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict
) -> None:
    """The server holds the records of tests/fixtures/sources/zendesk; after two pulls (the
    second after page 2's changes) ingest gives the raw tables those files give."""
    later = FIXTURES / "tickets" / "page-002.json"
    for page in sorted(FIXTURES.glob("*/*.json")):
        if page != later:
            name, records = records_of(str(page))
            zendesk_app.put(name, *records)
    sources = tmp_path / "pulled"
    pull(sources, zendesk_server.url, page_size=2)
    zendesk_app.put("tickets", *records_of(str(later))[1])
    pull(sources, zendesk_server.url, page_size=2)

    by_files = tmp_path / "files"
    write_config(by_files, {"zendesk": {"kind": "zendesk", "path": "zendesk"}})
    for page in FIXTURES.glob("*/*.json"):
        (by_files / "zendesk" / page.parent.name).mkdir(parents=True, exist_ok=True)
        (by_files / "zendesk" / page.parent.name / page.name).write_bytes(page.read_bytes())
    pulled = ingest_raw(sources, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert set(pulled) == set(from_files)
    assert {"zendesk__tickets", "zendesk__users", "zendesk__organizations",
            "zendesk__ticket_events", "zendesk__satisfaction_ratings"} <= set(pulled)  # fmt: skip
    for table in from_files:
        assert pulled[table] == from_files[table], table
