"""Raw Zendesk Support API exports: integer ids as text, ISO `Z` datetimes, JSON text fields."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    BOOLEAN_TEXT,
    CRITICAL,
    DIGITS,
    EMAIL,
    ISO_DATETIME,
    JSON_ARRAY,
    JSON_OBJECT,
    DatasetSpec,
    in_set,
    matches,
    not_null,
)
from cxloop.expectations._raw import integer_id, raw_spec

FAMILY = "raw_zendesk"
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed", "deleted")
TICKET_PRIORITIES = ("urgent", "high", "normal", "low")
TICKET_TYPES = ("problem", "incident", "question", "task")
USER_ROLES = ("end-user", "agent", "admin")
RATING_SCORES = ("offered", "unoffered", "good", "bad")
COMMENT_TYPES = ("Comment", "VoiceComment")


def timestamps(*columns: str) -> list[Expectation]:
    """ISO-8601 datetimes (warning: staging casts them and would fail loudly anyway)."""
    return [matches(c, ISO_DATETIME) for c in columns]


def ticket_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        *integer_id("requester_id", required=False),
        *(matches(c, DIGITS) for c in ("assignee_id", "organization_id", "group_id")),
        not_null("created_at"),
        *timestamps("created_at", "updated_at"),
        in_set("status", TICKET_STATUSES),
        in_set("priority", TICKET_PRIORITIES),
        in_set("type", TICKET_TYPES),
        matches("tags", JSON_ARRAY),
        matches("custom_fields", JSON_ARRAY),
        matches("satisfaction_rating", JSON_OBJECT),
        matches("via", JSON_OBJECT),
    ]


def user_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        matches("organization_id", DIGITS),
        matches("email", EMAIL),
        matches("phone", r"\+?[0-9 ()./-]{5,}"),
        in_set("role", USER_ROLES),
        matches("active", BOOLEAN_TEXT),
        matches("locale", r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,4})*"),
        *timestamps("created_at", "updated_at"),
    ]


def organization_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        not_null("name", "warning"),
        matches("domain_names", JSON_ARRAY),
        *timestamps("created_at", "updated_at"),
    ]


def ticket_event_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        *integer_id("ticket_id"),
        matches("timestamp", DIGITS),
        matches("updater_id", r"-?\d+"),
        *timestamps("created_at"),
        matches("child_events", JSON_ARRAY),
    ]


def satisfaction_rating_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        *integer_id("ticket_id"),
        in_set("score", RATING_SCORES, CRITICAL),
        *(matches(c, DIGITS) for c in ("assignee_id", "group_id", "requester_id")),
        *timestamps("created_at", "updated_at"),
    ]


def ticket_comment_checks() -> list[Expectation]:
    return [
        *integer_id("id"),
        *integer_id("ticket_id"),
        *(matches(c, DIGITS) for c in ("author_id", "audit_id")),
        in_set("type", COMMENT_TYPES),
        matches("public", BOOLEAN_TEXT),
        matches("attachments", JSON_ARRAY),
        *timestamps("created_at"),
    ]


SPECS: tuple[DatasetSpec, ...] = (
    raw_spec("raw.zendesk__tickets", FAMILY, "zendesk", ("id", "created_at"), ticket_checks),
    raw_spec("raw.zendesk__users", FAMILY, "zendesk", ("id",), user_checks),
    raw_spec("raw.zendesk__organizations", FAMILY, "zendesk", ("id",), organization_checks),
    raw_spec(
        "raw.zendesk__ticket_events", FAMILY, "zendesk", ("id", "ticket_id"), ticket_event_checks
    ),
    raw_spec(
        "raw.zendesk__ticket_comments",
        FAMILY,
        "zendesk",
        ("id", "ticket_id", "created_at"),
        ticket_comment_checks,
    ),
    raw_spec(
        "raw.zendesk__satisfaction_ratings",
        FAMILY,
        "zendesk",
        ("id", "ticket_id", "score"),
        satisfaction_rating_checks,
    ),
)
