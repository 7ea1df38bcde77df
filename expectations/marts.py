"""Marts (dbt, schema `marts`) and churn scores (`ml.churn_scores`): keys, ranges, arithmetic.

Over 400 lines on purpose: the marts family has a suite per mart. Two more modules of the same
family: `voice` (the voice tables) and `journey` (identity map, touchpoints, loop closure).
"""

from __future__ import annotations

import pandas as pd
from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    CRITICAL,
    EMAIL,
    WARNING,
    DatasetSpec,
    DerivedCheck,
    all_present,
    at_most,
    between,
    counts,
    family_specs,
    in_set,
    key,
    matches,
    not_null,
    numeric,
    ok_where,
    unique_together,
)

FAMILY = "marts"
SEGMENT_TYPES = (
    "all", "region", "plan", "product", "csm", "channel", "touchpoint", "survey_kind", "language",
)  # fmt: skip
TICKET_SEGMENT_TYPES = ("all", "priority", "channel", "region", "plan", "csm")
HEALTH_BANDS = ("healthy", "at_risk", "critical")
NPS_CATEGORIES = ("promoter", "passive", "detractor")
SURVEY_KINDS = ("relational", "transactional", "in_the_moment")
METRIC_KEY = ("date_day", "segment_type", "segment_value")
PERCENT_TOLERANCE = 0.5  # a percentage may be rounded to a whole number

COLUMNS = {
    "marts.dim_accounts": (
        "account_id",
        "account_name",
        "industry",
        "region",
        "plan",
        "country",
        "domain",
        "csm_user_id",
        "csm_name",
        "csm_email",
        "csm_time_zone",
        "zendesk_organization_id",
        "created_at",
        "first_subscription_start_date",
        "current_subscription_end_date",
        "arr_amount",
        "seats",
        "tenure_days",
        "is_churned",
        "churned_date",
        "clv_historical_amount",
        "clv_predicted_amount",
        "clv_at_risk_amount",
    ),
    "marts.dim_customers": (
        "customer_id",
        "account_id",
        "email",
        "first_name",
        "last_name",
        "full_name",
        "phone_e164",
        "language",
        "salesforce_contact_id",
        "zendesk_user_id",
        "has_opted_out_of_email",
        "time_zone",  # quiet hours of detractor_followup
        "time_zone_source",
        "last_nps_score",
        "last_nps_at",
        "survey_responses",
        "tickets_total",
        "tickets_open",
    ),
    "marts.fct_survey_responses": (
        "response_id",
        "survey_id",
        "survey_kind",
        "touchpoint",
        "channel",
        "customer_id",
        "account_id",
        "ticket_id",
        "nps_score",
        "nps_category",
        "csat_score",
        "ces_score",
        "open_text",
        "language",
        "respondent_email",
        "responded_at",
        "responded_date",
    ),
    "marts.fct_tickets": (
        "ticket_id",
        "account_id",
        "customer_id",
        "created_at",
        "solved_at",
        "status",
        "priority",
        "channel",
        "first_reply_at",
        "first_reply_time_calendar_minutes",
        "full_resolution_calendar_minutes",
        "count_agent_replies",
        "count_reopens",
        "is_one_touch_resolution",
        "satisfaction_score",
        "is_open",
    ),
    "marts.mart_nps": (
        *METRIC_KEY,
        "responses",
        "promoters",
        "passives",
        "detractors",
        "nps",
        "nps_margin_of_error",
        "is_small_sample",
    ),
    "marts.mart_csat": (
        *METRIC_KEY,
        "responses",
        "satisfied",
        "csat",
        "csat_margin_of_error",
        "is_small_sample",
    ),
    "marts.mart_ces": (
        *METRIC_KEY,
        "responses",
        "ces_mean",
        "easy",
        "ces_easy_pct",
        "ces_margin_of_error",
        "is_small_sample",
    ),
    "marts.mart_ticket_kpis": (
        *METRIC_KEY,
        "tickets",
        "solved_tickets",
        "avg_first_reply_time_calendar_minutes",
        "avg_first_reply_time_business_minutes",
        "avg_full_resolution_calendar_minutes",
        "avg_full_resolution_business_minutes",
        "reopen_rate",
        "one_touch_resolution_rate",
        "sla_breach_rate",
        "ticket_csat",
    ),
    "marts.mart_churn": (
        "month_start_date",
        "cohort",
        "accounts_at_start",
        "churned_accounts",
        "logo_churn_rate",
        "gross_revenue_retention",
        "net_revenue_retention",
    ),
    "marts.mart_account_health": (
        "account_id",
        "health_score",
        "health_band",
        "support_score",
        "voice_score",
        "revenue_score",
        "engagement_score",
        "churn_probability",
    ),
    "marts.mart_clv_at_risk": (
        "segment_type",
        "segment_value",
        "accounts",
        "scored_accounts",
        "clv_predicted_amount",
        "clv_if_retained_amount",
        "clv_at_risk_amount",
    ),
    "marts.mart_topics": (
        "month_start_date",
        "topic",
        "mentions",
        "open_text_answers",
        "nps_responses",
        "nps",
    ),
    "marts.mart_callbacks": (
        "callback_week_id",
        "owner_email",
        "week_start_date",
        "opened",
        "contacted",
        "closed",
        "closed_within_sla",
        "escalated",
    ),
    "ml.churn_scores": (
        "account_id",
        "scored_at",
        "model_version",
        "churn_probability",
        "risk_band",
        "top_drivers",
    ),
}


