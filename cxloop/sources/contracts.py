"""Row contracts: which columns a source file must have and what each field's text must look like.

The checks are table-driven: a field gets a type from the contract (by exact name, then by the
first matching name pattern), and each type is one predicate plus the words for what it expects.

Over 400 lines on purpose: it is one table, every source's contracts and the field types they
share; split per source, the shared types would be defined apart from their users.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cxloop.errors import SourceError
from cxloop.sqlnames import fold_case

SFID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SFID_15 = re.compile(r"^[A-Za-z0-9]{15}$")
_SFID_18 = re.compile(r"^[A-Za-z0-9]{15}[A-Z0-5]{3}$")
_INT = re.compile(r"^-?\d+$")
_ZENDESK_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_SALESFORCE_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$"
)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})$")
_QUALTRICS_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HUBSPOT_ID = re.compile(r"^\d{1,19}$")
_HUBSPOT_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
)
_INT64_MAX = 2**63 - 1


def sfid_checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character Salesforce id case-safe (18)."""
    return "".join(
        SFID_ALPHABET[sum(1 << j for j, c in enumerate(id15[i * 5 : i * 5 + 5]) if "A" <= c <= "Z")]
        for i in range(3)
    )


def to_sfid18(value: str) -> str:
    """A 15-character Salesforce id in its 18-character form; anything else unchanged."""
    return value + sfid_checksum(value) if _SFID_15.match(value) else value


def _is_sfid(v: str) -> bool:
    if _SFID_15.match(v):
        return True
    return bool(_SFID_18.match(v)) and v[15:] == sfid_checksum(v[:15])


def _is_int_between(low: int, high: int) -> Callable[[str], bool]:
    return lambda v: bool(_INT.match(v.strip())) and low <= int(v) <= high


def _is_decimal(v: str) -> bool:
    try:
        number = float(v)
    except ValueError:
        return False
    return number == number and abs(number) != float("inf")


def _parses(pattern: re.Pattern[str], parse: Callable[[str], object]) -> Callable[[str], bool]:
    def check(v: str) -> bool:
        if not pattern.match(v):
            return False
        try:
            parse(v)
        except ValueError:
            return False
        return True

    return check


def _iso(v: str) -> datetime:
    return datetime.fromisoformat(v.replace("Z", "+00:00"))


# A moment more than this far ahead of the clock is no export's: a source's clock gone wrong,
# or a typed date. A day covers every time zone (Qualtrics dates are local, without offset).
FUTURE_TOLERANCE = timedelta(days=1)
# Longer values are quarantined: no field we read is documented that long (Salesforce long text
# areas stop at 131,072 characters), and one would blow up every model that reads it.
MAX_FIELD_CHARS = 1_000_000


class _Horizon:
    """now + FUTURE_TOLERANCE as epoch seconds and as `YYYY-MM-DDTHH:MM:SS` (UTC), kept a minute.

    The checks below run on every datetime field of every row: a string comparison against a
    cached horizon costs a tenth of parsing the value again.
    """

    def __init__(self) -> None:
        self.computed_at = -1.0
        self.epoch = 0.0
        self.text = ""

    def refresh(self) -> _Horizon:
        now = time.time()
        if now - self.computed_at > 60:
            self.computed_at = now
            self.epoch = now + FUTURE_TOLERANCE.total_seconds()
            moment = datetime.fromtimestamp(self.epoch, UTC)
            self.text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return self


_HORIZON = _Horizon()


def _not_future(v: str) -> bool:
    """An ISO-like datetime (already checked) not after the horizon; offsets are within the day
    of tolerance, so comparing the first 19 characters as text is enough."""
    return v[:19].replace(" ", "T") <= _HORIZON.refresh().text


def _epoch_not_future(v: str) -> bool:
    return int(v) <= _HORIZON.refresh().epoch


@dataclass(frozen=True)
class FieldType:
    """One kind of field value: the test its text must pass and what we say we expected.

    `plausible`, checked only on text that passes `accepts`, rejects well-formed values no
    export can hold (a moment in the future), with its own words.
    """

    expected: str
    accepts: Callable[[str], bool]
    plausible: Callable[[str], bool] | None = None
    implausible: str = ""


