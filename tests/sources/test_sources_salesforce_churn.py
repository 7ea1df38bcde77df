"""What a Salesforce export must carry for its churn method; a method it cannot support is a
one-line error naming the file and what was expected, and nothing is landed."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.config import ChurnConfig
from cxloop.errors import SourceError
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest

STANDARD_OPPORTUNITY = (
    '"Id","AccountId","Name","Type","StageName","Amount","CloseDate","IsClosed","IsWon"\n'
    '"0065g00000Ha7ZpAAJ","0015g00000AbCdEAAV","Acme new","New Customer","Closed Won",'
    '"1.25E4","2024-06-30","true","true"\n'
)
CONTRACT = (
    '"Id","AccountId","ContractNumber","StartDate","EndDate","ContractTerm","Status",'
    '"StatusCode","IsDeleted"\n'
    '"8005g00000AbCdEAAV","0015g00000AbCdEAAV","00000100","2024-01-01","2024-12-31","12",'
    '"Activated","Activated","false"\n'
    '"8005g00000AbCdFAAV","0015g00000AbCdEAAV","00000101","2025-01-01","","12",'
    '"Draft","Draft","false"\n'
)


def _land(run: IngestRun, entity: str) -> list:
    job = next(j for j in plan_ingest(run) if j.key == f"salesforce.{entity}")
    return ingest_entity(run, job)


def _salesforce(run: IngestRun) -> Path:
    return Path(run.sources_dir, "salesforce")


def test_a_standard_org_without_term_fields_lands(run: IngestRun, query) -> None:
    (_salesforce(run) / "Opportunity.csv").write_text(STANDARD_OPPORTUNITY)
    [result] = _land(run, "opportunity")
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (1, 1, 0)
    assert query('select "Type", "Amount" from raw.salesforce__opportunity') == [
        ("New Customer", "1.25E4")
    ]


def test_term_fields_method_without_the_fields_names_file_method_and_fix(
    run: IngestRun, query
) -> None:
    (_salesforce(run) / "Opportunity.csv").write_text(STANDARD_OPPORTUNITY)
    run.config.sources["salesforce"].churn = ChurnConfig(method="term_fields")
    with pytest.raises(SourceError) as err:
        _land(run, "opportunity")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        "salesforce/Opportunity.csv, row 1: wrong columns for churn method term_fields: "
        "missing Subscription_Start_Date__c, Subscription_End_Date__c (expected columns "
        "Subscription_Start_Date__c, Subscription_End_Date__c (map your org's term fields"
    )
    assert query("select count(*) from ops.ingest_files") == [(0,)]


def test_renewal_method_needs_the_type_column(run: IngestRun) -> None:
    text = STANDARD_OPPORTUNITY.replace('"Type",', "").replace('"New Customer",', "")
    (_salesforce(run) / "Opportunity.csv").write_text(text)
    with pytest.raises(
        SourceError,
        match=r"^salesforce/Opportunity.csv, row 1: wrong columns for churn method "
        r"renewal_opportunities: missing Type \(expected columns Type",
    ):
        _land(run, "opportunity")


def test_contract_method_without_contract_csv_names_the_missing_file(run: IngestRun) -> None:
    run.config.sources["salesforce"].churn = ChurnConfig(method="contract")
    with pytest.raises(SourceError) as err:
        plan_ingest(run)
    assert str(err.value).startswith(
        "salesforce/Contract.csv: missing: the churn method is contract "
        "(expected the standard Contract object exported as Contract.csv"
    )


def test_contract_csv_lands_as_a_salesforce_entity(run: IngestRun, query) -> None:
    (_salesforce(run) / "Contract.csv").write_text(CONTRACT)
    run.config.sources["salesforce"].churn = ChurnConfig(method="contract")
    [result] = _land(run, "contract")
    assert (result.rows_landed, result.rows_quarantined) == (2, 0)
    assert query(
        'select "Id", "StartDate", "EndDate", "Status" from raw.salesforce__contract '
        "order by _row_number"
    ) == [
        ("8005g00000AbCdEAAV", "2024-01-01", "2024-12-31", "Activated"),
        ("8005g00000AbCdFAAV", "2025-01-01", None, "Draft"),
    ]


def test_a_bad_contract_row_is_quarantined_with_its_field(run: IngestRun, query) -> None:
    bad = CONTRACT.replace('"2024-12-31","12"', '"31/12/2024","twelve"', 1)
    (_salesforce(run) / "Contract.csv").write_text(bad)
    [result] = _land(run, "contract")
    assert (result.rows_landed, result.rows_quarantined) == (1, 1)
    assert query("select row_number, field, reason from ops.quarantine") == [
        (
            1,
            "EndDate",
            "EndDate: '31/12/2024' is not a date like 2024-06-30; "
            "ContractTerm: 'twelve' is not an integer",
        )
    ]