def percent_matches(name: str, pct: str, part: str, minus: str | None = None) -> DerivedCheck:
    """A percentage equals 100 * (part [- minus]) / responses, within rounding."""
    numerator = part if minus is None else f"({part} - {minus})"
    inputs = ("responses", pct, part) if minus is None else ("responses", pct, part, minus)

    def rule(df: pd.DataFrame) -> pd.Series:
        responses = numeric(df, "responses")
        counted = numeric(df, part) - (numeric(df, minus) if minus else 0)
        expected = 100.0 * counted / responses.where(responses > 0)
        diff = (numeric(df, pct) - expected).abs()
        return ok_where(diff <= PERCENT_TOLERANCE, expected.notna() & df[pct].notna())

    return DerivedCheck(name, inputs, rule, f"{pct} = 100 * {numerator} / responses (+-0.5)")


def part_within_responses(part: str) -> DerivedCheck:
    """A sub-count never exceeds the number of responses."""
    return at_most(f"{part}_within_responses", part, "responses")


def segment_all_is_all() -> DerivedCheck:
    """segment_type 'all' has segment_value 'all'."""

    def rule(df: pd.DataFrame) -> pd.Series:
        return ok_where(df["segment_value"] == "all", df["segment_type"] == "all")

    return DerivedCheck(
        "segment_all_is_all",
        ("segment_type", "segment_value"),
        rule,
        "segment_type 'all' has segment_value 'all'",
        WARNING,
    )


def metric_mart(measure_checks: list[Expectation]) -> list[Expectation]:
    """The shared shape of mart_nps / mart_csat / mart_ces: compound key, segments, counts."""
    return [
        *(not_null(c) for c in METRIC_KEY),
        unique_together(METRIC_KEY),
        in_set("segment_type", SEGMENT_TYPES, CRITICAL),
        not_null("responses"),
        *counts("responses"),
        not_null("is_small_sample", WARNING),
        *measure_checks,
    ]


def mart_nps_checks() -> list[Expectation]:
    return metric_mart(
        [
            *counts("promoters", "passives", "detractors"),
            between("nps", -100, 100),
            between("nps_margin_of_error", min_value=0, severity=WARNING),
        ]
    )


def responses_add_up() -> DerivedCheck:
    """responses = promoters + passives + detractors."""
    parts = ("promoters", "passives", "detractors")

    def rule(df: pd.DataFrame) -> pd.Series:
        total = sum(numeric(df, p) for p in parts)
        return ok_where(total == numeric(df, "responses"), all_present(df, "responses", *parts))

    return DerivedCheck(
        "responses_add_up",
        ("responses", *parts),
        rule,
        "responses = promoters + passives + detractors",
    )