_FUTURE = "in the future (more than a day after now)"

FIELD_TYPES: dict[str, FieldType] = {
    "int64": FieldType("an integer id", _is_int_between(-(2**63), _INT64_MAX)),
    "epoch": FieldType(
        "Unix epoch seconds", _is_int_between(0, _INT64_MAX), _epoch_not_future, _FUTURE
    ),
    "sfid": FieldType("a Salesforce id of 15 or 18 characters (valid checksum)", _is_sfid),
    "zendesk_datetime": FieldType(
        "an ISO datetime like 2024-03-01T09:15:02Z",
        _parses(_ZENDESK_DATETIME, _iso),
        _not_future,
        _FUTURE,
    ),
    # a moment that may lie ahead (a task ticket's due_at)
    "zendesk_datetime_any": FieldType(
        "an ISO datetime like 2024-03-01T09:15:02Z", _parses(_ZENDESK_DATETIME, _iso)
    ),
    "salesforce_datetime": FieldType(
        "an ISO datetime like 2024-03-27T22:52:16.000Z",
        _parses(_SALESFORCE_DATETIME, _iso),
        _not_future,
        _FUTURE,
    ),
    "iso_datetime": FieldType(
        "an ISO datetime with its offset, like 2024-05-02T10:01:30Z", _parses(_ISO_DATETIME, _iso)
    ),
    "qualtrics_datetime": FieldType(
        "a datetime like 2024-05-02 10:01:07",
        _parses(_QUALTRICS_DATETIME, datetime.fromisoformat),
        _not_future,
        _FUTURE,
    ),
    "date": FieldType("a date like 2024-06-30", _parses(_DATE, date.fromisoformat)),
    "hubspot_id": FieldType(
        "a HubSpot id (a numeric string)", lambda v: bool(_HUBSPOT_ID.match(v))
    ),
    "hubspot_datetime": FieldType(
        "an ISO datetime like 2024-02-01T08:30:12.345Z", _parses(_HUBSPOT_DATETIME, _iso)
    ),
    "hubspot_date": FieldType(
        "an ISO datetime like 2024-06-30T00:00:00Z or a date like 2024-06-30",
        lambda v: _parses(_HUBSPOT_DATETIME, _iso)(v) or _parses(_DATE, date.fromisoformat)(v),
    ),
    "boolean": FieldType(
        "a boolean (true/false or 1/0)", lambda v: v.lower() in {"true", "false", "1", "0"}
    ),
    "decimal": FieldType("a decimal number", _is_decimal),
    "integer": FieldType("an integer", _is_int_between(-(2**63), _INT64_MAX)),
    "percent": FieldType("an integer from 0 to 100", _is_int_between(0, 100)),
    "nps": FieldType("an integer from 0 to 10", _is_int_between(0, 10)),
    "nps_group": FieldType("an integer from 1 to 3", _is_int_between(1, 3)),
    "csat": FieldType("an integer from 1 to 5", _is_int_between(1, 5)),
    "ces": FieldType("an integer from 1 to 7", _is_int_between(1, 7)),
    "text": FieldType("text", lambda v: True),
}


@dataclass(frozen=True)
class Violation:
    """One field of one row that broke its contract."""

    field: str
    reason: str


