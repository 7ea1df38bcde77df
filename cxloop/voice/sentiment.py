"""Sentiment of a text: train or reuse the sentiment model, and score texts into
ml.text_sentiment rows (defined in cxloop.tables; docs/voice.md).

Method per text: `model` when the current sentiment model serves the text's language;
`lexicon` (VADER) for other English text; `none` otherwise (no score, no label). Which texts are
scored, and which rows are rewritten, is cxloop.voice.changed's and cxloop.voice.reuse's; the
report is cxloop.voice.report's. This module's code is part of the sentiment key: an edit here
scores every text again on the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.errors import CxloopError
from cxloop.models.registry import ModelVersion
from cxloop.models.sentiment import (
    MIN_TEST_PER_LANGUAGE,
    MIN_TRAIN_PER_LANGUAGE,
    labelled,
    model_scores,
    sentiment_label,
    train_sentiment_model,
)
from cxloop.models.sentiment_registry import (
    latest_sentiment,
    load_current_sentiment,
    promote_sentiment_if_better,
    register_sentiment,
)
from cxloop.tables import TEXT_SENTIMENT
from cxloop.voice.lexicon import lexicon_label, lexicon_scores

TEXTS = ("ml", "voice_texts")
LEXICON_LANGUAGE = "en"
# A new version is trained once the labelled answers of a language that has (or had) enough
# for a model moved by more than this share of their count at the newest version's training
# (docs/voice.md "When the model is trained again").
RETRAIN_CHANGE = 0.05


class VoiceDataError(CxloopError):
    """The warehouse lacks what the voice stage reads (the message says what to run)."""


@dataclass
class SentimentModelState:
    """The version that scores (None without one), the languages it serves, and what training
    did this run (None when the labelled answers had not changed)."""

    version: ModelVersion | None
    languages: list[str] = field(default_factory=list)
    training: dict[str, Any] | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return self.version.metadata if self.version else {}


def train_or_reuse(
    texts: pd.DataFrame,
    models_dir: Path,
    min_train: int = MIN_TRAIN_PER_LANGUAGE,
    min_test: int = MIN_TEST_PER_LANGUAGE,
) -> SentimentModelState:
    """The current model, retrained first when the labelled answers moved enough since the
    newest version was fit (`training_reason`).

    A new version is registered and becomes current by models.sentiment_registry's rule
    (never when it stops serving a language; a tie in held-out accuracy keeps the current one);
    either way the same answers are not trained on again.
    """
    current = load_current_sentiment(models_dir)
    rows = labelled(texts)
    latest = latest_sentiment(models_dir)
    reason = "no sentiment model yet"
    if current is not None and latest is not None and len(rows):
        found = training_reason(latest, rows, min_train, min_test)
        if found is None:  # the newest version (promoted or not) learnt from about these
            return SentimentModelState(current, list(current.metadata.get("languages", [])))
        reason = found
    result = train_sentiment_model(texts, min_train, min_test)
    training: dict[str, Any] = {
        "reason": reason,
        "labelled_answers": int(len(rows)),
        "window": result.window,
        "per_language": result.per_language,
        "accuracy": result.accuracy,
    }
    if result.pipeline is None:
        training["registered"] = None
        state_version = current
    else:
        candidate = register_sentiment(result, models_dir)
        promotion = promote_sentiment_if_better(candidate, result, models_dir)
        training["registered"] = candidate.version
        training["promotion"] = promotion.as_dict()
        state_version = candidate if promotion.promoted else current
    languages = list(state_version.metadata.get("languages", [])) if state_version else []
    return SentimentModelState(state_version, languages, training)


def training_reason(
    latest: ModelVersion, rows: pd.DataFrame, min_train: int, min_test: int
) -> str | None:
    """Why the labelled answers `rows` call for a version after `latest`; None when they do not.

    A language counts once it has, or had at `latest`'s training, `min_train + min_test`
    labelled answers (fewer can never make a model): a new version is trained when its count
    moved by more than RETRAIN_CHANGE of the count `latest` was trained with, or reached that
    minimum since (a language that now has enough). Answers edited or relabelled without
    moving a count wait for the next training (docs/voice.md); the same answers never train
    again.
    """
    trained = {
        language: int(report.get("n_train", 0)) + int(report.get("n_test", 0))
        for language, report in latest.metadata.get("per_language", {}).items()
    }
    if not trained:
        return f"{latest.version} records no answers per language"
    now = {str(k): int(v) for k, v in rows["language"].value_counts().items()}
    for language in sorted(set(trained) | set(now)):
        before, after = trained.get(language, 0), now.get(language, 0)
        if max(before, after) < min_train + min_test:
            continue
        if before < min_train + min_test or abs(after - before) > RETRAIN_CHANGE * before:
            return f"{language}: {after} labelled answers, {before} at {latest.version}"
    return None


def score_texts(texts: pd.DataFrame, state: SentimentModelState) -> pd.DataFrame:
    """One ml.text_sentiment row per text (texts need `language`, see with_languages)."""
    out = texts[
        ["text_id", "text_kind", "source_id", "customer_id", "account_id", "written_at"]
    ].copy()
    out["language"] = texts["language"]
    out["text_sha256"] = texts["text_sha256"] if "text_sha256" in texts else None
    out["sentiment_score"] = float("nan")
    out["sentiment_label"] = None
    out["method"] = "none"
    out["model_version"] = None
    by_model = texts["language"].isin(state.languages if state.version else [])
    if by_model.any() and state.version is not None:
        scores = _per_distinct(
            texts.loc[by_model, "text"],
            lambda distinct: model_scores(state.version.model, distinct),  # type: ignore[union-attr,arg-type]
        )
        out.loc[by_model, "sentiment_score"] = scores
        out.loc[by_model, "sentiment_label"] = [sentiment_label(s) for s in scores]
        out.loc[by_model, "method"] = "model"
        out.loc[by_model, "model_version"] = state.version.version
    by_lexicon = ~by_model & (texts["language"] == LEXICON_LANGUAGE)
    if by_lexicon.any():
        scores = _per_distinct(texts.loc[by_lexicon, "text"], lexicon_scores)
        out.loc[by_lexicon, "sentiment_score"] = scores
        out.loc[by_lexicon, "sentiment_label"] = [lexicon_label(s) for s in scores]
        out.loc[by_lexicon, "method"] = "lexicon"
    out["sentiment_score"] = out["sentiment_score"].round(4)
    out["scored_at"] = datetime.now(UTC).replace(tzinfo=None)
    return out[list(TEXT_SENTIMENT.column_names)]


def _per_distinct(texts: pd.Series, score: Callable[[pd.Series], Any]) -> list[float]:
    """score() of each text, computed once per distinct text (answers repeat: "Great", "ok")."""
    values = texts.astype(str)
    distinct = pd.Series(values.unique())
    by_text = dict(zip(distinct, (float(x) for x in score(distinct)), strict=True))
    return [by_text[v] for v in values]