def mart_csat_checks() -> list[Expectation]:
    return metric_mart(
        [
            *counts("satisfied"),
            between("csat", 0, 100),
            between("csat_margin_of_error", min_value=0, severity=WARNING),
        ]
    )


def mart_ces_checks() -> list[Expectation]:
    return metric_mart(
        [
            *counts("easy"),
            between("ces_mean", 1, 7),
            between("ces_easy_pct", 0, 100),
            between("ces_margin_of_error", min_value=0, severity=WARNING),
        ]
    )


def nps_category_matches_score() -> DerivedCheck:
    """nps_category is the bucket of nps_score (0-6 detractor, 7-8 passive, 9-10 promoter)."""

    def rule(df: pd.DataFrame) -> pd.Series:
        score = numeric(df, "nps_score")
        bucket = pd.Series(pd.NA, index=df.index, dtype="object")
        bucket[score <= 6] = "detractor"
        bucket[(score >= 7) & (score <= 8)] = "passive"
        bucket[score >= 9] = "promoter"
        category = df["nps_category"].astype("object")
        both_null = bucket.isna() & category.isna()
        same = (bucket.astype("string") == category.astype("string")).fillna(False)
        return (both_null | same).astype(bool)

    return DerivedCheck(
        "nps_category_matches_score",
        ("nps_score", "nps_category"),
        rule,
        "nps_category is the bucket of nps_score",
    )


def has_a_measure() -> DerivedCheck:
    """A survey response carries at least one of NPS, CSAT, CES."""
    measures = ("nps_score", "csat_score", "ces_score")

    def rule(df: pd.DataFrame) -> pd.Series:
        return df[list(measures)].notna().any(axis=1)

    return DerivedCheck(
        "has_a_measure", measures, rule, "at least one of nps/csat/ces is set", WARNING
    )


def fct_survey_responses_checks() -> list[Expectation]:
    return [
        *key("response_id"),
        not_null("survey_id"),
        not_null("responded_at"),
        in_set("survey_kind", SURVEY_KINDS, CRITICAL),
        between("nps_score", 0, 10),
        in_set("nps_category", NPS_CATEGORIES, CRITICAL),
        between("csat_score", 1, 5),
        between("ces_score", 1, 7),
        matches("language", r"[a-z]{2}"),
        matches("respondent_email", EMAIL),
    ]


def happens_after(later: str, earlier: str) -> DerivedCheck:
    """A later event is not before the event it follows."""

    def rule(df: pd.DataFrame) -> pd.Series:
        return ok_where(df[later] >= df[earlier], all_present(df, later, earlier))

    return DerivedCheck(
        f"{later}_after_{earlier}", (later, earlier), rule, f"{later} >= {earlier}", WARNING
    )


def fct_tickets_checks() -> list[Expectation]:
    return [
        *key("ticket_id"),
        not_null("created_at"),
        not_null("status", WARNING),
        in_set("status", ("new", "open", "pending", "hold", "solved", "closed", "deleted")),
        in_set("priority", ("urgent", "high", "normal", "low")),
        in_set("satisfaction_score", ("good", "bad"), CRITICAL),
        *counts(
            "first_reply_time_calendar_minutes",
            "full_resolution_calendar_minutes",
            "count_agent_replies",
            "count_reopens",
        ),
    ]


def dim_accounts_checks() -> list[Expectation]:
    return [
        *key("account_id"),
        not_null("account_name", WARNING),
        not_null("is_churned"),
        *counts("arr_amount", "seats", "tenure_days"),
        *counts("clv_historical_amount", "clv_predicted_amount", "clv_at_risk_amount"),
        matches("csm_email", EMAIL),
    ]


def churned_has_date() -> DerivedCheck:
    """A churned account has a churned_date."""

    def rule(df: pd.DataFrame) -> pd.Series:
        churned = df["is_churned"].astype("boolean").fillna(False)
        return ok_where(df["churned_date"].notna(), churned)

    return DerivedCheck(
        "churned_has_date",
        ("is_churned", "churned_date"),
        rule,
        "is_churned implies churned_date",
        WARNING,
    )


