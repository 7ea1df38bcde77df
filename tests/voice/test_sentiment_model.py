"""Sentiment in en, ar and fa: trained on one hand-written set, judged on another never trained on.

Thresholds are honest, not tuned: 12 labelled texts per language; the model must get at least
9 right (0.75) in each, the VADER prior at least 9 of the 12 English ones, and language
detection at least 35 of 36 (one short text may go to a neighbouring language).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from voice_fixtures import labelled_texts, training_answers

from cxloop.models.registry import ModelVersion, current_version, list_versions, set_current
from cxloop.models.sentiment import (
    FAMILY,
    accuracy,
    model_scores,
    sentiment_label,
    train_sentiment_model,
)
from cxloop.summary import voice_line
from cxloop.voice.language import detect_language, detect_languages
from cxloop.voice.lexicon import lexicon_label, lexicon_scores
from cxloop.voice.report import report_markdown, sentiment_report, text_counts
from cxloop.voice.sentiment import (
    SentimentModelState,
    score_texts,
    train_or_reuse,
    training_reason,
)

# the fixture has 24 training and 8 held-out answers per language (time split below)
MIN_TRAIN, MIN_TEST = 20, 5


@pytest.fixture(scope="module")
def trained():
    return train_sentiment_model(training_answers(), MIN_TRAIN, MIN_TEST)


def test_the_time_split_holds_out_the_latest_quarter_of_days(trained) -> None:
    # 16 dates per class, every six days from 2025-01-02; the cut is the 75th percentile day
    assert trained.window["n_train"] == 72 and trained.window["n_test"] == 24
    assert trained.window["train_to"] < trained.window["test_from"] == "2025-03-15T10:00:00"
    assert trained.languages == ["ar", "en", "fa"]
    for language in ("ar", "en", "fa"):
        report = trained.per_language[language]
        assert (report["n_train"], report["n_test"], report["status"]) == (24, 8, "model")
        held_out = trained.test[trained.test["language"] == language]
        assert report["accuracy"] == round(accuracy(trained.pipeline, held_out), 4)


def test_model_labels_texts_it_never_saw_in_each_language(trained) -> None:
    texts = labelled_texts()
    scores = model_scores(trained.pipeline, texts["text"])
    assert np.all((scores >= -1) & (scores <= 1))
    texts["right"] = (scores > 0) == (texts["label"] == "positive")
    per_language = texts.groupby("language")["right"].sum().to_dict()
    assert set(per_language) == {"en", "ar", "fa"}
    assert all(n >= 9 for n in per_language.values()), per_language
    assert {sentiment_label(s) for s in (-0.9, -0.1, 0.1, 0.9)} == {
        "negative",
        "neutral",
        "positive",
    }


def test_vader_prior_on_english() -> None:
    english = labelled_texts().query("language == 'en'")
    scores = lexicon_scores(english["text"])
    labels = english["label"]
    right = sum((s > 0) == (lab == "positive") for s, lab in zip(scores, labels, strict=True))
    assert right >= 9
    assert lexicon_label(0.0) == "neutral" and lexicon_label(-0.5) == "negative"


def test_language_detection_on_the_hand_labelled_texts() -> None:
    texts = labelled_texts()
    detected = detect_languages(texts["text"])
    assert sum(d == lang for d, lang in zip(detected, texts["language"], strict=True)) >= 35
    assert detect_language("12345 !!") is None and detect_language("") is None


def test_languages_with_too_little_data_are_reported_and_not_served(trained) -> None:
    answers = training_answers()
    german = answers.query("language == 'en'").head(6).assign(language="de")
    german["text_id"] = "de-" + german["text_id"]
    result = train_sentiment_model(pd.concat([answers, german]), MIN_TRAIN, MIN_TEST)
    assert result.per_language["de"]["status"] == "too_little_data"
    assert "de" not in result.languages
    texts = pd.concat(
        [
            labelled_texts().assign(written_at=pd.Timestamp("2025-05-01")),
            pd.DataFrame(
                {"text_id": ["x1"], "language": ["de"], "text": ["Der Support war sehr gut."]}
            ),
        ],
        ignore_index=True,
    )
    for column in ("text_kind", "source_id", "customer_id", "account_id"):
        texts[column] = "t"
    state = SentimentModelState(None, [])
    rows = score_texts(texts, state)  # no model: English by the lexicon, the rest unscored
    by_language = rows.groupby("language")["method"].agg(set).to_dict()
    assert by_language == {"en": {"lexicon"}, "ar": {"none"}, "fa": {"none"}, "de": {"none"}}
    unscored = rows[rows["method"] == "none"]
    assert unscored["sentiment_score"].isna().all() and unscored["sentiment_label"].isna().all()


def unseen_texts() -> pd.DataFrame:
    """The hand-labelled texts no version trained on, with the columns score_texts keeps."""
    texts = labelled_texts()
    for column in ("text_kind", "source_id", "customer_id", "account_id"):
        texts[column] = "t"
    texts["written_at"] = pd.Timestamp("2025-05-01")
    return texts


def test_registry_keeps_sentiment_beside_churn_and_retrains_on_new_answers(
    tmp_path: Path,
) -> None:
    answers = training_answers()
    first = train_or_reuse(answers, tmp_path, MIN_TRAIN, MIN_TEST)
    assert first.version is not None and first.version.version == "v0001"
    assert first.training is not None and first.training["promotion"]["promoted"]
    assert current_version(tmp_path, FAMILY) == "v0001"
    assert list_versions(tmp_path) == []  # the churn family is untouched
    again = train_or_reuse(answers, tmp_path, MIN_TRAIN, MIN_TEST)
    assert again.training is None and again.version.version == "v0001"
    more = pd.concat([answers, answers.tail(4).assign(text_id=lambda f: f["text_id"] + "b")])
    third = train_or_reuse(more, tmp_path, MIN_TRAIN, MIN_TEST)
    assert third.training is not None and third.training["registered"] == "v0002"
    assert list_versions(tmp_path, FAMILY) == ["v0001", "v0002"]
    # v0002 does no better than v0001 on v0002's held-out answers: a tie keeps v0001, so no
    # text is scored again for nothing (as the churn registry keeps its model on a tie)
    promotion = third.training["promotion"]
    assert not promotion["promoted"] and third.version.version == "v0001"
    assert "<=" in promotion["reason"] and current_version(tmp_path, FAMILY) == "v0001"
    # had v0002 not been promoted, the same answers are not trained on again at every run
    set_current(tmp_path, "v0001", FAMILY)
    kept = train_or_reuse(more, tmp_path, MIN_TRAIN, MIN_TEST)
    assert kept.training is None and kept.version.version == "v0001"
    assert list_versions(tmp_path, FAMILY) == ["v0001", "v0002"]
    set_current(tmp_path, "v0002", FAMILY)
    second = train_or_reuse(more, tmp_path, MIN_TRAIN, MIN_TEST)  # made current by hand
    assert second.training is None and second.version.version == "v0002"

    rows = score_texts(unseen_texts(), second)
    assert set(rows["method"]) == {"model"} and rows["model_version"].notna().all()
    report = sentiment_report(text_counts(rows), second)
    assert set(report["held_out_accuracy"]) == {"ar", "en", "fa"}
    assert report["too_little_data"] == []
    # the four added answers are the latest Persian ones: held out, beside the 8 before
    assert "| fa | 24 (12 / 12) | 12 |" in report_markdown(report)
    line = voice_line(report)  # the run summary's line
    assert line.startswith("Sentiment: 36 texts (model 36)") and "fa " in line
    assert line.endswith("too little data for a model: none")


def test_a_version_serving_a_new_language_becomes_current(tmp_path: Path) -> None:
    """Without Persian answers v0001 serves ar and en; once there are enough Persian ones the
    next version serves fa too and becomes current whatever its accuracy on the others."""
    answers = training_answers()
    first = train_or_reuse(answers[answers["language"] != "fa"], tmp_path, MIN_TRAIN, MIN_TEST)
    assert first.version is not None and first.languages == ["ar", "en"]
    with_persian = train_or_reuse(answers, tmp_path, MIN_TRAIN, MIN_TEST)
    promotion = with_persian.training["promotion"]  # type: ignore[index]
    assert promotion["promoted"]
    assert promotion["reason"].startswith("serves fa, which v0001 does not; held-out accuracy")
    assert with_persian.version.version == "v0002" and with_persian.languages == ["ar", "en", "fa"]
    assert current_version(tmp_path, FAMILY) == "v0002"


def test_a_version_that_stops_serving_a_language_is_not_made_current(tmp_path: Path) -> None:
    """v0001 serves ar, en and fa; answers without Persian train a version serving ar and en,
    however accurate, which would leave every Persian text unscored: v0001 stays current."""
    answers = training_answers()
    first = train_or_reuse(answers, tmp_path, MIN_TRAIN, MIN_TEST)
    assert first.languages == ["ar", "en", "fa"]
    without_persian = train_or_reuse(
        answers[answers["language"] != "fa"], tmp_path, MIN_TRAIN, MIN_TEST
    )
    promotion = without_persian.training["promotion"]  # type: ignore[index]
    assert not promotion["promoted"]
    assert promotion["reason"] == "would stop serving fa, which v0001 serves"
    assert without_persian.version.version == "v0001"
    assert without_persian.languages == ["ar", "en", "fa"]
    assert current_version(tmp_path, FAMILY) == "v0001"
    rows = score_texts(unseen_texts(), without_persian)  # Persian still scored by v0001
    assert set(rows["model_version"]) == {"v0001"}
    report = report_markdown(sentiment_report(text_counts(rows), without_persian))
    assert (
        "- trained this run: v0002, not made current "
        "(would stop serving fa, which v0001 serves)" in report
    )


def counts_version(per_language: dict[str, int]) -> ModelVersion:
    """A registered version's metadata as training writes it: counts per language."""
    reports = {
        language: {"n_train": n - n // 4, "n_test": n // 4} for language, n in per_language.items()
    }
    return ModelVersion("v0003", Path("."), {"per_language": reports})


def answers_in(per_language: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"language": [lang for lang, n in per_language.items() for _ in range(n)]})


