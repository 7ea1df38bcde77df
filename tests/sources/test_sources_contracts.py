"""Row contracts: Salesforce id checksums, typed-field checks, required fields, columns."""

from __future__ import annotations

import pytest

from cxloop.errors import SourceError
from cxloop.sources.contracts import EntityContract, contract_for, to_sfid18


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),
        ("0019000000B98de", "0019000000B98deAAB"),
        ("a01M00000062mPg", "a01M00000062mPgIAI"),
        ("001M000000qfPyS", "001M000000qfPySIAU"),
        ("a0FE000000D6r3F", "a0FE000000D6r3FMAR"),
        ("0F9E000000092w2", "0F9E000000092w2KAA"),
        ("a0RE000000IJmcN", "a0RE000000IJmcNMAT"),
        ("aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"),
        ("AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA555"),
    ],
)
def test_15_char_ids_get_the_published_checksum(id15: str, id18: str) -> None:
    assert to_sfid18(id15) == id18


def test_ids_that_are_not_15_chars_are_left_alone() -> None:
    assert to_sfid18("0019000000B98deAAB") == "0019000000B98deAAB"
    assert to_sfid18("001XYZ") == "001XYZ"


@pytest.mark.parametrize(
    ("source", "entity", "row", "reason"),
    [
        ("qualtrics", "responses", {"nps": "11"}, "nps: '11' is not an integer from 0 to 10"),
        ("qualtrics", "responses", {"nps": "-1"}, "nps: '-1' is not an integer from 0 to 10"),
        ("qualtrics", "responses", {"nps": "7.5"}, "nps: '7.5' is not an integer from 0 to 10"),
        (
            "qualtrics",
            "responses",
            {"nps_group": "4"},
            "nps_group: '4' is not an integer from 1 to 3",
        ),
        ("qualtrics", "responses", {"csat": "0"}, "csat: '0' is not an integer from 1 to 5"),
        ("qualtrics", "responses", {"ces": "8"}, "ces: '8' is not an integer from 1 to 7"),
        (
            "qualtrics",
            "responses",
            {"RecordedDate": "2024-05-02T10:00:00Z"},
            "RecordedDate: '2024-05-02T10:00:00Z' is not a datetime like 2024-05-02 10:01:07",
        ),
        ("zendesk", "tickets", {"id": "abc"}, "id: 'abc' is not an integer id"),
        (
            "zendesk",
            "tickets",
            {"updated_at": "2024-03-01T09:15:02.000Z"},
            "updated_at: '2024-03-01T09:15:02.000Z' is not an ISO datetime like "
            "2024-03-01T09:15:02Z",
        ),
        (
            "zendesk",
            "ticket_events",
            {"timestamp": "-5"},
            "timestamp: '-5' is not Unix epoch seconds",
        ),
        (
            "salesforce",
            "opportunity",
            {"Amount": "12,500"},
            "Amount: '12,500' is not a decimal number",
        ),
        (
            "salesforce",
            "opportunity",
            {"IsWon": "yes"},
            "IsWon: 'yes' is not a boolean (true/false or 1/0)",
        ),
        (
            "salesforce",
            "opportunity",
            {"Subscription_End_Date__c": "2025-02-30"},
            "Subscription_End_Date__c: '2025-02-30' is not a date like 2024-06-30",
        ),
        (
            "salesforce",
            "account",
            {"OwnerId": "0019000000B98deAAA"},
            "OwnerId: '0019000000B98deAAA' is not a Salesforce id of 15 or 18 characters "
            "(valid checksum)",
        ),
    ],
)
def test_a_bad_value_is_reported_with_what_was_expected(
    source: str, entity: str, row: dict[str, str], reason: str
) -> None:
    found = contract_for(source, entity).violations(row)
    assert [v.reason for v in found if v.field in row] == [reason]


@pytest.mark.parametrize(
    ("source", "entity", "row"),
    [
        (
            "qualtrics",
            "responses",
            {
                "nps": "0",
                "nps_group": "1",
                "csat": "5",
                "ces": "7",
                "RecordedDate": "2024-05-02 10:03:41",
                "Finished": "True",
            },
        ),
        (
            "zendesk",
            "tickets",
            {
                "id": "1001",
                "requester_id": "501",
                "external_id": "SF-1",
                "created_at": "2024-03-01T09:15:02Z",
                "tags": '["a"]',
            },
        ),
        (
            "salesforce",
            "opportunity",
            {
                "Amount": "1.25E4",
                "CloseDate": "2024-06-30",
                "LastModifiedDate": "2024-03-27T22:52:16.000Z",
                "AccountId": "0019000000B98deAAB",
                "StageName": "Won",
            },
        ),
    ],
)
def test_good_values_pass(source: str, entity: str, row: dict[str, str]) -> None:
    found = contract_for(source, entity).violations(row)
    assert [v for v in found if v.field in row] == []


def test_required_fields_must_be_present_and_non_empty() -> None:
    found = contract_for("zendesk", "tickets").violations(
        {"id": None, "created_at": "2024-03-01T09:15:02Z"}
    )
    assert [v.reason for v in found] == [
        "id: is required but empty",
        "updated_at: is required but empty",
        "status: is required but empty",
    ]


def test_missing_columns_are_named_in_the_error() -> None:
    with pytest.raises(SourceError) as err:
        contract_for("salesforce", "opportunity").check_columns(
            "salesforce/Opportunity.csv", ["Id", "Name", "StageName"]
        )
    assert "salesforce/Opportunity.csv, row 1: wrong columns: missing AccountId, CloseDate" in str(
        err.value
    )


def test_a_contract_with_an_unknown_field_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field type 'nps_score'"):
        EntityContract("qualtrics", "responses", types={"nps": "nps_score"})
