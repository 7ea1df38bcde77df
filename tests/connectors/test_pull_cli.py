"""`cxloop pull` (the `pull` flow, a task per source) against the three local vendor servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pullkit import write_config, zendesk_source
from qualtrics_api import QualtricsApp
from test_pull_qualtrics import EXPORT, SURVEY, qualtrics_source
from test_pull_typeform import FORM, item, typeform_source
from typeform_api import TypeformApp
from typer.testing import CliRunner
from vendor_http import VendorServer
from zendesk_api import ZendeskApp

from cxloop.flows.cli import app

runner = CliRunner()


@pytest.fixture
def sources(
    tmp_path: Path,
    zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict,
    typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict,
    qualtrics_app: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict,
) -> Path:  # fmt: skip
    zendesk_app.put("tickets", {"id": 1, "generated_timestamp": 1_700_000_001, "subject": "Hi"})
    typeform_app.add(FORM, item("t1", "2024-05-01T10:00:00Z", 9))
    qualtrics_app.load_export(SURVEY, "Relational NPS", EXPORT.read_text(encoding="utf-8"))
    write_config(tmp_path, {
        "helpdesk": zendesk_source(zendesk_server.url, entities=["tickets", "users"]),
        "typeform": typeform_source(typeform_server.url),
        "qualtrics": qualtrics_source(qualtrics_server.url),
        "crm": {"kind": "salesforce", "path": "salesforce"},
    })  # fmt: skip
    return tmp_path


def test_pull_every_api_source_then_check(sources: Path, prefect_harness: None) -> None:
    result = runner.invoke(app, ["pull", "--sources", str(sources), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["sources"]
    assert sorted(report) == ["helpdesk", "qualtrics", "typeform"]  # not the file-only crm
    assert report["helpdesk"]["records"] == 1 and report["typeform"]["records"] == 1
    assert report["qualtrics"]["records"] == 5
    assert (sources / "zendesk/tickets/pull-00000001.json").exists()
    assert (sources / f"typeform/responses/{FORM}/pull-00000001.json").exists()

    result = runner.invoke(app, ["pull", "--sources", str(sources), "--check", "--only",
                                 "typeform", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["sources"]) == ["typeform"]

    # the progress display and the summary table (no --json); nothing new: no pages
    result = runner.invoke(app, ["pull", "--sources", str(sources), "--only", "zendesk"])
    assert result.exit_code == 0, result.output
    assert "helpdesk" in result.output


def test_pull_errors_are_one_line(
    sources: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(app, ["pull", "--sources", str(sources), "--only", "crm"])
    assert result.exit_code == 1
    assert "key 'sources.crm.api': not set" in result.output
    monkeypatch.delenv("TEST_TYPEFORM_TOKEN")
    result = runner.invoke(app, ["pull", "--sources", str(sources), "--only", "typeform"])
    assert result.exit_code == 1
    assert "environment variable TEST_TYPEFORM_TOKEN is not set" in result.output
