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
    fingerprint,
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
    """The current model, retrained first when the labelled answers changed since the newest
    version was fit.

    A new version is registered and becomes current by models.sentiment_registry's rule
    (never when it stops serving a language; a tie in held-out accuracy keeps the current one);
    either way the same answers are not trained on again.
    """
    current = load_current_sentiment(models_dir)
    rows = labelled(texts)
    latest = latest_sentiment(models_dir)
    if current is not None and latest is not None and len(rows):
        # the newest version was fit on these answers (promoted or not): nothing to learn
        if latest.metadata.get("training_data_sha256") == fingerprint(rows):
            return SentimentModelState(current, list(current.metadata.get("languages", [])))
    result = train_sentiment_model(texts, min_train, min_test)
    training: dict[str, Any] = {
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
