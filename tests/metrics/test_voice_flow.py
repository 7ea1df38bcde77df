"""The `voice` flow on a built warehouse: every text scored and tagged, the report written,
mart_drivers rebuilt through dbt, the voice datasets recorded and checked, a re-run idempotent.

The warehouse is a copy of the session's built one (tests/metrics/conftest.py) whose
ml.voice_texts holds the hand-written fixtures (tests/fixtures/voice): the 96 training answers
as survey answers with their scores, the 36 hand-labelled texts as customer ticket comments
(no score: the model trained on survey text scores them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from voice_fixtures import labelled_texts, training_answers

CONFIG = """\
version: 1
sources:
  crm: {kind: salesforce, path: salesforce}
voice:
  learned_topics: 4
  driver_window_days: 90
  min_train_answers: 20      # the fixture has 24 training answers per language
  min_test_answers: 5        # ...and 8 held out
"""


def fixture_texts() -> pd.DataFrame:
    answers = training_answers()
    surveys = pd.DataFrame(
        {
            "text_id": "survey_answer:" + answers["text_id"],
            "text_kind": "survey_answer",
            "source_id": answers["text_id"],
            "written_at": answers["written_at"],
            "text": answers["text"],
            "declared_language": answers["language"],
            "nps_score": answers["nps_score"],
            "nps_category": answers["nps_category"],
        }
    )
    labelled = labelled_texts()
    comments = pd.DataFrame(
        {
            "text_id": "ticket_comment:" + labelled["text_id"],
            "text_kind": "ticket_comment",
            "source_id": labelled["text_id"],
            "written_at": pd.Timestamp("2025-05-01 09:00"),
            "text": labelled["text"],
            "declared_language": None,
            "nps_score": None,
            "nps_category": None,
        }
    )
    return pd.concat([surveys, comments], ignore_index=True)


@pytest.fixture(scope="module")
def voiced(built_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("voice_home")
    (home / "warehouse").mkdir()
    warehouse = home / "warehouse" / "cx.duckdb"
    shutil.copy(built_home / "warehouse" / "cx.duckdb", warehouse)
    con = duckdb.connect(str(warehouse))
    texts = fixture_texts()
    con.execute("delete from ml.voice_texts")
    con.register("texts", texts)
    names = ", ".join(texts.columns)
    con.execute(f"insert into ml.voice_texts ({names}) select {names} from texts")
    con.close()
    config = home / "cxloop.yaml"
    config.write_text(CONFIG)
    mp = pytest.MonkeyPatch()
    mp.setenv("CXLOOP_HOME", str(home))
    try:
        from cxloop.flows.voice import voice

        first = voice(config_path=str(config))
        second = voice(config_path=str(config))
        from cxloop.flows.check import check

        checked = check(  # raises on a critical failure; the verdicts are asserted below
            stage="marts",
            config_path=str(config),
            datasets=["ml.text_sentiment", "ml.text_topics", "marts.mart_drivers"],
        )
    finally:
        mp.undo()
    return {"home": home, "warehouse": warehouse, "first": first, "second": second,
            "checked": checked}  # fmt: skip


def query(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_every_text_scored_and_comments_by_the_survey_model(voiced: dict) -> None:
    rows = query(voiced["warehouse"], "select * from ml.text_sentiment")
    assert len(rows) == 96 + 36 and rows["text_id"].is_unique
    assert set(rows["method"]) == {"model"} and set(rows["model_version"]) == {"v0001"}
    comments = rows[rows["text_kind"] == "ticket_comment"].copy()
    labels = labelled_texts().set_index("text_id")["label"]
    comments["label"] = comments["source_id"].map(labels)
    comments["right"] = (comments["sentiment_score"] > 0) == (comments["label"] == "positive")
    right = comments.groupby("language")["right"].sum().to_dict()
    assert set(right) == {"en", "ar", "fa"} and min(right.values()) >= 9, right


def test_report_and_summary_give_held_out_accuracy_per_language(voiced: dict) -> None:
    summary = voiced["first"]["sentiment"]
    assert set(summary["held_out_accuracy"]) == {"ar", "en", "fa"}
    assert summary["too_little_data"] == []
    saved = json.loads((voiced["home"] / "reports" / "sentiment.json").read_text())
    assert saved["held_out_accuracy"] == summary["held_out_accuracy"]
    assert "held-out accuracy" in (voiced["home"] / "reports" / "sentiment.md").read_text()
    assert voiced["first"]["sentiment"]["trained_this_run"]["registered"] == "v0001"
    assert voiced["second"]["sentiment"]["trained_this_run"] is None  # same answers: reused


def test_topics_and_drivers_rebuilt(voiced: dict) -> None:
    topics = query(voiced["warehouse"], "select * from ml.text_topics")
    assert {"billing", "slow_support", "pricing"} <= set(topics["topic"])
    drivers = query(
        voiced["warehouse"], "select * from marts.mart_drivers where driver_kind = 'topic'"
    )
    expected = topics.groupby("topic")["text_id"].nunique().to_dict()
    assert dict(zip(drivers["driver"], drivers["n_mentions"], strict=True)) == expected
    assert voiced["first"]["build"]["success"]


def test_rerun_is_idempotent_and_recorded_for_the_gate(voiced: dict) -> None:
    counts = query(
        voiced["warehouse"],
        "select (select count(*) from ml.text_sentiment) as s, "
        "(select count(*) from ml.text_topics) as t",
    )
    assert (int(counts["s"][0]), int(counts["t"][0])) == (
        voiced["second"]["sentiment"]["texts"],
        voiced["second"]["topics"]["rows"],
    )
    builds = query(
        voiced["warehouse"],
        "select selection, datasets from ops.builds where selection = 'voice' order by started_at",
    )
    assert len(builds) == 2
    assert sorted(builds["datasets"][1]) == ["ml.text_sentiment", "ml.text_topics"]
    verdicts = query(
        voiced["warehouse"],
        "select dataset, passed from ops.gate_verdicts where dataset in "
        "('ml.text_sentiment', 'ml.text_topics', 'marts.mart_drivers')",
    )
    assert len(verdicts) == 3 and verdicts["passed"].all(), verdicts
