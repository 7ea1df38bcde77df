"""The companies of pulled HubSpot deals and contacts (stg_hubspot__deal_companies and
stg_hubspot__contact_companies) from hand-written v4 association answers: the newest answer
per object wins, an answer listing none clears the company, the primary association type (5
for deals, 1 for contacts) beats the order listed. One dbt build of the two models."""

from __future__ import annotations

import json

import duckdb
import pytest
from test_hubspot_staging import dbt

from cxloop.flows.ingest import ingest as ingest_sources
from cxloop.tables import ensure_warehouse

PRIMARY_DEAL = {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
PRIMARY_CONTACT = {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}
DEAL_UNLABELED = {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None}
CONTACT_UNLABELED = {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}


def to(*companies: tuple[int, list[dict]]) -> list[dict]:
    return [{"toObjectId": cid, "associationTypes": types} for cid, types in companies]


def answer(completed: str, results: dict[str, list[dict]], without: tuple[str, ...] = ()) -> dict:
    """A v4 batch-read answer as HubSpot sends it (207 with errors for objects without one)."""
    listed = [{"from": {"id": i}, "to": t} for i, t in results.items()]
    body: dict = {"status": "COMPLETE", "startedAt": completed, "completedAt": completed,
                  "results": listed}  # fmt: skip
    if without:
        body["numErrors"] = len(without)
        body["errors"] = [{"status": "error", "category": "VALIDATION_ERROR",
                           "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                           "message": f"No company is associated with {i}.",
                           "context": {"fromObjectId": [i]}} for i in without]  # fmt: skip
    return body


@pytest.fixture(scope="module")
def companies(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict:
    root = tmp_path_factory.mktemp("hubspot_pulled_companies")
    folder = root / "sources" / "hubspot"
    pages = {
        "deal_companies/pull-00000001.json": answer("2024-08-01T10:00:00.000Z", {
            "8001": to((9003, [DEAL_UNLABELED]), (9001, [PRIMARY_DEAL, DEAL_UNLABELED])),
            "8002": to((9002, [DEAL_UNLABELED]), (9003, [DEAL_UNLABELED])),
            "8003": to((9001, [PRIMARY_DEAL])),
        }, without=("8004",)),
        "deal_companies/pull-00000002.json": answer("2024-08-02T10:00:00.000Z", {
            "8002": to((9003, [PRIMARY_DEAL])),
        }, without=("8003",)),
        "contact_companies/pull-00000001.json": answer("2024-08-01T10:00:00.000Z", {
            "61": to((9002, [CONTACT_UNLABELED]), (9001, [PRIMARY_CONTACT])),
            # type 5 is a deal's primary, not a contact's: the first listed wins
            "62": to((9003, [CONTACT_UNLABELED]), (9002, [PRIMARY_DEAL])),
        }),
    }  # fmt: skip
    for rel, body in pages.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(json.dumps(body), encoding="utf-8")
    (root / "sources" / "cxloop.yaml").write_text(
        "version: 1\nsources:\n  crm:\n    kind: hubspot\n    path: hubspot\n"
    )
    warehouse = root / "cx.duckdb"
    ingest_sources(root / "sources", warehouse=warehouse, lake_dir=root / "lake")
    con = duckdb.connect(str(warehouse))
    try:
        ensure_warehouse(con)
    finally:
        con.close()
    dbt(root, {"CXLOOP_WAREHOUSE": str(warehouse)}, "--select",
        "stg_hubspot__deal_companies", "stg_hubspot__contact_companies")  # fmt: skip
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            "raw": con.execute(
                "select from_id, \"to\" = '[]' from raw.hubspot__deal_companies order by all"
            ).fetchall(),
            "deals": con.execute(
                "select * from staging.stg_hubspot__deal_companies order by 1"
            ).fetchall(),
            "contacts": con.execute(
                "select * from staging.stg_hubspot__contact_companies order by 1"
            ).fetchall(),
        }
    finally:
        con.close()


def test_every_answer_lands_one_row_per_object_and_one_per_object_without_a_company(
    companies: dict,
) -> None:
    assert companies["raw"] == [
        ("8001", False), ("8002", False), ("8002", False), ("8003", False), ("8003", True),
        ("8004", True),
    ]  # fmt: skip


def test_the_newest_answer_and_the_primary_company_win(companies: dict) -> None:
    # 8001: primary 9001 though listed second; 8002: the newer answer (9003) replaces the
    # first listed of the older (9002); 8003: the newer answer lists none; 8004: never had one
    assert companies["deals"] == [("hubspot:8001", "hubspot:9001"),
                                  ("hubspot:8002", "hubspot:9003")]  # fmt: skip
    assert companies["contacts"] == [("hubspot:61", "hubspot:9001"),
                                     ("hubspot:62", "hubspot:9003")]  # fmt: skip
