"""The HubSpot connector against a local CRM v3 API (hubspot_api.py): search windows, the
10,000-results limit, listings landed when they change, and ingest of what it lands."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hubspot_api import HubSpotApp
from pullkit import ingest_raw, write_config
from vendor_http import Reply, Request, VendorServer, serve

from cxloop.config import load_config
from cxloop.connectors import hubspot
from cxloop.connectors.http import ApiAuthError, ApiError
from cxloop.connectors.run import check_source, pull_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors" / "hubspot"
SEARCH = "/crm/v3/objects/{}/search"


def results(rel: str) -> list[dict]:
    return json.loads((FIXTURES / rel).read_text(encoding="utf-8"))["results"]


@pytest.fixture
def crm() -> HubSpotApp:
    app = HubSpotApp()
    for kind in ("companies", "contacts", "deals"):
        app.put(kind, *results(f"{kind}/page-001.json"))
    app.put("companies", *results("companies/archived-page-001.json"))
    app.owners = results("owners/page-001.json") + results("owners/archived-page-001.json")
    app.pipelines = results("pipelines/deals.json")
    return app


@pytest.fixture
def server(crm: HubSpotApp) -> Iterator[VendorServer]:
    with serve(crm) as running:
        yield running


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "pat-na1-test-token")
    return "pat-na1-test-token"


def pull(sources: Path, url: str, **api: object) -> dict:
    creds = {"token": "TEST_HUBSPOT_TOKEN"}
    cfg = {"kind": "hubspot", "path": "hubspot",
           "api": {"base_url": url, "credentials": creds, **api}}  # fmt: skip
    config = load_config(write_config(sources, {"crm": cfg}))
    return pull_source(sources, "crm", config.sources["crm"])


def landed(sources: Path, kind: str, prefix: str = "pull-") -> list[list[str]]:
    pages = sorted((sources / "hubspot" / kind).glob(f"{prefix}*.json"))
    return [[r["id"] for r in json.loads(p.read_text())["results"]] for p in pages]


def company(cid: str, modified: str, name: str = "Co") -> dict:
    return {"id": cid, "properties": {"hs_object_id": cid, "name": name, "createdate": modified,
            "hs_lastmodifieddate": modified}, "createdAt": modified, "updatedAt": modified,
            "archived": False}  # fmt: skip


def test_search_moves_its_window_and_resumes_from_the_newest_change(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    report = pull(tmp_path, server.url, page_size=2, entities=["contacts"])
    # window from 0: contacts 51, 52 (newest 2024-03-02T12:00); a fresh search from there
    # gives 52 again and 53 (the boundary record repeats; ingest lands it once)
    assert landed(tmp_path, "contacts") == [["51", "52"], ["52", "53"]]
    assert report["streams"]["contacts"]["records"] == 4
    first = crm.searches[0]
    assert first["filterGroups"] == [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}]  # fmt: skip
    assert first["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert "hs_language" in first["properties"] and first["limit"] == 2
    assert [s.get("after") for s in crm.searches] == [None, None]
    assert crm.searches[1]["filterGroups"][0]["filters"][0]["value"] == "1709380800000"
    state = json.loads((tmp_path / "hubspot/.cxloop-pull/state.json").read_text())["streams"]
    assert state["contacts"]["cursor"] == {"since": 1709630100000}  # 2024-03-05T09:15:00Z

    # the next run searches from the newest change, inclusive
    crm.searches.clear()
    pull(tmp_path, server.url, page_size=2, entities=["contacts"])
    assert crm.searches[0]["filterGroups"][0]["filters"][0]["value"] == "1709630100000"
    assert landed(tmp_path, "contacts")[-1] == ["53"]


def test_the_search_result_limit_is_never_reached_by_moving_the_window(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    crm.search_limit = 10  # HubSpot's is 10,000; the server takes the limit as a setting
    crm.objects["companies"] = {}
    crm.put("companies", *(company(str(100 + i), f"2024-05-01T10:00:{i:02d}.000Z")
                           for i in range(25)))  # fmt: skip
    pull(tmp_path, server.url, page_size=4, entities=["companies"])
    ids = {i for page in landed(tmp_path, "companies") for i in page}
    assert ids == {str(100 + i) for i in range(25)}
    assert all(int(s.get("after") or 0) < 10 for s in crm.searches)

    # more records in one millisecond than one search can serve: a one-line error
    monkeypatch.setattr(hubspot, "SEARCH_RESULTS_MAX", 10)
    crm.objects["companies"] = {}
    crm.put("companies", *(company(str(200 + i), "2024-06-01T00:00:00.000Z") for i in range(15)))
    with pytest.raises(ApiError) as err:
        pull(tmp_path / "again", server.url, page_size=4, entities=["companies"])
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(f"{server.url}/crm/v3/objects/companies/search: over 10 ")


def test_records_at_one_instant_page_on_with_after(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    crm.objects["companies"] = {}
    crm.put("companies", *(company(str(300 + i), "2024-06-01T00:00:00.000Z") for i in range(5)),
            company("399", "2024-06-02T00:00:00.000Z"))  # fmt: skip
    pull(tmp_path, server.url, page_size=2, entities=["companies"])
    # the first page moves the window to the instant; pages at it follow `after`
    assert [s.get("after") for s in crm.searches] == [None, None, "2", "4"]
    assert landed(tmp_path, "companies") == [
        ["300", "301"], ["300", "301"], ["302", "303"], ["304", "399"]]  # fmt: skip


def test_a_record_updated_while_paging_is_not_missed(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    """Offsets shift when a record moves to the end; a window that moves skips nothing."""
    crm.objects["companies"] = {}
    crm.put("companies", *(company(str(400 + i), f"2024-05-01T10:00:0{i}.000Z") for i in range(6)))

    def update_the_first(request: Request) -> None:
        if len(crm.searches) == 1:  # as the second page is asked for
            crm.put("companies", company("400", "2024-05-02T00:00:00.000Z", "Renamed"))

    server.before = update_the_first
    pull(tmp_path, server.url, page_size=2, entities=["companies"])
    pages = [json.loads(p.read_text())["results"]
             for p in sorted((tmp_path / "hubspot/companies").glob("pull-*.json"))]  # fmt: skip
    seen = {(r["id"], r["properties"]["name"]) for page in pages for r in page}
    assert {i for i, _ in seen} == {str(400 + i) for i in range(6)}
    assert ("400", "Renamed") in seen


def test_429_500_and_an_empty_search(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    server.fail(SEARCH.format("deals"), 429, Retry_After="1")
    server.fail(SEARCH.format("deals"), 500)
    report = pull(tmp_path, server.url, entities=["deals"])
    assert report["rate_limited"] == 1 and report["retries"] == 1
    assert landed(tmp_path, "deals") == [["7001", "7002", "7003"]]
    crm.objects["deals"] = {}
    nothing = pull(tmp_path, server.url, entities=["deals"])
    assert nothing["streams"]["deals"]["records"] == 0
    assert len(landed(tmp_path, "deals")) == 1


def test_listings_land_only_when_they_change(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    pull(tmp_path, server.url, entities=["owners", "deal_pipelines"])
    assert landed(tmp_path, "owners") == [["41629779", "41629780"]]
    assert landed(tmp_path, "owners", "archived-pull-") == [["41629701"]]
    assert len(list((tmp_path / "hubspot/pipelines/deals").iterdir())) == 1
    again = pull(tmp_path, server.url, entities=["owners", "deal_pipelines"])
    assert again["records"] == 0
    crm.owners[1] = {**crm.owners[1], "lastName": "Becker-Ng",
                     "updatedAt": "2024-06-01T08:00:00.000Z"}  # fmt: skip
    changed = pull(tmp_path, server.url, entities=["owners", "deal_pipelines"])
    assert changed["streams"]["owners"]["records"] == 2 and changed["records"] == 2
    assert len(landed(tmp_path, "owners")) == 2


def test_auth_check_and_secrets(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    pull(tmp_path, server.url)
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert token.encode() not in written and token not in caplog.text

    creds = {"token": "TEST_HUBSPOT_TOKEN"}
    cfg = {"kind": "hubspot", "path": "hubspot",
           "api": {"base_url": server.url, "credentials": creds}}  # fmt: skip
    config = load_config(write_config(tmp_path / "check", {"crm": cfg}))
    result = check_source("crm", config.sources["crm"])
    assert json.loads(result["checked"])["totals"] == {
        "companies": 3, "contacts": 3, "deals": 3, "owners": 1}  # fmt: skip
    monkeypatch.setenv("TEST_HUBSPOT_TOKEN", "pat-wrong")
    with pytest.raises(ApiAuthError) as err:
        check_source("crm", config.sources["crm"])
    assert "HTTP 401" in str(err.value) and "crm.objects.companies.read" in str(err.value)
    assert "pat-wrong" not in str(err.value)


def test_pull_then_ingest_equals_the_hand_written_pages(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    """The portal holds the records of the hand-written API pages; after two pulls in pages of
    two, ingest gives the raw tables those pages give."""
    pulled = tmp_path / "pulled"
    pull(pulled, server.url, page_size=2)
    pull(pulled, server.url, page_size=2)
    by_files = tmp_path / "files"
    write_config(by_files, {"crm": {"kind": "hubspot", "path": "hubspot"}})
    shutil.copytree(FIXTURES, by_files / "hubspot")
    from_pull = ingest_raw(pulled, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert {"hubspot__companies", "hubspot__contacts", "hubspot__deals", "hubspot__owners",
            "hubspot__deal_pipelines"} <= set(from_files)  # fmt: skip
    # the pull also lands the association answers: these deals and contacts have no company
    # (the marts test pulls some with companies, tests/connectors/test_pull_marts.py)
    for table, ids in (("deal", {"7001", "7002", "7003"}), ("contact", {"51", "52", "53"})):
        associations = from_pull.pop(f"hubspot__{table}_companies")
        assert {row for row in associations if "[]" not in row} == set()
        assert {i for row in associations for i in row} >= ids
    assert set(from_pull) == set(from_files)
    for table in from_files:
        assert from_pull[table] == from_files[table], table


SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "hubspot"


def test_deal_companies_come_from_the_v4_association_read_of_each_deal_page(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    """The deals of the sources fixture carry v3 `associations`; search strips them, and the
    association stream asks for each landed deal page's companies."""
    crm.objects["deals"] = {}
    crm.put("deals", *results_of(SOURCES / "deals" / "page-001.json"))
    report = pull(tmp_path, server.url, page_size=4, entities=["deals"])
    # by hs_lastmodifieddate: 7001, 7005, 7002, 7003 | then from 7003's: 7003, 7004, 7006
    assert landed(tmp_path, "deals") == [["7001", "7005", "7002", "7003"], ["7003", "7004", "7006"]]
    assert all("associations" not in r for p in landed_pages(tmp_path, "deals") for r in p)
    assert crm.association_reads == [
        {"inputs": [{"id": "7001"}, {"id": "7005"}, {"id": "7002"}, {"id": "7003"}]},
        {"inputs": [{"id": "7003"}, {"id": "7004"}, {"id": "7006"}]},
    ]
    assert report["streams"]["deal_companies"] == {**report["streams"]["deal_companies"],
                                                   "pages": 2, "records": 7}  # fmt: skip
    second = json.loads((tmp_path / "hubspot/deal_companies/pull-00000002.json").read_text())
    assert second["results"][0]["to"] == [
        {"toObjectId": 9003, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]},
        {"toObjectId": 9002, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
            {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}]}]  # fmt: skip
    assert [e["context"]["fromObjectId"] for e in second["errors"]] == [["7004"], ["7006"]]
    state = json.loads((tmp_path / "hubspot/.cxloop-pull/state.json").read_text())["streams"]
    assert state["deal_companies"]["cursor"] == {"page_seq": 2}

    # the next run reads the companies of the new deal page only (7006 again, the window's start)
    crm.association_reads.clear()
    pull(tmp_path, server.url, page_size=4, entities=["deals"])
    assert crm.association_reads == [{"inputs": [{"id": "7006"}]}]

    # a backfill searches from the start again, and reads the companies of those pages only
    crm.association_reads.clear()
    config = load_config(tmp_path / "cxloop.yaml")
    pull_source(tmp_path, "crm", config.sources["crm"], since=datetime(2024, 1, 1, tzinfo=UTC))
    # from 2024-01-01: 7005, 7002, 7003, 7004 | 7004, 7006; pages 4 and 5 after the cursor (3)
    assert [r["inputs"][0]["id"] for r in crm.association_reads] == ["7005", "7004"]

    # the adapter: one row per deal, `[]` for a deal without a company
    from cxloop.sources.hubspot import find_files, read_file

    cfg = load_config(tmp_path / "cxloop.yaml").sources["crm"]
    pages = find_files(tmp_path / "hubspot", cfg)["deal_companies"]
    assert [p.name for p in pages] == [f"pull-0000000{n}.json" for n in (1, 2, 3, 4, 5)]
    batch = read_file("deal_companies", pages[1], "deal_companies/pull-00000002.json", cfg)
    rows = [(r.values["from_id"], json.loads(r.values["to"])) for r in batch.rows]
    assert [(i, [c["toObjectId"] for c in to]) for i, to in rows] == [
        ("7003", [9003, 9002]), ("7004", []), ("7006", [])]  # fmt: skip
    assert {r.values["completed_at"] for r in batch.rows} == {second["completedAt"]}


def test_an_association_error_other_than_no_company_stops_the_pull(
    tmp_path: Path, crm: HubSpotApp, server: VendorServer, token: str
) -> None:
    refused = {"status": "COMPLETE", "results": [],
               "errors": [{"status": "error", "category": "MISSING_SCOPES"}]}  # fmt: skip
    crm._companies = lambda kind, body: Reply.json(refused, 207)  # type: ignore[method-assign]
    with pytest.raises(ApiError) as err:
        pull(tmp_path, server.url, entities=["deals"])
    assert str(err.value).startswith(
        f"{server.url}/crm/v4/associations/deals/companies/batch/read: the answer has the error "
        "MISSING_SCOPES"
    )
    state = json.loads((tmp_path / "hubspot/.cxloop-pull/state.json").read_text())["streams"]
    assert "deal_companies" not in state or state["deal_companies"]["cursor"] is None


def results_of(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def landed_pages(sources: Path, kind: str) -> list[list[dict]]:
    pages = sorted((sources / "hubspot" / kind).glob("pull-*.json"))
    return [json.loads(p.read_text())["results"] for p in pages]
