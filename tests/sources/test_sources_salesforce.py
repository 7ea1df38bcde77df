"""Salesforce Bulk API CSV: landing, id normalization, quarantine, whole-file errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.config import ChurnConfig
from cxloop.errors import ConfigError, SourceError
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest

Query = Callable[..., list[tuple]]


def _land(run: IngestRun, entity: str) -> list:
    job = next(j for j in plan_ingest(run) if j.key == f"salesforce.{entity}")
    return ingest_entity(run, job)


def test_good_rows_land_with_source_columns_and_metadata(run: IngestRun, query: Query) -> None:
    [result] = _land(run, "account")
    columns = [
        c
        for (c,) in query(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = 'salesforce__account' order by ordinal_position"
        )
    ]
    assert columns[:3] == ["Id", "Name", "Type"]
    assert "Customer_Tier__c" in columns  # the unexpected extra header column is kept
    assert columns[-6:] == [
        "_batch_id",
        "_loaded_at",
        "_source",
        "_source_file",
        "_row_number",
        "_content_hash",
    ]
    rows = query(
        "select Id, Name, BillingCountry, _batch_id, _source, _source_file, _row_number "
        "from raw.salesforce__account order by _row_number"
    )
    assert rows == [
        (
            "0015g00000AbCdEAAV",
            "Acme Corp",
            "Germany",
            result.batch_id,
            "salesforce",
            "salesforce/Account.csv",
            1,
        ),
        (
            "0015g00000XyZwVAAV",
            'Globex, "the" Company',
            None,
            result.batch_id,
            "salesforce",
            "salesforce/Account.csv",
            2,
        ),
    ]
    sha = hashlib.sha256(Path(run.sources_dir, "salesforce/Account.csv").read_bytes()).hexdigest()
    assert result.batch_id == f"salesforce-account-{sha[:12]}"


def test_content_hash_is_sha256_of_the_sorted_source_fields(run: IngestRun, query: Query) -> None:
    _land(run, "user")
    [(stored_hash, *values)] = query(
        "select _content_hash, Id, Username, Email, FirstName, LastName, Name, IsActive, "
        "TimeZoneSidKey, LocaleSidKey, Title from raw.salesforce__user where _row_number = 1"
    )
    names = [
        "Id",
        "Username",
        "Email",
        "FirstName",
        "LastName",
        "Name",
        "IsActive",
        "TimeZoneSidKey",
        "LocaleSidKey",
        "Title",
    ]
    canonical = json.dumps(
        dict(zip(names, values, strict=True)),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert stored_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_15_character_ids_become_18(run: IngestRun, query: Query) -> None:
    for entity in ("account", "contact", "opportunity", "user"):
        _land(run, entity)
    assert query("select Id, OwnerId from raw.salesforce__account order by _row_number") == [
        ("0015g00000AbCdEAAV", "0055g00000Qm1aBAAR"),
        ("0015g00000XyZwVAAV", "0055g00000Wn8cDAAR"),
    ]
    assert query("select AccountId from raw.salesforce__contact") == [("0015g00000AbCdEAAV",)]
    assert query("select Id from raw.salesforce__user where Username like 'sam%'") == [
        ("0055g00000Wn8cDAAR",)
    ]


def test_bad_rows_are_quarantined_with_row_field_and_reason(run: IngestRun, query: Query) -> None:
    [account] = _land(run, "account")
    [contact] = _land(run, "contact")
    rows = query(
        "select entity, source_file, row_number, field, reason, batch_id "
        "from ops.quarantine order by entity, row_number"
    )
    assert rows == [
        (
            "account",
            "salesforce/Account.csv",
            3,
            "CreatedDate",
            "CreatedDate: '2023-02-30T08:00:00.000Z' is not an ISO datetime like "
            "2024-03-27T22:52:16.000Z",
            account.batch_id,
        ),
        (
            "account",
            "salesforce/Account.csv",
            4,
            "Name",
            "Name: is required but empty",
            account.batch_id,
        ),
        (
            "account",
            "salesforce/Account.csv",
            6,
            "Id",
            "Id: '001XYZ' is not a Salesforce id of 15 or 18 characters (valid checksum)",
            account.batch_id,
        ),
        (
            "contact",
            "salesforce/Contact.csv",
            2,
            "HasOptedOutOfEmail",
            "HasOptedOutOfEmail: 'maybe' is not a boolean (true/false or 1/0)",
            contact.batch_id,
        ),
        (
            "contact",
            "salesforce/Contact.csv",
            3,
            "LastName",
            "LastName: is required but empty",
            contact.batch_id,
        ),
    ]
    [(original,)] = query("select original from ops.quarantine where field = 'HasOptedOutOfEmail'")
    assert original.startswith('"0035g00000Rt3UxAAJ",') and '"VP, ""Customer"" Success"' in original


def test_a_quoted_newline_stays_inside_its_field(run: IngestRun, query: Query) -> None:
    _land(run, "contact")
    assert query("select Title, _row_number from raw.salesforce__contact") == [
        ("Head of\nSupport", 1)
    ]


def test_a_repeated_row_in_the_file_is_a_duplicate(run: IngestRun) -> None:
    [result] = _land(run, "account")  # row 5 repeats row 1, with OwnerId in its 18-char form
    assert (
        result.rows_read,
        result.rows_landed,
        result.rows_quarantined,
        result.rows_duplicate,
    ) == (6, 2, 3, 1)


def test_a_ragged_row_is_quarantined(run: IngestRun, query: Query) -> None:
    path = Path(run.sources_dir, "salesforce/User.csv")
    path.write_text(path.read_text() + '"0055g00000Zz9yXAAR","short.row@example.com"\n')
    [result] = _land(run, "user")
    assert (result.rows_read, result.rows_landed, result.rows_quarantined) == (3, 2, 1)
    assert query("select row_number, field, reason from ops.quarantine") == [
        (3, None, "row: has 2 values, expected 10 like the header")
    ]


def test_a_new_export_lands_only_its_new_records(run: IngestRun, query: Query) -> None:
    _land(run, "account")
    path = Path(run.sources_dir, "salesforce/Account.csv")
    path.write_text(
        path.read_text() + '"0015g00000PqRsTAAV","Initech","Customer - Channel","",'
        '"","","","0055g00000Qm1aBAAR","2023-02-28T08:00:00.000Z",'
        '"2024-04-01T08:00:00.000Z","Pro","NA",""\n'
    )
    [second] = _land(run, "account")
    assert (
        second.rows_read,
        second.rows_landed,
        second.rows_quarantined,
        second.rows_duplicate,
    ) == (7, 1, 3, 3)
    assert query("select count(*) from raw.salesforce__account") == [(3,)]
    assert query(
        "select Name, _row_number from raw.salesforce__account where _batch_id = ?",
        [second.batch_id],
    ) == [("Initech", 7)]


def test_wrong_columns_fail_the_file_before_anything_is_written(
    run: IngestRun, query: Query
) -> None:
    path = Path(run.sources_dir, "salesforce/Opportunity.csv")
    path.write_text(path.read_text().replace('"StageName"', '"Stage"', 1))
    with pytest.raises(SourceError) as err:
        _land(run, "opportunity")
    assert str(err.value) == (
        "salesforce/Opportunity.csv, row 1: wrong columns: missing StageName "
        "(expected columns Id, AccountId, Name, StageName, CloseDate, IsClosed, IsWon)"
    )
    assert query("select count(*) from ops.ingest_files") == [(0,)]
    assert query(
        "select count(*) from information_schema.tables "
        "where table_name = 'salesforce__opportunity'"
    ) == [(0,)]


def test_a_missing_source_folder_is_an_error(run: IngestRun) -> None:
    shutil.rmtree(Path(run.sources_dir, "salesforce"))
    with pytest.raises(
        SourceError,
        match=r"salesforce: source folder of 'salesforce' is missing "
        r"\(expected a folder of salesforce exports",
    ):
        plan_ingest(run)


def _rename_term_fields(run: IngestRun) -> None:
    """An org whose term fields are Contract_Start__c / Contract_End__c."""
    path = Path(run.sources_dir, "salesforce/Opportunity.csv")
    text = path.read_text()
    text = text.replace('"Subscription_Start_Date__c"', '"Contract_Start__c"', 1)
    path.write_text(text.replace('"Subscription_End_Date__c"', '"Contract_End__c"', 1))


def test_a_column_mapping_lands_differently_named_fields_under_our_names(
    run: IngestRun, query: Query
) -> None:
    _rename_term_fields(run)
    run.config.sources["salesforce"].churn = ChurnConfig(method="term_fields")
    with pytest.raises(
        SourceError,
        match="wrong columns for churn method term_fields: missing Subscription_Start_Date__c",
    ):
        _land(run, "opportunity")
    run.config.sources["salesforce"].churn = None  # the mapping below implies term_fields
    run.config.sources["salesforce"].columns = {
        "opportunity": {
            "Subscription_Start_Date__c": "Contract_Start__c",
            "Subscription_End_Date__c": "Contract_End__c",
        }
    }
    assert run.config.sources["salesforce"].churn_config().method == "term_fields"
    [result] = _land(run, "opportunity")
    assert result.rows_landed > 0
    columns = [r[0] for r in query("describe raw.salesforce__opportunity")]
    assert "Subscription_End_Date__c" in columns and "Contract_End__c" not in columns
    [(ended,)] = query("select count(Subscription_End_Date__c) from raw.salesforce__opportunity")
    assert ended > 0


def test_a_column_mapping_to_a_missing_or_clashing_column_names_it(run: IngestRun) -> None:
    source = run.config.sources["salesforce"]
    source.columns = {"opportunity": {"Subscription_Start_Date__c": "Contract_Start__c"}}
    with pytest.raises(
        SourceError,
        match=r"Opportunity.csv, row 1: wrong columns: missing Contract_Start__c "
        r"\(named in cxloop.yaml columns\)",
    ):
        _land(run, "opportunity")
    _rename_term_fields(run)
    source.columns = {"opportunity": {"Subscription_End_Date__c": "Contract_End__c", "Name": "Id"}}
    with pytest.raises(SourceError, match="ambiguous columns: Name present"):
        _land(run, "opportunity")
    source.columns = {"opportunities": {"Name": "Id"}}
    with pytest.raises(ConfigError, match=r"key 'columns.opportunities'.*expected one of account"):
        plan_ingest(run)
