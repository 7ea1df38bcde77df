"""Sentiment of every text: read ml.voice_texts, detect languages, train or reuse the model,
score, write ml.text_sentiment (defined in cxloop.tables), and report (docs/voice.md).

Method per text: `model` when the current sentiment model serves the text's language;
`lexicon` (VADER) for other English text; `none` otherwise (no score, no label). The table holds
the latest scoring of every text: a run replaces it whole, in one transaction.
"""

from __future__ import annotations

import json
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
from cxloop.voice.store import replace_table

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

    A new version is registered and becomes current unless the current one does better on
    the new version's held-out answers (models.sentiment_registry); either way the same
    answers are not trained on again.
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


def write_sentiment(warehouse: Path, rows: pd.DataFrame) -> int:
    """Replace ml.text_sentiment with these rows, in one transaction."""
    return replace_table(warehouse, TEXT_SENTIMENT, rows)


@dataclass
class TextCounts:
    """The report's counts: texts, and texts per kind, method and language ('none': none)."""

    texts: int
    by_kind: dict[str, int]
    by_method: dict[str, int]
    by_language: dict[str, int]


def text_counts(rows: pd.DataFrame) -> TextCounts:
    """The counts of ml.text_sentiment rows (one per text)."""
    return TextCounts(
        int(len(rows)),
        *(
            {str(k): int(v) for k, v in rows[c].fillna("none").value_counts().items()}
            for c in ("text_kind", "method", "language")
        ),
    )


def sentiment_report(counts: TextCounts, state: SentimentModelState) -> dict:
    """Held-out accuracy per language, languages with too little data, and methods used."""
    meta = state.metadata
    per_language = meta.get("per_language", {})
    if state.training is not None and not per_language:
        per_language = state.training.get("per_language", {})
    return {
        "texts": counts.texts,
        "by_kind": dict(sorted(counts.by_kind.items())),
        "by_method": dict(sorted(counts.by_method.items())),
        "by_language": dict(sorted(counts.by_language.items(), key=lambda kv: (-kv[1], kv[0]))),
        "model_version": state.version.version if state.version else None,
        "model_languages": state.languages,
        "held_out_accuracy": {
            lang: r.get("accuracy") for lang, r in per_language.items() if r["status"] == "model"
        },
        "too_little_data": sorted(
            lang for lang, r in per_language.items() if r["status"] != "model"
        ),
        "per_language": per_language,
        "data_window": meta.get("data_window") or (state.training or {}).get("window"),
        "trained_this_run": state.training,
    }


def write_report(report: dict[str, Any], reports_dir: Path) -> list[Path]:
    """The report as JSON and markdown under reports_dir (written to temporary names, then
    renamed)."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in (
        ("sentiment.json", json.dumps(report, indent=2, default=str) + "\n"),
        ("sentiment.md", report_markdown(report)),
    ):
        target = reports_dir / name
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(target)
        paths.append(target)
    return paths


def report_markdown(report: dict[str, Any]) -> str:
    """The report for a person: per-language held-out accuracy and what had too little data."""
    lines = [
        "# Sentiment model report",
        "",
        f"- texts scored: {report['texts']} ({_pairs(report['by_kind'])})",
        f"- methods: {_pairs(report['by_method'])}",
        f"- model version: {report['model_version'] or 'none'}",
        f"- languages with too little data for a model: "
        f"{', '.join(report['too_little_data']) or 'none'}",
        "",
        "| language | train answers (detractors / promoters) | held-out answers | "
        "held-out accuracy | majority baseline | status |",
        "|---|---|---|---|---|---|",
    ]
    for lang, r in sorted(report["per_language"].items()):
        lines.append(
            f"| {lang} | {r['n_train']} ({r['n_train_detractors']} / {r['n_train_promoters']}) "
            f"| {r['n_test']} | {_num(r.get('accuracy'))} | {_num(r.get('majority_baseline'))} "
            f"| {r['status']} |"
        )
    return "\n".join(lines) + "\n"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
