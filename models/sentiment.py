"""The score-supervised sentiment model: character n-grams + logistic regression, one Pipeline.

Label: the answer's NPS category, detractor (0) against promoter (1); passives and texts with no
score do not train. Split by time: the latest `TEST_FRACTION` of labelled answers (by the time
they were written, whole days) are held out; the model fits on the earlier ones and is judged
on the later ones, per language. We score with that same model (no refit), so the held-out
accuracy describes the model that scores. A language is served by the model only when it had
at least `MIN_TRAIN_PER_LANGUAGE` training answers (`MIN_PER_CLASS` of each class) and at
least `MIN_TEST_PER_LANGUAGE` held-out answers to judge it on (cxloop.yaml `voice` can lower
both); the others are reported as
having too little data. Character n-grams (`char_wb`, 2-5) serve Arabic, Persian and any
other script without a tokenizer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from cxloop.models.textnorm import normalize_text

FAMILY = "sentiment"
RANDOM_STATE = 0
TEST_FRACTION = 0.25
MIN_TRAIN_PER_LANGUAGE = 30
MIN_TEST_PER_LANGUAGE = 10
MIN_PER_CLASS = 5
NEUTRAL_BAND = 0.2  # |score| below this is neutral (promoter probability 0.4-0.6)
LABEL_OF = {"detractor": 0, "promoter": 1}
REQUIRED = ("text_id", "text", "language", "written_at", "nps_category")


class SentimentDataError(ValueError):
    """The text frame lacks a column the model needs."""


@dataclass
class SentimentTrainResult:
    """The fitted pipeline (None when no language had enough data), per-language held-out
    results, the time windows and the held-out set (to compare versions on)."""

    pipeline: Pipeline | None
    languages: list[str]
    per_language: dict[str, dict[str, Any]]
    window: dict[str, Any]
    test: pd.DataFrame
    data_sha256: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def accuracy(self) -> float | None:
        """Held-out accuracy over the served languages' answers (None without a model)."""
        served = self.test[self.test["language"].isin(self.languages)]
        if self.pipeline is None or served.empty:
            return None
        return accuracy(self.pipeline, served)


def build_pipeline(random_state: int = RANDOM_STATE) -> Pipeline:
    """TF-IDF over character n-grams of the normalized text, then logistic regression."""
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    preprocessor=normalize_text,
                    min_df=2,
                    sublinear_tf=True,
                ),
            ),
            (
                "classifier",
                LogisticRegression(
                    C=4.0, class_weight="balanced", max_iter=2000, random_state=random_state
                ),
            ),
        ]
    )


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Answers with a detractor or promoter score and some text, with `label` (0/1)."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SentimentDataError(f"text frame lacks column(s) {', '.join(missing)}")
    rows = frame[frame["nps_category"].isin(list(LABEL_OF)) & frame["text"].notna()].copy()
    rows = rows[rows["text"].astype(str).str.strip() != ""]
    rows["label"] = rows["nps_category"].map(LABEL_OF).astype(int)
    rows["written_at"] = pd.to_datetime(rows["written_at"])
    return rows.sort_values(["written_at", "text_id"], kind="stable").reset_index(drop=True)


def split_by_time(rows: pd.DataFrame, test_fraction: float = TEST_FRACTION) -> pd.Timestamp | None:
    """The first day of the held-out window: the latest `test_fraction` of answers' days."""
    days = rows["written_at"].dt.normalize()
    if days.nunique() < 2:
        return None
    cut = days.quantile(1 - test_fraction, interpolation="higher")
    if cut <= days.min():  # everything on the first day would be held out
        cut = days[days > days.min()].min()
    return cut


