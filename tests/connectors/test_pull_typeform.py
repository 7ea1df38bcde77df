"""The Typeform connector against a local Responses API (typeform_api.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pullkit import ingest_raw, write_config
from typeform_api import TypeformApp
from vendor_http import VendorServer

from cxloop.config import load_config
from cxloop.connectors.http import ApiAuthError
from cxloop.connectors.run import check_source, pull_source

SURVEYS = Path(__file__).resolve().parents[1] / "fixtures" / "surveys"
FORM = "aBc12XyZ"
PAGE = SURVEYS / "typeform" / "responses" / FORM / "page-001.json"


def typeform_source(url: str, **api: object) -> dict:
    """The surveys fixture's Typeform source, pulling from `url`."""
    source = yaml.safe_load((SURVEYS / "cxloop.yaml").read_text())["sources"]["typeform"]
    source["api"] = {"base_url": url, "credentials": {"token": "TEST_TYPEFORM_TOKEN"}, **api}
    return source


def pull(sources: Path, url: str, **api: object) -> dict:
    config = load_config(write_config(sources, {"typeform": typeform_source(url, **api)}))
    return pull_source(sources, "typeform", config.sources["typeform"])


def item(token: str, submitted_at: str, nps: int) -> dict:
    return {"landing_id": token, "token": token, "response_id": token,
            "landed_at": submitted_at, "submitted_at": submitted_at,
            "hidden": {"email": f"{token}@example.com", "ticket_id": "1001"},
            "calculated": {"score": 0},
            "answers": [{"field": {"id": "Fnps01", "type": "nps", "ref": "nps"},
                         "type": "number", "number": nps}]}  # fmt: skip


def landed(sources: Path) -> list[list[str]]:
    folder = sources / "typeform" / "responses" / FORM
    return [[i["token"] for i in json.loads(p.read_text())["items"]]
            for p in sorted(folder.glob("*.json"))]  # fmt: skip


def test_pages_newest_first_by_before_token_then_since_the_newest(
    tmp_path: Path, typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict
) -> None:
    typeform_app.add(FORM, item("t1", "2024-05-01T10:00:00Z", 9), item("t2",
                     "2024-05-01T11:00:00Z", 3), item("t3", "2024-05-01T12:00:00Z", 7))  # fmt: skip
    report = pull(tmp_path, typeform_server.url, page_size=2)
    assert report["records"] == 3 and landed(tmp_path) == [["t3", "t2"], ["t1"]]
    assert [r.query for r in typeform_server.requests] == [
        {"page_size": "2"}, {"page_size": "2", "before": "t2"}]  # fmt: skip
    page = json.loads((tmp_path / "typeform/responses" / FORM / "pull-00000001.json").read_text())
    assert page["total_items"] == 3 and page["page_count"] == 2

    # the next run: since the newest submitted_at minus 30 minutes (late responses)
    typeform_app.add(FORM, item("t4", "2024-05-02T09:00:00Z", 10))
    typeform_server.requests.clear()
    pull(tmp_path, typeform_server.url, page_size=2)
    assert typeform_server.requests[0].query == {"page_size": "2", "since": "2024-05-01T11:30:00"}
    assert landed(tmp_path) == [["t3", "t2"], ["t1"], ["t4", "t3"]]  # t3 again: a duplicate


def test_since_starts_the_first_pull_and_a_refused_token_restarts_the_run(
    tmp_path: Path, typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict
) -> None:
    typeform_app.add(FORM, item("t1", "2024-04-01T10:00:00Z", 9),
                     item("t2", "2024-05-01T11:00:00Z", 3),
                     item("t3", "2024-05-01T12:00:00Z", 8))  # fmt: skip

    def delete_t3(request: object) -> None:  # the token the second page asks before is gone
        if len(typeform_server.requests) == 2:
            typeform_app.delete(FORM, "t3")

    typeform_server.before = delete_t3
    pull(tmp_path, typeform_server.url, start_date="2024-05-01", page_size=1)
    queries = [r.query for r in typeform_server.requests]
    assert queries[0] == {"page_size": "1", "since": "2024-05-01T00:00:00"}
    assert queries[1]["before"] == "t3" and "before" not in queries[2]
    assert landed(tmp_path) == [["t3"], ["t2"]]


def test_429_then_success_and_check_names_a_missing_form(
    tmp_path: Path, typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict
) -> None:
    typeform_app.add(FORM, item("t1", "2024-05-01T10:00:00Z", 9))
    typeform_server.fail(f"/forms/{FORM}/responses", 429, Retry_After="1")
    report = pull(tmp_path, typeform_server.url)
    assert report["rate_limited"] == 1 and landed(tmp_path) == [["t1"]]

    config = load_config(tmp_path / "cxloop.yaml")
    assert "Post-support survey" in check_source("typeform", config.sources["typeform"])["checked"]
    typeform_app.forms.clear()
    with pytest.raises(ApiAuthError) as err:
        check_source("typeform", config.sources["typeform"])
    assert f"/forms/{FORM}: HTTP 404" in str(err.value) and "\n" not in str(err.value)


def test_pull_then_ingest_equals_the_hand_written_page(
    tmp_path: Path, typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict
) -> None:
    # Typeform processes responses as they are submitted: `before` pages in that order
    items = sorted(json.loads(PAGE.read_text())["items"], key=lambda i: i["submitted_at"])
    typeform_app.add(FORM, *items)
    pulled = tmp_path / "pulled"
    pull(pulled, typeform_server.url, page_size=2)
    by_files = tmp_path / "files"
    write_config(by_files, {"typeform": typeform_source("http://unused")})
    (by_files / "typeform/responses" / FORM).mkdir(parents=True)
    (by_files / "typeform/responses" / FORM / PAGE.name).write_bytes(PAGE.read_bytes())
    from_pull = ingest_raw(pulled, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert len(from_files["typeform__responses"]) == 3
    assert from_pull == from_files