def dim_customers_checks() -> list[Expectation]:
    return [
        *key("customer_id"),
        between("last_nps_score", 0, 10),
        *counts("survey_responses", "tickets_total", "tickets_open"),
        matches("email", EMAIL),
        matches("phone_e164", r"\+[1-9][0-9]{6,14}"),
        matches("language", r"[a-z]{2}"),
        in_set("time_zone_source", TIME_ZONE_SOURCES),
    ]


TIME_ZONE_SOURCES = (
    "zendesk_user",
    "crm_contact_country",
    "crm_account_country",
    "survey_language",
    "profile_language",
)


def open_within_total() -> DerivedCheck:
    """tickets_open <= tickets_total."""
    return at_most("open_within_total", "tickets_open", "tickets_total")


def churn_scores_checks() -> list[Expectation]:
    return [
        not_null("account_id"),
        not_null("scored_at"),
        not_null("model_version"),
        unique_together(("account_id", "scored_at", "model_version")),
        not_null("churn_probability"),
        between("churn_probability", 0, 1),
        not_null("risk_band", WARNING),
        matches("top_drivers", r"\[.*\]"),
    ]


def mart_ticket_kpis_checks() -> list[Expectation]:
    return [
        *(not_null(c) for c in METRIC_KEY),
        unique_together(METRIC_KEY),
        in_set("segment_type", TICKET_SEGMENT_TYPES, CRITICAL),
        *counts("tickets", "solved_tickets"),
        *counts(
            "avg_first_reply_time_calendar_minutes",
            "avg_first_reply_time_business_minutes",
            "avg_full_resolution_calendar_minutes",
            "avg_full_resolution_business_minutes",
        ),
        *(
            between(c, 0, 100)
            for c in ("reopen_rate", "one_touch_resolution_rate", "sla_breach_rate", "ticket_csat")
        ),
    ]


def business_within_calendar() -> DerivedCheck:
    """Business minutes never exceed calendar minutes (a mean over the same tickets)."""

    def rule(df: pd.DataFrame) -> pd.Series:
        cal, bus = "avg_first_reply_time_calendar_minutes", "avg_first_reply_time_business_minutes"
        return ok_where(numeric(df, bus) <= numeric(df, cal) + 1, all_present(df, cal, bus))

    return DerivedCheck(
        "business_within_calendar",
        ("avg_first_reply_time_calendar_minutes", "avg_first_reply_time_business_minutes"),
        rule,
        "business first-reply minutes <= calendar minutes",
    )


def mart_churn_checks() -> list[Expectation]:
    return [
        not_null("month_start_date"),
        not_null("cohort"),
        unique_together(("month_start_date", "cohort")),
        *counts("accounts_at_start", "churned_accounts"),
        between("logo_churn_rate", 0, 100),
        between("gross_revenue_retention", 0, 100),
        between("net_revenue_retention", min_value=0),
    ]


def mart_account_health_checks() -> list[Expectation]:
    return [
        *key("account_id"),
        not_null("health_score"),
        in_set("health_band", HEALTH_BANDS, CRITICAL),
        *(
            between(c, 0, 100)
            for c in (
                "health_score",
                "support_score",
                "voice_score",
                "revenue_score",
                "engagement_score",
            )
        ),
        between("churn_probability", 0, 1),
    ]


def mart_clv_at_risk_checks() -> list[Expectation]:
    return [
        not_null("segment_type"),
        not_null("segment_value"),
        unique_together(("segment_type", "segment_value")),
        in_set("segment_type", ("all", "csm", "region", "plan"), CRITICAL),
        *counts("accounts", "scored_accounts", "clv_predicted_amount", "clv_at_risk_amount"),
    ]


