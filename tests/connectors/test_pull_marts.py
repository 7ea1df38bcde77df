"""`cxloop pull` then ingest + build gives the marts the hand-written export files give, for
every connector.

Two CXLOOP_HOMEs, one dbt build each. One ingests the hand-written files the connector tests
already use (Salesforce Bulk CSVs, HubSpot CRM v3 pages with `associations`, Zendesk pages, the
Qualtrics NPS export, a Typeform Responses API page). The other pulls all five sources from
the local vendor servers holding the same records, then ingests what the pulls landed. Every
mart table must hold the same rows.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from hubspot_api import HubSpotApp
from pullkit import write_config, zendesk_source
from qualtrics_api import QualtricsApp
from salesforce_api import SalesforceApp, read_csv
from test_pull_qualtrics import EXPORT, SURVEY, qualtrics_source
from test_pull_salesforce import ENV as SF_ENV
from test_pull_salesforce import FIXTURES as SF_FIXTURES
from test_pull_salesforce import OBJECTS
from test_pull_salesforce import source as salesforce_source
from test_pull_typeform import FORM, PAGE, typeform_source
from typeform_api import TypeformApp
from vendor_http import VendorServer, serve
from zendesk_api import ZendeskApp, records_of

from cxloop.config import load_config
from cxloop.connectors.run import pull_source
from cxloop.flows.ingest import ingest as ingest_flow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
HUBSPOT = FIXTURES / "hubspot"
LATER = FIXTURES / "zendesk" / "tickets" / "page-002.json"
HUBSPOT_ENV = {"TEST_HUBSPOT_TOKEN": "pat-na1-test-token"}


def build_marts(sources: Path, home: Path, env: pytest.MonkeyPatch) -> dict[str, list[tuple]]:
    """Ingest and build into `home`; every mart's rows, sorted, and each HubSpot deal's and
    contact's account (staging) under the keys `stg_hubspot__deals` / `__contacts`."""
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
        for model, key in (("stg_hubspot__deals", "opportunity_id"),
                           ("stg_hubspot__contacts", "contact_id")):  # fmt: skip
            marts[model] = con.execute(
                f"select {key}, account_id from staging.{model} order by 1"
            ).fetchall()
    return marts


def results(rel: str) -> list[dict]:
    return json.loads((HUBSPOT / rel).read_text(encoding="utf-8"))["results"]


def hubspot_portal() -> HubSpotApp:
    """A portal holding the records of the hand-written HubSpot pages (a record without an id,
    which the file route quarantines, cannot be in a portal)."""
    app = HubSpotApp(token=HUBSPOT_ENV["TEST_HUBSPOT_TOKEN"])
    for kind in ("companies", "contacts", "deals"):
        for page in sorted((HUBSPOT / kind).glob("*.json")):
            app.put(kind, *(r for r in results(f"{kind}/{page.name}") if r.get("id")))
    app.owners = [o for p in sorted((HUBSPOT / "owners").glob("*.json"))
                  for o in results(f"owners/{p.name}")]  # fmt: skip
    app.pipelines = results("pipelines/deals.json")
    return app


def salesforce_org() -> SalesforceApp:
    org = SalesforceApp()
    for sobject in OBJECTS:
        org.put(sobject, *read_csv((SF_FIXTURES / f"{sobject}.csv").read_text(encoding="utf-8")))
    return org


