"""cxloop.yaml mappings of the survey sources besides Qualtrics: Typeform forms, generic CSVs.

Each maps a tool's answers onto our survey fields (config.SurveyField); the adapters in
cxloop.sources.typeform and cxloop.sources.survey_csv read them.
"""

from __future__ import annotations

from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SurveyKind = Literal["relational", "transactional", "in_the_moment"]
# our survey fields, in the order a person reads them (cxloop.yaml, cxloop init)
SurveyField = Literal[
    "nps",
    "nps_group",
    "csat",
    "ces",
    "open_text",
    "ticket_id",
    "touchpoint",
    "channel",
    "language",
    "contact_id",
    "account_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "full_name",
]
# the fields a Typeform answer or hidden field, or a CSV column, can fill: all but nps_group,
# which is Qualtrics's own column
MappedField = Literal[tuple(f for f in get_args(SurveyField) if f != "nps_group")]  # type: ignore[valid-type]
Measure = Literal["nps", "csat", "ces"]
MEASURES: tuple[Measure, ...] = ("nps", "csat", "ces")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _needs_a_measure(mapped: set[str]) -> None:
    if not set(MEASURES) & mapped:
        raise ValueError("needs at least one of nps, csat, ces")


class TypeformForm(_Strict):
    """How one Typeform form maps onto our measures: question refs and hidden-field names."""

    form_id: str = Field(description="The form's id (form_response.form_id).")
    survey_id: str | None = Field(None, description="Our survey id; default the form_id.")
    kind: SurveyKind
    touchpoint: str = "unknown"
    channel: str = "email"
    fields: dict[MappedField, str] = Field(
        default_factory=dict,
        description=(
            "our field -> the question's `ref` (or field id) in definition.fields; nps, csat "
            "and ces must be nps, opinion_scale or rating questions on our scale"
        ),
    )
    include_partial: bool = Field(
        False,
        description=(
            "Count a form_response_partial event (the respondent left before the end) whose "
            "score was answered; by default only submitted responses count."
        ),
    )
    hidden: dict[MappedField, str] = Field(
        default_factory=dict,
        description=(
            "our field -> a hidden field's name (form_response.hidden), e.g. {email: email, "
            "ticket_id: ticket_id}; identity fields resolve the respondent like the CRM's"
        ),
    )

    @model_validator(mode="after")
    def _a_measure_once(self) -> TypeformForm:
        _needs_a_measure(set(self.fields) | set(self.hidden))
        both = sorted(set(self.fields) & set(self.hidden))
        if both:
            raise ValueError(f"{both[0]} is mapped in both fields and hidden; keep one")
        return self

    @property
    def our_survey_id(self) -> str:
        """The survey id responses carry: `survey_id`, else the form id."""
        return self.survey_id or self.form_id


class CsvSurvey(_Strict):
    """A generic survey CSV (header row) for a tool we have no adapter for: column mapping."""

    file: str = Field(description="File name or glob, relative to the source folder.")
    survey_id: str
    kind: SurveyKind
    touchpoint: str = "unknown"
    channel: str = "email"
    encoding: str = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)
    response_id: str | None = Field(
        None,
        description=(
            "The column with the response's id; without one, the id is a hash of the row "
            "(a tool that re-exports the same row keeps its id)"
        ),
    )
    timestamp: str = Field(description="The column with the time the response was submitted.")
    timestamp_format: str = Field(
        "iso",
        description=(
            "`iso` (ISO 8601, an offset or Z wins over time_zone) or a strptime format such "
            "as %d/%m/%Y %H:%M"
        ),
    )
    time_zone: str = Field("UTC", description="IANA zone of timestamps without an offset.")
    columns: dict[MappedField, str] = Field(
        description="our field -> the column's header text; at least one of nps, csat, ces"
    )
    not_applicable: dict[Literal["nps", "csat", "ces"], list[str]] = Field(
        default_factory=dict,
        description="Per measure, answer codes meaning 'not applicable' ({csat: ['N/A', 6]}).",
    )

    @field_validator("columns")
    @classmethod
    def _has_a_measure(cls, v: dict[str, str]) -> dict[str, str]:
        _needs_a_measure(set(v))
        return v

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r} (expected an IANA name)") from exc
        return v

    @field_validator("not_applicable", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: [str(c) for c in c_list] if isinstance(c_list, list) else c_list
                    for k, c_list in v.items()}  # fmt: skip
        return v

    @model_validator(mode="after")
    def _not_applicable_is_mapped(self) -> CsvSurvey:
        unmapped = [m for m in self.not_applicable if m not in self.columns]
        if unmapped:
            raise ValueError(f"not_applicable: {unmapped[0]} is not mapped in columns")
        return self