@pytest.mark.parametrize(
    ("now", "trains_on"),
    [
        ({"en": 105, "ar": 40, "fa": 10}, None),  # en +5%, fa too few for a model either way
        ({"en": 106, "ar": 40, "fa": 10}, "en"),  # past +5%
        ({"en": 100, "ar": 38, "fa": 10}, None),  # ar -5% (answers erased)
        ({"en": 100, "ar": 37, "fa": 10}, "ar"),
        ({"en": 100, "ar": 40, "fa": 25}, "fa"),  # fa now has enough (20 + 5) for a model
        ({"en": 100, "ar": 40, "fa": 24}, None),
        ({"en": 100, "ar": 40, "fa": 10, "de": 25}, "de"),  # a new language with enough
        ({"en": 100, "ar": 40}, None),  # fa gone, it never had enough
        ({"en": 100, "ar": 40, "fa": 10, "ur": 25}, "ur"),  # +1 (4%), but now enough
    ],
)
def test_a_version_is_trained_once_a_language_moved_past_five_percent_or_has_enough(
    now: dict[str, int], trains_on: str | None
) -> None:
    latest = counts_version({"en": 100, "ar": 40, "fa": 10, "ur": 24})  # ur: one short
    reason = training_reason(latest, answers_in({"ur": 24, **now}), MIN_TRAIN, MIN_TEST)
    if trains_on is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(f"{trains_on}: {now[trains_on]} ")


def test_a_few_new_answers_reuse_the_model(tmp_path: Path) -> None:
    answers = training_answers()
    first = train_or_reuse(answers, tmp_path, MIN_TRAIN, MIN_TEST)
    assert first.training is not None and first.training["reason"] == "no sentiment model yet"
    english = answers[answers["language"] == "en"]
    one_more = pd.concat([answers, english.tail(1).assign(text_id=lambda f: f["text_id"] + "b")])
    assert len(one_more[one_more["language"] == "en"]) <= 1.05 * len(english)
    again = train_or_reuse(one_more, tmp_path, MIN_TRAIN, MIN_TEST)
    assert again.training is None and again.version is not None
    assert again.version.version == "v0001" and list_versions(tmp_path, FAMILY) == ["v0001"]
