"""A standard Salesforce org (tests/fixtures/standard_org, Bulk API 2.0 CSVs written by hand):
ingest + dbt, then the churned accounts, churn dates and ARR equal the hand-worked lists for
each churn method. As of 2025-03-14 (the latest LastModifiedDate)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import yaml

from cxloop.build import run_dbt_build
from cxloop.config import load_config
from cxloop.flows.ingest import ingest as ingest_sources

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "standard_org"
SELECT = [
    "build",
    "--select",
    "+dim_accounts",
    "+account_snapshots",
    "--indirect-selection",
    "cautious",
    "--exclude-resource-type",
    "unit_test",
]
Query = Callable[[str], list[tuple]]

# Hand-worked from the fixture (docs/metrics.md, renewal opportunities):
# Bluth lost its Replacement renewal; Globex's null-Type deal after its first win is a renewal,
# lost; Hooli lost a custom-Type Renewal; Initech lost an Upgrade (every non-new Type is a
# renewal by default). Not churned: Acme (renewed), Cyberdyne (lost, then won back), Dunder
# Mifflin (Downgrade won), Encom (renewal open past its CloseDate: overdue), Jupiter (its lost
# renewal is IsDeleted in the queryAll export), Fabrikam (a prospect that never won).
RENEWAL_CHURN = {
    "Bluth Company": date(2024, 2, 14),
    'Globex, "the" Corporation': date(2024, 5, 9),
    "Hooli": date(2024, 6, 28),
    "Initech": date(2024, 8, 1),
}
RENEWAL_ARR = {
    "Acme Corp": 26000.0,  # the latest Closed Won (the 2024 renewal)
    "Bluth Company": 0.0,
    "Cyberdyne Systems": 21000.0,  # the win-back
    "Dunder Mifflin": 30000.0,  # the downgrade
    "Encom": 18000.0,  # still a customer while its renewal is overdue
    "Fabrikam": None,  # never a customer
    'Globex, "the" Corporation': 0.0,
    "Hooli": 0.0,
    "Initech": 0.0,
    "Jupiter Mining": 15000.0,
}


def build(tmp_path: Path, churn: dict | None = None) -> Query:
    """Copy the fixture (with another churn block if given), ingest it, build the churn models."""
    sources = tmp_path / "sources"
    shutil.copytree(FIXTURE, sources)
    config_path = sources / "cxloop.yaml"
    if churn is not None:
        data = yaml.safe_load(config_path.read_text())
        data["sources"]["crm"]["churn"] = churn
        config_path.write_text(yaml.safe_dump(data))
    warehouse = tmp_path / "cx.duckdb"
    report = ingest_sources(sources, warehouse=warehouse, lake_dir=tmp_path / "lake")
    assert report["totals"]["quarantined"] == 0, report
    assert report["entities"]["salesforce.opportunity"]["landed"] == 22
    dbt = run_dbt_build(SELECT, warehouse, tmp_path, load_config(config_path), "test-run").report()
    assert dbt["success"], dbt["failures"]

    def query(sql: str) -> list[tuple]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def churned(query: Query) -> dict[str, date]:
    return dict(query("select account_name, churned_date from marts.dim_accounts where is_churned"))


def test_a_standard_org_churns_on_lost_renewals(tmp_path: Path, prefect_harness: None) -> None:
    query = build(tmp_path)
    assert query("select as_of_date from intermediate.int_as_of__derived") == [(date(2025, 3, 14),)]
    assert churned(query) == RENEWAL_CHURN
    assert dict(query("select account_name, arr_amount from marts.dim_accounts")) == RENEWAL_ARR
    assert query(
        "select distinct account_id from intermediate.int_subscriptions__derived "
        "where is_renewal_overdue"
    ) == [("0014x00001EnComAAF",)]
    # Bluth: from its first win (2023-02-15) to its churn date; Acme: to the as-of date
    assert dict(
        query(
            "select account_name, tenure_days from marts.dim_accounts "
            "where account_name in ('Bluth Company', 'Acme Corp')"
        )
    ) == {"Bluth Company": 364, "Acme Corp": 711}
    # the churn label: churned within 90 days after the snapshot (2024-02-14 - 90 = 2023-11-16)
    labels = query(
        "select snapshot_date, churned_within_horizon, arr_amount from ml.account_snapshots "
        "where account_id = '0014x00001BluThAAJ' and snapshot_date >= '2023-09-30' "
        "order by snapshot_date"
    )
    assert labels == [
        (date(2023, 9, 30), False, 12500000.0),
        (date(2023, 10, 31), False, 12500000.0),
        (date(2023, 11, 30), True, 12500000.0),
        (date(2023, 12, 31), True, 12500000.0),
        (date(2024, 1, 31), True, 12500000.0),
    ]
    # the manager of the CSM, for escalations
    assert query(
        "select manager_user_id from staging.stg_salesforce__users "
        "where user_id = '0054x00000CsmAaAAJ'"
    ) == [("0054x00000MgrBbAAJ",)]


def test_renewal_types_narrow_what_counts_as_churn(tmp_path: Path, prefect_harness: None) -> None:
    """Upsells booked apart: Initech's lost Upgrade is an add-on, not churn."""
    renewals = ["Renewal", "Existing Customer - Replacement", "Existing Customer - Downgrade"]
    query = build(tmp_path, {"new_business_types": ["New Customer"], "renewal_types": renewals})
    expected = {k: v for k, v in RENEWAL_CHURN.items() if k != "Initech"}
    assert churned(query) == expected
    assert query("select arr_amount from marts.dim_accounts where account_name = 'Initech'") == [
        (30000.0,)
    ]


def test_the_contract_method_churns_when_the_last_activated_contract_ends(
    tmp_path: Path, prefect_harness: None
) -> None:
    """Bluth's only contract ended 2024-02-14; Encom's renewal contract is still a Draft;
    Hooli's contract is deleted; accounts without an activated contract were never customers."""
    query = build(tmp_path, {"method": "contract"})
    assert churned(query) == {"Bluth Company": date(2024, 2, 14), "Encom": date(2024, 11, 19)}
    arr = dict(query("select account_name, arr_amount from marts.dim_accounts"))
    # Acme: the opportunity linked by ContractId; Dunder Mifflin: 48000 over a 24-month term
    assert {k: arr[k] for k in ("Acme Corp", "Dunder Mifflin", "Bluth Company", "Hooli")} == {
        "Acme Corp": 26000.0,
        "Dunder Mifflin": 24000.0,
        "Bluth Company": 0.0,
        "Hooli": None,
    }
