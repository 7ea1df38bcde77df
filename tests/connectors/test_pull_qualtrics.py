"""The Qualtrics connector against a local response-export API (qualtrics_api.py)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pullkit import ingest_raw, write_config
from qualtrics_api import QualtricsApp
from vendor_http import VendorServer

from cxloop.config import load_config
from cxloop.connectors.http import ApiAuthError
from cxloop.connectors.run import check_source, pull_source
from cxloop.connectors.store import PullStore

SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
EXPORT = SOURCES / "qualtrics" / "nps_relational_2024.csv"
SURVEY = "SV_relational_nps"
STREAM = f"surveys/{SURVEY}"


def qualtrics_source(url: str, **api: object) -> dict:
    """The fixture's Qualtrics source with its NPS survey only (the CSAT one is cp1256)."""
    source = yaml.safe_load((SOURCES / "cxloop.yaml").read_text())["sources"]["qualtrics"]
    source["surveys"] = [s for s in source["surveys"] if s["survey_id"] == SURVEY]
    source["api"] = {"base_url": url, "credentials": {"token": "TEST_QUALTRICS_TOKEN"}, **api}
    return source


def pull(sources: Path, url: str, **api: object) -> dict:
    config = load_config(write_config(sources, {"qualtrics": qualtrics_source(url, **api)}))
    return pull_source(sources, "qualtrics", config.sources["qualtrics"])


@pytest.fixture
def survey(qualtrics_app: QualtricsApp) -> QualtricsApp:
    qualtrics_app.load_export(SURVEY, "Relational NPS 2024", EXPORT.read_text(encoding="utf-8"))
    return qualtrics_app


def exports(server: VendorServer) -> list[dict]:
    return [json.loads(r.body) for r in server.requests if r.method == "POST"]


def test_export_lands_as_a_manual_export_and_ingests_the_same(
    tmp_path: Path, survey: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict
) -> None:
    pulled = tmp_path / "pulled"
    report = pull(pulled, qualtrics_server.url)
    assert report["records"] == 5 and report["pages"] == 1
    assert sorted(p.name for p in (pulled / "qualtrics").glob("*.csv")) == [
        "nps_relational_pull-00000001.csv"]  # fmt: skip
    [body] = exports(qualtrics_server)
    assert body["format"] == "csv" and "startDate" not in body
    paths = qualtrics_server.paths()
    assert paths[1] == paths[2] == f"/API/v3/surveys/{SURVEY}/export-responses/ES_000001"
    state = json.loads((pulled / "qualtrics/.cxloop-pull/state.json").read_text())
    assert state["streams"][STREAM]["cursor"] == {"start": body["endDate"]}

    by_files = tmp_path / "files"
    write_config(by_files, {"qualtrics": qualtrics_source("http://unused")})
    (by_files / "qualtrics").mkdir()
    (by_files / "qualtrics" / EXPORT.name).write_bytes(EXPORT.read_bytes())
    from_pull = ingest_raw(pulled, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert len(from_files["qualtrics__responses"]) == 3  # and two quarantined (NPS 11, a date)
    assert len(from_files["ops.quarantine"]) == 2
    assert from_pull == from_files


def test_the_next_export_starts_where_the_last_ended(
    tmp_path: Path, survey: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict
) -> None:
    pull(tmp_path, qualtrics_server.url)
    now = datetime.now(ZoneInfo("America/Denver")).strftime("%Y-%m-%d %H:%M:%S")
    row = [now, now, "0", "", "100", "10", "1", now, "R_9z8Y7x6W5v4U3t2", "", "", "", "", "",
           "", "email", "EN", "10", "3", "New one", "0015g00000AbCdEAAV"]  # fmt: skip
    survey.add_responses(SURVEY, row)
    time.sleep(1.1)  # the next window's end (now, exclusive) is after the new response
    again = pull(tmp_path, qualtrics_server.url)
    first, second = exports(qualtrics_server)
    assert second["startDate"] == first["endDate"]
    assert again["records"] == 1
    newest = (tmp_path / "qualtrics" / "nps_relational_pull-00000002.csv").read_text()
    assert "R_9z8Y7x6W5v4U3t2" in newest and "R_1a2B3c4D5e6F7g8" not in newest
    nothing = pull(tmp_path, qualtrics_server.url)  # an empty export writes no file
    assert nothing["pages"] == 0 and len(list((tmp_path / "qualtrics").glob("*.csv"))) == 2


def test_a_forgotten_export_is_started_again_for_the_same_window(
    tmp_path: Path, survey: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict
) -> None:
    write_config(tmp_path, {"qualtrics": qualtrics_source(qualtrics_server.url)})
    window = {"start": "2024-05-01T00:00:00Z", "end": "2024-05-04T00:00:00Z"}
    with PullStore.locked(tmp_path / "qualtrics") as store:  # as a killed pull left it
        store.stream(STREAM, lambda seq: f"x{seq}.csv")
        store.save_cursor(STREAM, {**window, "progress_id": "ES_gone"})
    qualtrics_server.fail(f"/API/v3/surveys/{SURVEY}/export-responses", 500)
    report = pull(tmp_path, qualtrics_server.url)
    assert qualtrics_server.paths()[0].endswith("/export-responses/ES_gone")
    assert report["retries"] == 1  # the 500 on the new export's POST
    [body] = exports(qualtrics_server)[-1:]
    assert (body["startDate"], body["endDate"]) == (window["start"], window["end"])
    assert report["records"] == 2  # recorded 2024-05-02 and 05-03 (Denver), not 05-04 12:01


def test_check_and_an_unknown_survey(
    tmp_path: Path, survey: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict
) -> None:
    config = load_config(
        write_config(tmp_path, {"qualtrics": qualtrics_source(qualtrics_server.url)})
    )
    result = check_source("qualtrics", config.sources["qualtrics"])
    assert "Relational NPS 2024" in result["checked"]
    survey.surveys.clear()
    with pytest.raises(ApiAuthError, match=f"surveys/{SURVEY}: HTTP 404"):
        check_source("qualtrics", config.sources["qualtrics"])