def test_pulled_and_hand_written_sources_build_the_same_marts(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch,
    zendesk_app: ZendeskApp, zendesk_server: VendorServer, zendesk_env: dict,
    qualtrics_app: QualtricsApp, qualtrics_server: VendorServer, qualtrics_env: dict,
    typeform_app: TypeformApp, typeform_server: VendorServer, typeform_env: dict,
) -> None:  # fmt: skip
    for key, value in {**SF_ENV, **HUBSPOT_ENV, "CXLOOP_TYPEFORM_SECRET": "tf-secret"}.items():
        monkeypatch.setenv(key, value)

    by_files = tmp_path / "files"
    (by_files / "salesforce").mkdir(parents=True)
    for sobject in OBJECTS:
        shutil.copy(SF_FIXTURES / f"{sobject}.csv", by_files / "salesforce" / f"{sobject}.csv")
    shutil.copytree(HUBSPOT, by_files / "hubspot")
    shutil.copytree(FIXTURES / "zendesk", by_files / "zendesk")
    (by_files / "qualtrics").mkdir()
    shutil.copy(EXPORT, by_files / "qualtrics" / EXPORT.name)
    (by_files / "typeform/responses" / FORM).mkdir(parents=True)
    shutil.copy(PAGE, by_files / "typeform/responses" / FORM / PAGE.name)
    file_sources = {
        "salesforce": {"kind": "salesforce", "path": "salesforce"},
        "hubspot": {"kind": "hubspot", "path": "hubspot"},
        "zendesk": {"kind": "zendesk", "path": "zendesk"},
        "qualtrics": qualtrics_source("http://unused"),
        "typeform": typeform_source("http://unused"),
    }
    for cfg in file_sources.values():
        cfg.pop("api", None)
    write_config(by_files, file_sources)

    pulled = tmp_path / "pulled"
    for page in sorted(FIXTURES.glob("zendesk/*/*.json")):
        if page != LATER:
            name, records = records_of(str(page))
            zendesk_app.put(name, *records)
    qualtrics_app.load_export(SURVEY, "Relational NPS", EXPORT.read_text(encoding="utf-8"))
    # Typeform processes responses as they are submitted: `before` pages in that order
    typeform_app.add(FORM, *sorted(json.loads(PAGE.read_text())["items"],
                                   key=lambda i: i["submitted_at"]))  # fmt: skip
    with serve(salesforce_org()) as org, serve(hubspot_portal()) as portal:
        config = load_config(write_config(pulled, {
            "salesforce": salesforce_source(org.url, page_size=2),
            "hubspot": {"kind": "hubspot", "path": "hubspot",
                        "api": {"base_url": portal.url, "page_size": 2,
                                "credentials": {"token": "TEST_HUBSPOT_TOKEN"}}},
            "zendesk": zendesk_source(zendesk_server.url, page_size=2),
            "qualtrics": qualtrics_source(qualtrics_server.url),
            "typeform": typeform_source(typeform_server.url, page_size=2),
        }))  # fmt: skip
        pull_source(pulled, "zendesk", config.sources["zendesk"])
        zendesk_app.put("tickets", *records_of(str(LATER))[1])  # changed since the first pull
        for name in config.sources:
            pull_source(pulled, name, config.sources[name])
    landed = {p.relative_to(pulled).parts[0] for p in pulled.rglob("pull-*")}
    assert landed == {"salesforce", "hubspot", "zendesk", "typeform"}
    assert list((pulled / "qualtrics").glob("*_pull-*.csv"))
    assert list((pulled / "hubspot/deal_companies").glob("pull-*.json"))

    from_files = build_marts(by_files, tmp_path / "home-files", monkeypatch)
    from_pull = build_marts(pulled, tmp_path / "home-pulled", monkeypatch)
    assert {"fct_tickets", "mart_nps", "fct_survey_responses", "dim_accounts"} <= set(from_files)
    for mart in ("fct_tickets", "mart_nps", "fct_survey_responses", "dim_accounts"):
        assert from_files[mart], mart
    # the HubSpot deals' companies: the primary association (7003: 9002, listed after an
    # unlabeled 9003), none for 7004 and 7006; contact 52 has only an association (9002)
    deals = dict(from_files["stg_hubspot__deals"])
    assert deals["hubspot:7001"] == "hubspot:9001" and deals["hubspot:7003"] == "hubspot:9002"
    assert deals["hubspot:7004"] is None
    assert dict(from_files["stg_hubspot__contacts"])["hubspot:52"] == "hubspot:9002"
    assert set(from_pull) == set(from_files)
    for mart, rows in from_files.items():
        assert from_pull[mart] == rows, mart
