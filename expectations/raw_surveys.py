"""Raw responses of the survey sources besides Qualtrics: Typeform and generic survey CSVs."""

from __future__ import annotations

from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    CRITICAL,
    EMAIL,
    JSON_OBJECT,
    DatasetSpec,
    in_set,
    matches,
    not_null,
)
from cxloop.expectations._raw import raw_spec

FAMILY = "raw_surveys"
SURVEY_KINDS = ("relational", "transactional", "in_the_moment")
UTC_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})"
REQUIRED = ("survey_id", "survey_kind", "nps", "csat", "ces", "email", "answers")


def _measures() -> list[Expectation]:
    return [
        not_null("survey_id"),
        in_set("survey_kind", SURVEY_KINDS, CRITICAL),
        matches("nps", r"10|[0-9]", CRITICAL),
        matches("csat", r"[1-5]", CRITICAL),
        matches("ces", r"[1-7]", CRITICAL),
        matches("ticket_id", r"\d+", CRITICAL),
        matches("email", EMAIL, allow_empty=True),
        not_null("answers"),
        matches("answers", JSON_OBJECT, CRITICAL),
    ]


def typeform_checks() -> list[Expectation]:
    return [
        not_null("token"),
        not_null("submitted_at"),
        matches("submitted_at", UTC_DATETIME, CRITICAL),
        matches("landed_at", UTC_DATETIME),
        in_set("event_type", ("form_response", "form_response_partial"), CRITICAL),
        in_set("delivery", ("webhook", "responses_api"), CRITICAL),
        matches("hidden", JSON_OBJECT),
        *_measures(),
    ]


def survey_csv_checks() -> list[Expectation]:
    return [
        not_null("response_id"),
        not_null("responded_at"),
        matches("responded_at", r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", CRITICAL),
        *_measures(),
    ]


SPECS: tuple[DatasetSpec, ...] = (
    raw_spec(
        "raw.typeform__responses",
        FAMILY,
        "typeform",
        ("token", "submitted_at", "event_type", "delivery", *REQUIRED),
        typeform_checks,
    ),
    raw_spec(
        "raw.survey_csv__responses",
        FAMILY,
        "survey_csv",
        ("response_id", "responded_at", *REQUIRED),
        survey_csv_checks,
    ),
)
