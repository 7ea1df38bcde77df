"""The voice tables (ml.text_sentiment, ml.text_topics) and marts.mart_drivers: checked with the
marts (same family, so the marts stage and the gate cover them; docs/voice.md)."""

from __future__ import annotations

import pandas as pd
from great_expectations.expectations import Expectation

from cxloop.expectations._build import (
    CRITICAL,
    DatasetSpec,
    DerivedCheck,
    between,
    family_specs,
    in_set,
    not_null,
    ok_where,
    unique,
    unique_together,
)

FAMILY = "marts"

COLUMNS = {
    "ml.text_sentiment": (
        "text_id", "text_kind", "source_id", "customer_id", "account_id", "written_at",
        "language", "sentiment_score", "sentiment_label", "method", "model_version",
    ),
    "ml.text_topics": ("text_id", "topic", "topic_source", "weight"),
    "marts.mart_drivers": (
        "driver_id", "driver_kind", "driver", "n_mentions", "detractor_share",
        "promoter_share", "nps_with", "nps_without", "nps_impact", "nps_impact_ci_low",
        "nps_impact_ci_high", "churn_effect", "method",
    ),
}  # fmt: skip


def text_sentiment_checks() -> list[Expectation]:
    return [
        not_null("text_id"),
        unique("text_id"),
        in_set("text_kind", ("survey_answer", "ticket_comment"), CRITICAL),
        in_set("method", ("model", "lexicon", "none"), CRITICAL),
        in_set("sentiment_label", ("negative", "neutral", "positive"), CRITICAL),
        between("sentiment_score", -1, 1),
    ]


def text_topics_checks() -> list[Expectation]:
    return [
        not_null("text_id"),
        not_null("topic"),
        in_set("topic_source", ("keyword", "learned"), CRITICAL),
        unique_together(("text_id", "topic", "topic_source")),
        between("weight", 0, 1),
    ]


def mart_drivers_checks() -> list[Expectation]:
    return [
        not_null("driver_id"),
        unique("driver_id"),
        in_set("driver_kind", ("topic", "touchpoint", "ticket_experience"), CRITICAL),
        not_null("driver"),
        between("n_mentions", min_value=0),
        *(between(c, 0, 100) for c in ("detractor_share", "promoter_share")),
        *(between(c, -100, 100) for c in ("nps_with", "nps_without", "churn_effect")),
        between("nps_impact", -200, 200),
    ]


def scored_has_label() -> DerivedCheck:
    """A text scored by the model or the lexicon has a score and a label; method none has
    neither."""

    def rule(df: pd.DataFrame) -> pd.Series:
        scored = df["method"].isin(["model", "lexicon"])
        has = df["sentiment_score"].notna() & df["sentiment_label"].notna()
        has_none = df["sentiment_score"].isna() & df["sentiment_label"].isna()
        return ok_where((scored & has) | (~scored & has_none), df["method"].notna())

    return DerivedCheck(
        "scored_has_label",
        ("method", "sentiment_score", "sentiment_label"),
        rule,
        "method model/lexicon has a score and label; none has neither",
    )


def impact_within_interval() -> DerivedCheck:
    """nps_impact lies inside its 95% interval (low <= impact <= high)."""

    def rule(df: pd.DataFrame) -> pd.Series:
        impact, low, high = (
            pd.to_numeric(df[c], errors="coerce")
            for c in ("nps_impact", "nps_impact_ci_low", "nps_impact_ci_high")
        )
        cond = (low <= impact + 0.01) & (impact <= high + 0.01)
        return ok_where(cond, impact.notna() & low.notna() & high.notna())

    return DerivedCheck(
        "impact_within_interval",
        ("nps_impact", "nps_impact_ci_low", "nps_impact_ci_high"),
        rule,
        "nps_impact_ci_low <= nps_impact <= nps_impact_ci_high",
    )


_spec = family_specs(FAMILY, COLUMNS)


SPECS: tuple[DatasetSpec, ...] = (
    _spec("ml.text_sentiment", text_sentiment_checks, (scored_has_label(),)),
    _spec("ml.text_topics", text_topics_checks),
    _spec("marts.mart_drivers", mart_drivers_checks, (impact_within_interval(),)),
)