@dataclass(frozen=True)
class EntityContract:
    """What one entity's rows must satisfy: columns in the file, non-empty fields, field types."""

    source: str
    entity: str
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    types: Mapping[str, str] = field(default_factory=dict)
    type_patterns: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for type_name in [*self.types.values(), *(t for _, t in self.type_patterns)]:
            if type_name not in FIELD_TYPES:
                raise ValueError(f"{self.source}.{self.entity}: unknown field type {type_name!r}")
        object.__setattr__(self, "_type_cache", {})  # field name -> type name (hot in ingest)
        object.__setattr__(self, "_check_cache", {})  # field name -> FieldType, None for text

    def type_of(self, name: str) -> str:
        """The type name of a field: explicit first, then the first matching pattern, else text."""
        cache: dict[str, str] = self._type_cache  # type: ignore[attr-defined]
        if name not in cache:
            cache[name] = self._resolve_type(name)
        return cache[name]

    def _resolve_type(self, name: str) -> str:
        if name in self.types:
            return self.types[name]
        for pattern, type_name in self.type_patterns:
            if re.fullmatch(pattern, name):
                return type_name
        return "text"

    def check_columns(self, file: str, header: Iterable[str]) -> None:
        """Raise SourceError naming the missing columns when a file lacks required ones, or the
        later of two names that differ only by case (one column in the warehouse, whose column
        names ignore case: one of the two would be lost)."""
        header = list(header)
        seen: dict[str, str] = {}
        for name in filter(None, header):  # unnamed ones (trailing commas): sources.prepared
            if (first := seen.get(fold_case(name))) is not None:
                raise SourceError(
                    file,
                    f"'{first}' and '{name}' name one column",
                    row=1,
                    field=name,
                    expected="each column named once, ignoring case",
                )
            seen[fold_case(name)] = name
        present = set(header)
        missing = [c for c in self.columns if c not in present]
        if missing:
            raise SourceError(
                file,
                f"wrong columns: missing {', '.join(missing)}",
                row=1,
                expected=f"columns {', '.join(self.columns)}",
            )

    def _check_of(self, name: str) -> FieldType | None:
        """The field's type to check its values against; None for text (accepts anything)."""
        type_name = self.type_of(name)
        return None if type_name == "text" else FIELD_TYPES[type_name]

    def violations(self, row: Mapping[str, str | None]) -> list[Violation]:
        """Every field of the row that is missing or of the wrong form (empty means no list).

        Runs once per source row: text fields are skipped without a call, and each field's
        type is looked up once per contract.
        """
        found = [
            Violation(name, f"{name}: is required but empty")
            for name in self.required
            if not row.get(name)  # None or ""
        ]
        checks: dict[str, FieldType | None] = self._check_cache  # type: ignore[attr-defined]
        # one pass over the row's text finds the rare NUL or huge value; fields only then
        joined = "".join([v for v in row.values() if v])
        suspect = len(joined) > MAX_FIELD_CHARS or "\x00" in joined
        for name, value in row.items():
            if not value:  # None or "": only `required` cares
                continue
            if suspect and (len(value) > MAX_FIELD_CHARS or "\x00" in value):
                found.append(_unstorable(name, value))
                continue
            try:
                field_type = checks[name]
            except KeyError:
                field_type = checks[name] = self._check_of(name)
            if field_type is None:
                continue
            if not field_type.accepts(value):
                found.append(Violation(name, f"{name}: {value!r} is not {field_type.expected}"))
            elif field_type.plausible is not None and not field_type.plausible(value):
                found.append(Violation(name, f"{name}: {value!r} is {field_type.implausible}"))
        return found


def _unstorable(name: str, value: str) -> Violation:
    """A value no field of ours should hold: over MAX_FIELD_CHARS, or with a NUL character."""
    if len(value) > MAX_FIELD_CHARS:
        return Violation(
            name, f"{name}: {len(value):,} characters, over the limit of {MAX_FIELD_CHARS:,}"
        )
    at = value.index("\x00")
    return Violation(name, f"{name}: a NUL character at position {at + 1} (binary data?)")


_SALESFORCE_PATTERNS = (
    (r"Id|.+Id", "sfid"),
    (r"(Is|Has)[A-Z]\w*", "boolean"),
    (
        r"CreatedDate|LastModifiedDate|SystemModstamp|Last(Viewed|Referenced)Date|ActivatedDate",
        "salesforce_datetime",
    ),
    (
        r"CloseDate|Birthdate|LastActivityDate|StartDate|EndDate|(Company|Customer)SignedDate"
        r"|.+_Date__c",
        "date",
    ),
)
# HubSpot CRM v3: the object's own keys (camelCase) and the properties we stage (lower case);
# every property value arrives as text, "" for a cleared one (docs/ingest.md, HubSpot)
_HUBSPOT_PATTERNS = (
    (
        r"createdAt|updatedAt|archivedAt|createdate|lastmodifieddate|hs_lastmodifieddate",
        "hubspot_datetime",
    ),
    (r"id|hs_object_id|hubspot_owner_id|associatedcompanyid", "hubspot_id"),
    (r"archived", "boolean"),
)
_ZENDESK_PATTERNS = (
    (r"external_id", "text"),
    (r"due_at", "zendesk_datetime_any"),
    (r"id|.+_id", "int64"),
    (r".+_at", "zendesk_datetime"),
)

