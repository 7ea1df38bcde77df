"""Who is who, what happened, whether the loop closed: `marts.customer_identity_map`,
`marts.fct_touchpoints` and `marts.mart_loop_closure`, checked with the marts (same family, so
the marts stage and the gate cover them; docs/quality.md)."""

from __future__ import annotations

import pandas as pd
from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    CRITICAL,
    WARNING,
    DatasetSpec,
    DerivedCheck,
    all_present,
    between,
    counts,
    family_specs,
    in_set,
    key,
    not_null,
    numeric,
    ok_where,
)

FAMILY = "marts"

COLUMNS = {
    "marts.customer_identity_map": (
        "identity_record_id",
        "source",
        "source_record_id",
        "customer_id",
        "account_id",
        "match_rule",
        "match_probability",
    ),
    "marts.fct_touchpoints": (
        "touchpoint_id",
        "touchpoint_type",
        "touched_at",
        "touched_date",
        "customer_id",
        "account_id",
        "channel",
        "source",
        "source_entity",
        "source_record_id",
    ),
    "marts.mart_loop_closure": (
        "loop_closure_id",
        "playbook",
        "response_month",
        "detractors",
        "followed_up",
        "loops_closed",
        "loop_closure_rate",
        "avg_hours_to_first_contact",
        "median_hours_to_first_contact",
        "followed_up_with_next_response",
        "avg_nps_change_followed_up",
        "not_followed_up_with_next_response",
        "avg_nps_change_not_followed_up",
    ),
}

# person records' sources (int_person_records__unioned) and how a record joined its customer
# (docs/identity.md: match_rule; `unresolved` when the identity step has not seen the record)
RECORD_SOURCES = ("salesforce", "hubspot", "zendesk", "qualtrics", "typeform", "survey_csv")
RULE_LINKS = ("salesforce_contact", "hubspot_contact", "external_id", "ticket_requester", "email")
ALONE = ("unmatched", "no_identifier", "unresolved")
MATCH_RULES = (*RULE_LINKS, "splink", "previous_run", *ALONE)
TOUCHPOINT_TYPES = (
    "ticket_opened", "agent_reply", "internal_note", "survey_response", "opportunity_change",
    "playbook_email",
)  # fmt: skip
PERSON_TOUCHPOINTS = ("ticket_opened", "agent_reply", "internal_note", "survey_response")
TOUCHPOINT_SOURCES = (*RECORD_SOURCES, "cxloop")  # a CRM, Zendesk, a survey tool, a playbook
TOUCHPOINT_ENTITIES = ("ticket", "ticket_comment", "response", "opportunity", "playbook_action")
NPS_CHANGE = 10  # two answers on 0-10 differ by at most 10


def customer_identity_map_checks() -> list[Expectation]:
    return [
        *key("identity_record_id"),
        *(not_null(c) for c in ("source", "source_record_id", "customer_id", "match_rule")),
        in_set("source", RECORD_SOURCES, CRITICAL),
        in_set("match_rule", MATCH_RULES, CRITICAL),
        between("match_probability", 0, 1),
    ]


def record_id_is_source_and_id(name: str, key_column: str, parts: tuple[str, ...]) -> DerivedCheck:
    """The row's id is its parts joined with ':' (so two rows of one record cannot differ)."""

    def rule(df: pd.DataFrame) -> pd.Series:
        joined = df[parts[0]].astype("string")
        for part in parts[1:]:
            joined = joined + ":" + df[part].astype("string")
        return ok_where(df[key_column].astype("string") == joined, all_present(df, *parts))

    return DerivedCheck(name, (key_column, *parts), rule, f"{key_column} = {' : '.join(parts)}")


def probability_fits_rule() -> DerivedCheck:
    """A record alone has no probability; a rule's link has 1.0; Splink's has one."""

    def rule(df: pd.DataFrame) -> pd.Series:
        rule_, prob = df["match_rule"], numeric(df, "match_probability")
        alone = rule_.isin(ALONE)
        ok = (alone & prob.isna()) | (rule_.isin(RULE_LINKS) & (prob == 1.0))
        ok = ok | (rule_.isin(("splink", "previous_run")) & prob.notna())
        return ok_where(ok, rule_.isin(MATCH_RULES))

    return DerivedCheck(
        "probability_fits_rule",
        ("match_rule", "match_probability"),
        rule,
        "match_probability: null for a record alone, 1.0 for a rule's link, Splink's for splink",
    )


