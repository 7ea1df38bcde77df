"""HubSpot beside Salesforce, through the whole build: the CRM unions feed identity and the dims.

The hand-written pages of tests/fixtures/sources/hubspot and the Salesforce fixture are landed
and built (dbt phase 1, identity, dbt phase 3) in a fresh CXLOOP_HOME.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sources"
CONFIG = """version: 1
sources:
  crm:
    kind: hubspot
    path: hubspot
  legacy_crm:
    kind: salesforce
    path: salesforce
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    from cxloop.flows.build import build
    from cxloop.flows.ingest import ingest

    home = tmp_path_factory.mktemp("hubspot_marts")
    sources = home / "sources"
    for name in ("hubspot", "salesforce"):
        shutil.copytree(FIXTURES / name, sources / name)
    (sources / "cxloop.yaml").write_text(CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CXLOOP_HOME", str(home))
        patch.delenv("CXLOOP_CONFIG", raising=False)
        ingest(sources)
        assert build(config_path=str(sources / "cxloop.yaml"))["success"]
    yield home / "warehouse" / "cx.duckdb"


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_live_hubspot_contact_is_a_crm_anchor_of_its_own(warehouse: Path) -> None:
    live = rows(warehouse, "select contact_id from staging.stg_hubspot__contacts order by 1")
    assert live  # the fixture has live contacts
    mapped = rows(
        warehouse,
        "select source_record_id from marts.customer_identity_map "
        "where source = 'hubspot' and match_rule = 'hubspot_contact' order by 1",
    )
    assert mapped == live
    # two CRM contacts never share a customer
    shared = rows(
        warehouse,
        "select customer_id from marts.customer_identity_map "
        "where source in ('salesforce', 'hubspot') group by 1 having count(*) > 1",
    )
    assert shared == []


def test_hubspot_companies_are_accounts_and_archived_ones_are_not(warehouse: Path) -> None:
    companies = rows(warehouse, "select account_id from staging.stg_hubspot__companies order by 1")
    accounts = rows(
        warehouse, "select account_id from marts.dim_accounts where account_id like 'hubspot:%'"
    )
    assert sorted(accounts) == companies
    archived = rows(
        warehouse,
        "select count(*) from raw.hubspot__companies where archived = 'true' "
        "and 'hubspot:' || id in (select account_id from marts.dim_accounts)",
    )
    assert archived == [(0,)]


def test_hubspot_contacts_reach_the_customer_360_with_their_account(warehouse: Path) -> None:
    customers = rows(
        warehouse,
        "select count(*), count(distinct customers.account_id) "
        "from marts.dim_customers as customers join marts.customer_identity_map as ids "
        "on ids.customer_id = customers.customer_id "
        "where ids.source = 'hubspot'",
    )
    (n_customers, n_accounts) = customers[0]
    live = rows(warehouse, "select count(*) from staging.stg_hubspot__contacts")[0][0]
    with_company = rows(
        warehouse,
        "select count(distinct account_id) from staging.stg_hubspot__contacts "
        "where account_id in (select account_id from staging.stg_hubspot__companies)",
    )[0][0]
    assert n_customers == live and n_accounts == with_company
