"""The English lexicon prior: VADER (vaderSentiment ships its lexicon inside the package).

Used for English text the sentiment model does not serve (no model yet, or too little labelled
English). Score: VADER's compound score (-1..1); label by VADER's own thresholds (>= 0.05
positive, <= -0.05 negative, else neutral).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def lexicon_score(text: str) -> float:
    """VADER's compound score of the text."""
    return float(_analyzer().polarity_scores(text)["compound"])


def lexicon_label(score: float) -> str:
    """negative / neutral / positive by VADER's thresholds."""
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def lexicon_scores(texts: Iterable[str]) -> list[float]:
    """lexicon_score of each text."""
    return [lexicon_score(text) for text in texts]
