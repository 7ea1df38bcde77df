"""The voice suites (expectations/voice.py) on hand-made frames: each kind of bad data fails."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cxloop.expectations.runner import validate

Frames = Callable[[str], pd.DataFrame]


def critical(dataset: str, frame: pd.DataFrame) -> set[str]:
    result = validate(dataset, frame)
    return {r.label for r in result.failures("critical")}


def test_sentiment_scored_without_label_or_unknown_method_fails(good_frames: Frames) -> None:
    frame = good_frames("ml.text_sentiment")
    assert not critical("ml.text_sentiment", frame)
    unlabelled = frame.assign(sentiment_label=[None, "positive", None])
    assert any("scored_has_label" in c for c in critical("ml.text_sentiment", unlabelled))
    guessed = frame.assign(sentiment_score=[-0.62, 0.4, 0.1])  # method none with a score
    assert any("scored_has_label" in c for c in critical("ml.text_sentiment", guessed))
    assert critical("ml.text_sentiment", frame.assign(method=["model", "lexicon", "guess"]))
    assert critical("ml.text_sentiment", frame.assign(sentiment_score=[-1.5, 0.4, None]))
    assert critical("ml.text_sentiment", frame.assign(text_id=["x", "x", "y"]))


def test_topics_repeated_or_of_unknown_source_fail(good_frames: Frames) -> None:
    frame = good_frames("ml.text_topics")
    assert not critical("ml.text_topics", frame)
    assert critical("ml.text_topics", pd.concat([frame, frame.head(1)], ignore_index=True))
    assert critical("ml.text_topics", frame.assign(topic_source=["keyword", "guess", "learned"]))


def test_drivers_impact_outside_its_interval_fails(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_drivers")
    assert not critical("marts.mart_drivers", frame)
    outside = frame.assign(nps_impact_ci_high=[-120.0, -11.08])
    assert any("impact_within_interval" in c for c in critical("marts.mart_drivers", outside))
    assert critical("marts.mart_drivers", frame.assign(driver_kind=["topic", "mood"]))
