"""`cxloop pull` then ingest + build gives the marts the hand-written export files give.

Two CXLOOP_HOMEs from tests/fixtures/sources (Salesforce files, Zendesk pages, the Qualtrics
NPS export): one ingests the files as they are, the other pulls Zendesk and Qualtrics from the
local servers holding the same records (Salesforce files copied: its connector comes later).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from pullkit import write_config, zendesk_source
from qualtrics_api import QualtricsApp
from test_pull_qualtrics import EXPORT, SURVEY, qualtrics_source
from vendor_http import VendorServer
from zendesk_api import ZendeskApp, records_of

from cxloop.config import load_config
from cxloop.connectors.run import pull_source
from cxloop.flows.ingest import ingest as ingest_flow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
LATER = FIXTURES / "zendesk" / "tickets" / "page-002.json"


def build_marts(sources: Path, home: Path, env: pytest.MonkeyPatch) -> dict[str, list[tuple]]:
    """Ingest and build into `home`; every mart's rows, sorted."""
    from cxloop.flows.build import build

    env.setenv("CXLOOP_HOME", str(home))
    env.setenv("CXLOOP_CONFIG", str(sources / "cxloop.yaml"))
    ingest_flow(sources, warehouse=home / "warehouse/cx.duckdb", lake_dir=home / "lake")
    assert build()["success"]
    marts: dict[str, list[tuple]] = {}
    with contextlib.closing(
        duckdb.connect(str(home / "warehouse/cx.duckdb"), read_only=True)
    ) as con:
        names = con.execute("select table_name from information_schema.tables "
                            "where table_schema = 'marts' order by 1").fetchall()  # fmt: skip
        for (name,) in names:
            marts[name] = sorted(con.execute(f"select * from marts.{name}").fetchall(), key=repr)
    return marts


def test_pulled_and_hand_written_sources_build_the_same_marts(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch,
    zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict,
    qualtrics_app: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict,
) -> None:  # fmt: skip
    crm = {"kind": "salesforce", "path": "salesforce"}
    by_files = tmp_path / "files"
    shutil.copytree(FIXTURES / "salesforce", by_files / "salesforce")
    shutil.copytree(FIXTURES / "zendesk", by_files / "zendesk")
    (by_files / "qualtrics").mkdir()
    shutil.copy(EXPORT, by_files / "qualtrics" / EXPORT.name)
    qualtrics = qualtrics_source("http://unused")
    del qualtrics["api"]
    write_config(by_files, {"salesforce": crm, "zendesk": {"kind": "zendesk", "path": "zendesk"},
                            "qualtrics": qualtrics})  # fmt: skip

    pulled = tmp_path / "pulled"
    shutil.copytree(FIXTURES / "salesforce", pulled / "salesforce")
    for page in sorted(FIXTURES.glob("zendesk/*/*.json")):
        if page != LATER:
            name, records = records_of(str(page))
            zendesk_app.put(name, *records)
    qualtrics_app.load_export(SURVEY, "Relational NPS", EXPORT.read_text(encoding="utf-8"))
    config = load_config(write_config(pulled, {
        "salesforce": crm, "zendesk": zendesk_source(zendesk_server.url, page_size=2),
        "qualtrics": qualtrics_source(qualtrics_server.url)}))  # fmt: skip
    pull_source(pulled, "zendesk", config.sources["zendesk"])
    zendesk_app.put("tickets", *records_of(str(LATER))[1])
    for name in ("zendesk", "qualtrics"):
        pull_source(pulled, name, config.sources[name])
    assert yaml.safe_load((pulled / "cxloop.yaml").read_text())["sources"]["zendesk"]["api"]

    from_files = build_marts(by_files, tmp_path / "home-files", monkeypatch)
    from_pull = build_marts(pulled, tmp_path / "home-pulled", monkeypatch)
    assert {"fct_tickets", "mart_nps"} <= set(from_files)
    assert from_files["fct_tickets"] and from_files["mart_nps"]
    for mart, rows in from_files.items():
        assert from_pull[mart] == rows, mart