def at_risk_within_value() -> DerivedCheck:
    """Where every account is scored, CLV at risk + predicted value = value if retained (each
    account's three amounts are rounded to the cent, so up to a cent each)."""

    def rule(df: pd.DataFrame) -> pd.Series:
        total = numeric(df, "clv_at_risk_amount") + numeric(df, "clv_predicted_amount")
        gap = (total - numeric(df, "clv_if_retained_amount")).abs()
        close = gap <= 0.0101 * numeric(df, "accounts") + 1e-6
        cols = ("clv_at_risk_amount", "clv_predicted_amount", "clv_if_retained_amount")
        all_scored = numeric(df, "scored_accounts") == numeric(df, "accounts")
        return ok_where(close, all_present(df, *cols) & all_scored)

    return DerivedCheck(
        "at_risk_plus_predicted_is_retained",
        (
            "clv_at_risk_amount",
            "clv_predicted_amount",
            "clv_if_retained_amount",
            "accounts",
            "scored_accounts",
        ),
        rule,
        "clv_at_risk_amount + clv_predicted_amount = clv_if_retained_amount",
    )


def mart_topics_checks() -> list[Expectation]:
    return [
        not_null("month_start_date"),
        not_null("topic"),
        unique_together(("month_start_date", "topic")),
        *counts("mentions", "open_text_answers", "nps_responses"),
        between("nps", -100, 100),
    ]


def mentions_within_answers() -> DerivedCheck:
    """A topic is named by no more answers than there are."""
    return at_most("mentions_within_answers", "mentions", "open_text_answers")


def mart_callbacks_checks() -> list[Expectation]:
    return [
        *key("callback_week_id"),
        not_null("owner_email"),
        not_null("week_start_date"),
        *counts("opened", "contacted", "closed", "closed_within_sla", "escalated"),
        between("closed_within_sla_pct", 0, 100),
    ]


def callback_counts_nest() -> DerivedCheck:
    """closed_within_sla <= closed <= opened; contacted and escalated <= opened."""
    names = ("opened", "contacted", "closed", "closed_within_sla", "escalated")

    def rule(df: pd.DataFrame) -> pd.Series:
        opened = numeric(df, "opened")
        cond = (
            (numeric(df, "closed_within_sla") <= numeric(df, "closed"))
            & (numeric(df, "closed") <= opened)
            & (numeric(df, "contacted") <= opened)
            & (numeric(df, "escalated") <= opened)
        )
        return ok_where(cond, all_present(df, *names))

    return DerivedCheck(
        "callback_counts_nest",
        names,
        rule,
        "closed_within_sla <= closed <= opened; contacted, escalated <= opened",
    )


_mart = family_specs(FAMILY, COLUMNS)


SPECS: tuple[DatasetSpec, ...] = (
    _mart("marts.dim_accounts", dim_accounts_checks, (churned_has_date(),)),
    _mart("marts.dim_customers", dim_customers_checks, (open_within_total(),)),
    _mart(
        "marts.fct_survey_responses",
        fct_survey_responses_checks,
        (nps_category_matches_score(), has_a_measure()),
    ),
    _mart(
        "marts.fct_tickets",
        fct_tickets_checks,
        (happens_after("solved_at", "created_at"), happens_after("first_reply_at", "created_at")),
    ),
    _mart(
        "marts.mart_nps",
        mart_nps_checks,
        (
            responses_add_up(),
            percent_matches("nps_matches_counts", "nps", "promoters", "detractors"),
            segment_all_is_all(),
        ),
    ),
    _mart(
        "marts.mart_csat",
        mart_csat_checks,
        (
            part_within_responses("satisfied"),
            percent_matches("csat_matches_counts", "csat", "satisfied"),
            segment_all_is_all(),
        ),
    ),
    _mart(
        "marts.mart_ces",
        mart_ces_checks,
        (
            part_within_responses("easy"),
            percent_matches("ces_easy_pct_matches_counts", "ces_easy_pct", "easy"),
            segment_all_is_all(),
        ),
    ),
    _mart("marts.mart_ticket_kpis", mart_ticket_kpis_checks, (business_within_calendar(),)),
    _mart("marts.mart_churn", mart_churn_checks),
    _mart("marts.mart_account_health", mart_account_health_checks),
    _mart("marts.mart_topics", mart_topics_checks, (mentions_within_answers(),)),
    _mart("marts.mart_callbacks", mart_callbacks_checks, (callback_counts_nest(),)),
    _mart("marts.mart_clv_at_risk", mart_clv_at_risk_checks, (at_risk_within_value(),)),
    _mart("ml.churn_scores", churn_scores_checks),
)