# the survey columns the Typeform and generic CSV adapters land besides their own (every one,
# so that an empty raw table has them all for staging)
SURVEY_TEXT_COLUMNS = (
    "survey_id", "survey_kind", "touchpoint", "channel", "open_text", "contact_id",
    "account_id", "language", "email", "phone", "first_name", "last_name", "full_name",
    "answers",
)  # fmt: skip
SURVEY_MEASURE_TYPES = {"nps": "nps", "csat": "csat", "ces": "ces", "ticket_id": "int64"}

CONTRACTS: dict[tuple[str, str], EntityContract] = {
    (c.source, c.entity): c
    for c in (
        EntityContract(
            "salesforce",
            "account",
            columns=("Id", "Name"),
            required=("Id", "Name"),
            types={"AnnualRevenue": "decimal", "NumberOfEmployees": "integer"},
            type_patterns=_SALESFORCE_PATTERNS,
        ),
        EntityContract(
            "salesforce",
            "contact",
            columns=("Id", "AccountId", "LastName", "Email"),
            required=("Id", "LastName"),
            type_patterns=_SALESFORCE_PATTERNS,
        ),
        EntityContract(
            "salesforce",
            "opportunity",
            # IsClosed/IsWon (and Type or the term fields, by churn method) carry the churn label;
            # the adapter adds what the source's churn method needs (docs/ingest.md)
            columns=("Id", "AccountId", "Name", "StageName", "CloseDate", "IsClosed", "IsWon"),
            required=("Id", "Name", "StageName", "CloseDate"),
            types={
                "Type": "text",  # an open set (docs/metrics.md); named so raw always has it
                "Amount": "decimal",
                "Probability": "decimal",
                "Seats__c": "decimal",
                "TotalOpportunityQuantity": "decimal",
                "ExpectedRevenue": "decimal",
                "ContractId": "sfid",
                "Subscription_Start_Date__c": "date",
                "Subscription_End_Date__c": "date",
            },
            type_patterns=_SALESFORCE_PATTERNS,
        ),
        EntityContract(
            "salesforce",
            "contract",
            # the standard Contract object: the churn method `contract` (docs/metrics.md)
            columns=("Id", "AccountId", "StartDate", "Status"),
            required=("Id", "AccountId"),
            types={
                "EndDate": "date",
                "ContractTerm": "integer",
                "StatusCode": "text",
                "IsDeleted": "boolean",
                "OwnerExpirationNotice": "integer",
            },
            type_patterns=_SALESFORCE_PATTERNS,
        ),
        EntityContract(
            "salesforce",
            "user",
            columns=("Id", "Username"),
            required=("Id", "Username"),
            types={"ManagerId": "sfid"},  # whom an alert escalates to (stg manager_user_id)
            type_patterns=_SALESFORCE_PATTERNS,
        ),
        EntityContract(
            "zendesk",
            "tickets",
            required=("id", "created_at", "updated_at", "status"),
            types={"generated_timestamp": "epoch"},
            type_patterns=_ZENDESK_PATTERNS,
        ),
        EntityContract(
            "zendesk",
            "users",
            required=("id",),
            types={"active": "boolean"},
            type_patterns=_ZENDESK_PATTERNS,
        ),
        EntityContract(
            "zendesk", "organizations", required=("id",), type_patterns=_ZENDESK_PATTERNS
        ),
        EntityContract(
            "zendesk",
            "ticket_events",
            required=("id", "ticket_id"),
            types={"timestamp": "epoch"},
            type_patterns=_ZENDESK_PATTERNS,
        ),
        EntityContract(
            "zendesk",
            "ticket_comments",
            # ticket_id comes from the file name (ticket_<id>_comments.json), not the envelope
            required=("id", "ticket_id", "created_at"),
            types={"public": "boolean"},
            type_patterns=_ZENDESK_PATTERNS,
        ),
        EntityContract(
            "zendesk",
            "satisfaction_ratings",
            required=("id", "ticket_id", "score"),
            types={"reason_code": "integer"},
            type_patterns=_ZENDESK_PATTERNS,
        ),
        EntityContract(
            "hubspot",
            "companies",
            required=("id",),
            types={"annualrevenue": "decimal", "numberofemployees": "decimal"},
            type_patterns=_HUBSPOT_PATTERNS,
        ),
        EntityContract(
            "hubspot",
            "contacts",
            required=("id",),
            types={"hs_email_optout": "boolean"},
            type_patterns=_HUBSPOT_PATTERNS,
        ),
        EntityContract(
            "hubspot",
            "deals",
            required=("id",),
            types={"amount": "decimal", "closedate": "hubspot_date", "hs_is_closed_won": "boolean"},
            type_patterns=_HUBSPOT_PATTERNS,
        ),
        EntityContract(
            "hubspot",
            "contact_companies",
            columns=("from_id", "to", "completed_at"),
            required=("from_id", "to"),
            types={"from_id": "hubspot_id", "completed_at": "hubspot_datetime"},
        ),
        EntityContract(
            "hubspot",
            "deal_companies",
            columns=("from_id", "to", "completed_at"),
            required=("from_id", "to"),
            types={"from_id": "hubspot_id", "completed_at": "hubspot_datetime"},
        ),
        EntityContract(
            "hubspot",
            "owners",
            required=("id",),
            types={"userId": "integer", "userIdIncludingInactive": "integer"},
            type_patterns=_HUBSPOT_PATTERNS,
        ),
        EntityContract(
            "hubspot",
            "deal_pipelines",
            required=("id", "label", "stages"),
            types={
                "displayOrder": "integer",
                "createdAt": "hubspot_datetime",
                "updatedAt": "hubspot_datetime",
                "archived": "boolean",
            },
        ),
        EntityContract(
            "sendgrid",
            "events",
            required=("email", "timestamp", "event", "sg_event_id"),
            types={"timestamp": "epoch", "asm_group_id": "integer"},
        ),
        EntityContract(
            "qualtrics",
            "responses",
            required=("ResponseId", "survey_id", "RecordedDate"),
            types={
                "StartDate": "qualtrics_datetime",
                "EndDate": "qualtrics_datetime",
                "RecordedDate": "qualtrics_datetime",
                "Progress": "percent",
                "Finished": "boolean",
                "nps": "nps",
                "nps_group": "nps_group",
                "csat": "csat",
                "ces": "ces",
                "ticket_id": "int64",
            },
        ),
        EntityContract(
            "typeform",
            "responses",
            required=("token", "survey_id", "submitted_at"),
            types={
                **dict.fromkeys(SURVEY_TEXT_COLUMNS, "text"),
                "event_id": "text",
                "event_type": "text",
                "form_id": "text",
                "delivery": "text",
                "hidden": "text",
                "landed_at": "iso_datetime",
                "submitted_at": "iso_datetime",
                **SURVEY_MEASURE_TYPES,
            },
        ),
        EntityContract(
            "survey_csv",
            "responses",
            required=("response_id", "survey_id", "responded_at"),
            types={
                **dict.fromkeys(SURVEY_TEXT_COLUMNS, "text"),
                "time_zone": "text",
                "not_applicable": "text",
                "responded_at": "iso_datetime",
                "responded_at_local": "qualtrics_datetime",
                **SURVEY_MEASURE_TYPES,
            },
        ),
    )
}


def contract_for(source: str, entity: str) -> EntityContract:
    """The contract of one source entity (KeyError means a programming error, not bad input)."""
    return CONTRACTS[(source, entity)]