def fingerprint(rows: pd.DataFrame) -> str:
    """sha256 of the labelled answers (id, time, text, label), independent of row order."""
    ordered = rows.sort_values("text_id")[["text_id", "written_at", "text", "label"]].astype(str)
    digest = hashlib.sha256()
    for values in ordered.itertuples(index=False):
        digest.update("\x1f".join(values).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def accuracy(pipeline: Pipeline, rows: pd.DataFrame) -> float:
    """Share of rows whose predicted class (promoter probability >= 0.5) matches the label."""
    predicted = pipeline.predict_proba(rows["text"].astype(str))[:, 1] >= 0.5
    return float(np.mean(predicted.astype(int) == rows["label"].to_numpy()))


def _language_report(
    train: pd.DataFrame, test: pd.DataFrame, min_train: int, min_test: int
) -> dict[str, dict[str, Any]]:
    """Per language: training and held-out counts, and whether it has enough for a model."""
    report: dict[str, dict[str, Any]] = {}
    languages = sorted(set(train["language"].dropna()) | set(test["language"].dropna()))
    for language in languages:
        tr = train[train["language"] == language]
        te = test[test["language"] == language]
        per_class = tr["label"].value_counts()
        enough = (
            len(tr) >= min_train
            and min(per_class.get(0, 0), per_class.get(1, 0)) >= MIN_PER_CLASS
            and len(te) >= min_test
        )
        report[language] = {
            "n_train": int(len(tr)),
            "n_train_detractors": int(per_class.get(0, 0)),
            "n_train_promoters": int(per_class.get(1, 0)),
            "n_test": int(len(te)),
            "status": "model" if enough else "too_little_data",
            "accuracy": None,
            "majority_baseline": (
                round(float(max(te["label"].mean(), 1 - te["label"].mean())), 4)
                if len(te)
                else None
            ),
        }
    return report


def train_sentiment_model(
    frame: pd.DataFrame,
    min_train: int = MIN_TRAIN_PER_LANGUAGE,
    min_test: int = MIN_TEST_PER_LANGUAGE,
    random_state: int = RANDOM_STATE,
) -> SentimentTrainResult:
    """Fit on the earlier answers, judge on the later ones, per language (module docstring).

    A language is served when it has `min_train` training and `min_test` held-out answers."""
    rows = labelled(frame)
    digest = fingerprint(rows)
    cut = split_by_time(rows) if len(rows) else None
    if cut is None:
        window = {"labelled": int(len(rows)), "reason": "labelled answers span fewer than 2 days"}
        return SentimentTrainResult(None, [], {}, window, rows.iloc[0:0], digest)
    train, test = rows[rows["written_at"] < cut], rows[rows["written_at"] >= cut]
    per_language = _language_report(train, test, min_train, min_test)
    served = [lang for lang, r in per_language.items() if r["status"] == "model"]
    window = {
        "train_from": train["written_at"].min().isoformat(),
        "train_to": train["written_at"].max().isoformat(),
        "test_from": test["written_at"].min().isoformat(),
        "test_to": test["written_at"].max().isoformat(),
        "n_train": int(len(train)),
        "n_test": int(len(test)),
    }
    if not served or train["label"].nunique() < 2:
        return SentimentTrainResult(None, [], per_language, window, test, digest)
    pipeline = build_pipeline(random_state).fit(train["text"].astype(str), train["label"])
    for language, report in per_language.items():
        held_out = test[test["language"] == language]
        if len(held_out):
            report["accuracy"] = round(accuracy(pipeline, held_out), 4)
    return SentimentTrainResult(pipeline, served, per_language, window, test, digest)


def sentiment_label(score: float) -> str:
    """negative / neutral / positive from a score in -1..1 (NEUTRAL_BAND either side of 0)."""
    if score <= -NEUTRAL_BAND:
        return "negative"
    if score >= NEUTRAL_BAND:
        return "positive"
    return "neutral"


def model_scores(pipeline: Pipeline, texts: pd.Series) -> np.ndarray:
    """Score in -1..1: twice the promoter probability minus one."""
    if texts.empty:
        return np.zeros(0)
    return 2.0 * pipeline.predict_proba(texts.astype(str))[:, 1] - 1.0
