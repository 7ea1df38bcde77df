"""Raw Salesforce Bulk API 2.0 CSV exports: 18-character ids, ISO datetimes, text booleans."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    BOOLEAN_TEXT,
    CRITICAL,
    DECIMAL,
    EMAIL,
    ISO_DATE,
    ISO_DATETIME,
    DatasetSpec,
    matches,
    not_null,
)
from cxloop.expectations._raw import raw_spec

FAMILY = "raw_salesforce"
SALESFORCE_ID = r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"
LANGUAGE_TAG = r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})?"
KEY_PREFIX = {
    "account": "001",
    "contact": "003",
    "user": "005",
    "opportunity": "006",
    "contract": "800",
}


def record_id(entity: str) -> list[Expectation]:
    """`Id` is present, a 15/18-character Salesforce id, and (warning) has the object's prefix."""
    prefix = KEY_PREFIX[entity]
    return [
        not_null("Id"),
        matches("Id", SALESFORCE_ID, CRITICAL),
        matches("Id", rf"{prefix}[A-Za-z0-9]{{12}}(?:[A-Za-z0-9]{{3}})?"),
    ]


def reference(column: str) -> Expectation:
    """An optional lookup field: empty or a Salesforce id."""
    return matches(column, SALESFORCE_ID, allow_empty=True)


def system_dates() -> list[Expectation]:
    """CreatedDate / LastModifiedDate are ISO-8601 datetimes."""
    return [matches(c, ISO_DATETIME, allow_empty=True) for c in ("CreatedDate", "LastModifiedDate")]


def account_checks() -> list[Expectation]:
    return [
        *record_id("account"),
        not_null("Name", "warning"),
        reference("OwnerId"),
        *system_dates(),
    ]


def contact_checks() -> list[Expectation]:
    return [
        *record_id("contact"),
        reference("AccountId"),
        matches("Email", EMAIL, allow_empty=True),
        matches("HasOptedOutOfEmail", BOOLEAN_TEXT, allow_empty=True),
        matches("Preferred_Language__c", LANGUAGE_TAG, allow_empty=True),
        *system_dates(),
    ]


def opportunity_checks() -> list[Expectation]:
    return [
        *record_id("opportunity"),
        reference("AccountId"),
        matches("Amount", DECIMAL, allow_empty=True),
        matches("CloseDate", ISO_DATE, allow_empty=True),
        matches("IsClosed", BOOLEAN_TEXT, allow_empty=True),
        matches("IsWon", BOOLEAN_TEXT, allow_empty=True),
        matches("Seats__c", DECIMAL, allow_empty=True),
        matches("TotalOpportunityQuantity", DECIMAL, allow_empty=True),
        matches("Subscription_Start_Date__c", ISO_DATE, allow_empty=True),
        matches("Subscription_End_Date__c", ISO_DATE, allow_empty=True),
        *system_dates(),
    ]


def contract_checks() -> list[Expectation]:
    return [
        *record_id("contract"),
        reference("AccountId"),
        matches("StartDate", ISO_DATE, allow_empty=True),
        matches("EndDate", ISO_DATE, allow_empty=True),
        matches("ContractTerm", r"\d+", allow_empty=True),
        *system_dates(),
    ]


def user_checks() -> list[Expectation]:
    return [
        *record_id("user"),
        matches("Email", EMAIL, allow_empty=True),
        matches("IsActive", BOOLEAN_TEXT, allow_empty=True),
        matches("TimeZoneSidKey", r"[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*", allow_empty=True),
        matches("LocaleSidKey", r"[a-z]{2,3}(?:_[A-Za-z0-9]{2,4})*", allow_empty=True),
    ]


SPECS: tuple[DatasetSpec, ...] = (
    raw_spec("raw.salesforce__account", FAMILY, "salesforce", ("Id", "Name"), account_checks),
    raw_spec("raw.salesforce__contact", FAMILY, "salesforce", ("Id", "AccountId"), contact_checks),
    raw_spec(
        "raw.salesforce__opportunity",
        FAMILY,
        "salesforce",
        ("Id", "AccountId", "CloseDate"),
        opportunity_checks,
    ),
    raw_spec(
        "raw.salesforce__contract", FAMILY, "salesforce", ("Id", "AccountId"), contract_checks
    ),
    raw_spec("raw.salesforce__user", FAMILY, "salesforce", ("Id",), user_checks),
)
