"""Raw Qualtrics response exports: `R_` ids, naive local datetimes, measures as text."""

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

FAMILY = "raw_qualtrics"
RESPONSE_ID = r"R_[A-Za-z0-9]{15}"
LOCAL_DATETIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
SURVEY_KINDS = ("relational", "transactional", "in_the_moment")
NPS_TEXT = r"10|[0-9]"
NPS_GROUP_TEXT = r"(?i:[1-3]|detractor|passive|promoter|neutral)"
REQUIRED = ("ResponseId", "survey_id", "survey_kind", "nps", "csat", "ces", "answers")


def response_checks() -> list[Expectation]:
    return [
        not_null("ResponseId"),
        matches("ResponseId", RESPONSE_ID, CRITICAL),
        not_null("survey_id"),
        in_set("survey_kind", SURVEY_KINDS, CRITICAL),
        matches("nps", NPS_TEXT, CRITICAL),
        matches("csat", r"[1-5]", CRITICAL),
        matches("ces", r"[1-7]", CRITICAL),
        matches("nps_group", NPS_GROUP_TEXT),
        *(matches(c, LOCAL_DATETIME) for c in ("StartDate", "EndDate", "RecordedDate")),
        matches("Progress", r"100|[1-9]?[0-9]"),
        matches("Finished", r"(?i:0|1|true|false)"),
        matches("RecipientEmail", EMAIL, allow_empty=True),
        matches("UserLanguage", r"[A-Za-z]{2,3}(?:-[A-Za-z]{1,4})?", allow_empty=True),
        matches("language", r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{1,4})?", allow_empty=True),
        not_null("answers"),
        matches("answers", JSON_OBJECT, CRITICAL),
    ]


SPECS: tuple[DatasetSpec, ...] = (
    raw_spec("raw.qualtrics__responses", FAMILY, "qualtrics", REQUIRED, response_checks),
)