def fct_touchpoints_checks() -> list[Expectation]:
    return [
        *key("touchpoint_id"),
        *(not_null(c) for c in ("touchpoint_type", "touched_at", "touched_date", "source")),
        not_null("source_record_id"),
        in_set("touchpoint_type", TOUCHPOINT_TYPES, CRITICAL),
        in_set("source", TOUCHPOINT_SOURCES, CRITICAL),
        in_set("source_entity", TOUCHPOINT_ENTITIES, CRITICAL),
        not_null("channel", WARNING),
    ]


def touched_date_is_its_day() -> DerivedCheck:
    """touched_date is the UTC date of touched_at."""

    def rule(df: pd.DataFrame) -> pd.Series:
        at = pd.to_datetime(df["touched_at"], errors="coerce")
        day = pd.to_datetime(df["touched_date"], errors="coerce")
        return ok_where(at.dt.normalize() == day, at.notna() & day.notna())

    return DerivedCheck(
        "touched_date_is_its_day",
        ("touched_at", "touched_date"),
        rule,
        "touched_date = date(touched_at)",
    )


def person_touchpoint_has_customer() -> DerivedCheck:
    """A ticket, comment or survey answer belongs to a customer (only opportunity changes and
    e-mails to staff are account-level). A warning: a ticket whose requester is in no users
    export has no person record to resolve."""

    def rule(df: pd.DataFrame) -> pd.Series:
        return ok_where(df["customer_id"].notna(), df["touchpoint_type"].isin(PERSON_TOUCHPOINTS))

    return DerivedCheck(
        "person_touchpoint_has_customer",
        ("touchpoint_type", "customer_id"),
        rule,
        "customer_id is set for ticket, comment and survey touchpoints",
        WARNING,
    )


def mart_loop_closure_checks() -> list[Expectation]:
    return [
        *key("loop_closure_id"),
        not_null("playbook"),
        not_null("response_month"),
        *counts(
            "detractors",
            "followed_up",
            "loops_closed",
            "followed_up_with_next_response",
            "not_followed_up_with_next_response",
        ),
        # a warning: an in-the-moment follow-up is sent within seconds of a response whose
        # time the survey tool stamped, up to 5 minutes ahead of ours (cxloop/moment/receive.py)
        *(
            between(c, min_value=0, severity=WARNING)
            for c in ("avg_hours_to_first_contact", "median_hours_to_first_contact")
        ),
        between("loop_closure_rate", 0, 1),
        between("avg_nps_change_followed_up", -NPS_CHANGE, NPS_CHANGE),
        between("avg_nps_change_not_followed_up", -NPS_CHANGE, NPS_CHANGE),
    ]


def loop_counts_nest() -> DerivedCheck:
    """loops_closed <= followed_up <= detractors; those who answered again are among those
    followed up (or not); the rate is loops_closed / detractors."""
    names = (
        "detractors",
        "followed_up",
        "loops_closed",
        "followed_up_with_next_response",
        "not_followed_up_with_next_response",
        "loop_closure_rate",
    )

    def rule(df: pd.DataFrame) -> pd.Series:
        detractors, followed = numeric(df, "detractors"), numeric(df, "followed_up")
        closed = numeric(df, "loops_closed")
        rate = closed / detractors.where(detractors > 0)
        cond = (
            (closed <= followed)
            & (followed <= detractors)
            & (numeric(df, "followed_up_with_next_response") <= followed)
            & (numeric(df, "not_followed_up_with_next_response") <= detractors - followed)
            & (
                (rate.isna() & (closed == 0))
                | ((numeric(df, "loop_closure_rate") - rate).abs() < 1e-9)
            )
        )
        return ok_where(cond, all_present(df, *names))

    return DerivedCheck(
        "loop_counts_nest",
        names,
        rule,
        "loops_closed <= followed_up <= detractors; next answers within their group; "
        "loop_closure_rate = loops_closed / detractors",
    )


_spec = family_specs(FAMILY, COLUMNS)


SPECS: tuple[DatasetSpec, ...] = (
    _spec(
        "marts.customer_identity_map",
        customer_identity_map_checks,
        (
            record_id_is_source_and_id(
                "record_id_is_source_and_id", "identity_record_id", ("source", "source_record_id")
            ),
            probability_fits_rule(),
        ),
    ),
    _spec(
        "marts.fct_touchpoints",
        fct_touchpoints_checks,
        (
            record_id_is_source_and_id(
                "touchpoint_id_is_type_source_and_id",
                "touchpoint_id",
                ("touchpoint_type", "source", "source_record_id"),
            ),
            touched_date_is_its_day(),
            person_touchpoint_has_customer(),
        ),
    ),
    _spec("marts.mart_loop_closure", mart_loop_closure_checks, (loop_counts_nest(),)),
)
