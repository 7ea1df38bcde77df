"""Voice redoes only new and changed texts, and its tables equal a full recomputation.

On a hand-made warehouse whose ml.voice_texts holds the hand-written fixtures (the 36 cluster
texts and the 96 training answers, 132 texts, no sentiment model: English by the lexicon):
a first run computes everything and fits the learned topics; then two texts are added, one
edited and one deleted (5 moved of 132, under the 10% refit share): exactly 3 texts are
computed, and the tables equal the same run with nothing reused; 15 more texts (over 10%)
refit the topics, which then equal topic_rows on every text (what a first run gives).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from voice_fixtures import FIXTURES, training_answers

from cxloop.voice.reuse import (
    _changed_ids,
    forget_stale_languages,
    read_previous,
    voice_rows,
    write_voice,
)
from cxloop.voice.sentiment import SentimentModelState, read_texts, score_texts, with_languages
from cxloop.voice.topics import topic_rows

N_LEARNED = 3
NO_MODEL = SentimentModelState(None)


def fixture_texts() -> pd.DataFrame:
    clusters = pd.read_csv(FIXTURES / "cluster_texts.csv")
    answers = training_answers()
    texts = pd.concat(
        [
            pd.DataFrame({"source_id": clusters["text_id"], "text": clusters["text"]}),
            pd.DataFrame({"source_id": answers["text_id"], "text": answers["text"]}),
        ],
        ignore_index=True,
    )
    texts["text_id"] = "ticket_comment:" + texts["source_id"]
    texts["text_kind"] = "ticket_comment"
    texts["customer_id"] = "C-" + texts["source_id"]
    texts["account_id"] = None
    texts["written_at"] = pd.Timestamp("2025-05-01 09:00")
    texts["declared_language"] = None
    texts["nps_score"] = None
    texts["nps_category"] = None
    return texts


def put_texts(warehouse: Path, texts: pd.DataFrame) -> None:
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists ml")
    con.register("texts", texts)
    con.execute("create or replace table ml.voice_texts as select * from texts")
    con.close()


def run(warehouse: Path, models: Path, reuse: bool = True, write: bool = True):
    previous = read_previous(warehouse)
    texts = read_texts(warehouse)
    texts = with_languages(
        forget_stale_languages(texts, previous)
        if reuse
        else texts.drop(columns=["previous_sha256", "previous_language"])
    )
    rows = voice_rows(texts, NO_MODEL, previous, models, N_LEARNED, reuse=reuse)
    if write:
        write_voice(warehouse, rows)
    return texts, rows


def table(warehouse: Path, name: str, stamp: str) -> list[dict]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        frame = con.execute(f"select * exclude ({stamp}) from ml.{name}").df()
    finally:
        con.close()
    return comparable(frame)


def comparable(frame: pd.DataFrame) -> list[dict]:
    """The rows as records in a fixed order, missing values as None."""
    keys = [c for c in ("text_id", "topic_source", "topic") if c in frame]
    frame = frame.sort_values(keys, ignore_index=True)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_only_new_and_changed_texts_are_computed_and_the_tables_equal_a_full_run(
    tmp_path: Path,
) -> None:
    warehouse, models = tmp_path / "cx.duckdb", tmp_path / "models"
    texts = fixture_texts()
    put_texts(warehouse, texts)
    first_texts, first = run(warehouse, models)
    assert first.stats["topics_refit"] and first.stats["sentiment_computed"] == 132
    expected_topics = topic_rows(first_texts, N_LEARNED).drop(columns="topics_run_at")
    assert table(warehouse, "text_topics", "topics_run_at") == (comparable(expected_topics))
    expected_sentiment = score_texts(first_texts, NO_MODEL).drop(columns="scored_at")
    assert table(warehouse, "text_sentiment", "scored_at") == (comparable(expected_sentiment))

    edited = texts.copy()
    edited.loc[edited["source_id"] == "b01", "text"] = "The invoice amount was wrong twice."
    edited = edited[edited["source_id"] != "m12"]  # deleted
    added = edited[edited["source_id"].isin(["m01", "t01"])].assign(
        source_id=["m13", "t13"],
        text=["The android app freezes on the login screen.", "شكرا على جلسة التدريب المفيدة"],
    )
    added["text_id"] = "ticket_comment:" + added["source_id"]
    put_texts(warehouse, pd.concat([edited, added], ignore_index=True))
    _, second = run(warehouse, models)
    assert {k: second.stats[k] for k in ("sentiment_computed", "topics_computed")} == {
        "sentiment_computed": 3,
        "topics_computed": 3,
    }
    assert second.stats["texts_deleted"] == 1 and not second.stats["topics_refit"]
    assert second.stats["topics_fit"] == first.stats["topics_fit"]
    incremental = {
        "text_sentiment": table(warehouse, "text_sentiment", "scored_at"),
        "text_topics": table(warehouse, "text_topics", "topics_run_at"),
        "voice_state": table(warehouse, "voice_state", "computed_at"),
    }
    assert "ticket_comment:m12" not in {r["text_id"] for r in incremental["text_sentiment"]}
    _, full = run(warehouse, models, reuse=False, write=False)  # same fit, nothing reused
    assert full.stats["sentiment_computed"] == 133 and not full.stats["topics_refit"]
    assert incremental["text_sentiment"] == (comparable(full.sentiment.drop(columns="scored_at")))
    assert incremental["text_topics"] == (comparable(full.topics.drop(columns="topics_run_at")))
    # the new Arabic training text joins the stored clusters like the others
    topics = {r["topic"] for r in incremental["text_topics"] if r["text_id"].endswith(":t13")}
    assert "onboarding" in topics

    more = texts.head(15).assign(source_id=[f"x{i:02d}" for i in range(15)])
    more["text_id"] = "ticket_comment:" + more["source_id"]
    grown = pd.concat([edited, added, more], ignore_index=True)
    put_texts(warehouse, grown)
    third_texts, third = run(warehouse, models)
    assert third.stats["topics_refit"] and third.stats["sentiment_computed"] == 15
    expected = topic_rows(third_texts, N_LEARNED).drop(columns="topics_run_at")
    assert table(warehouse, "text_topics", "topics_run_at") == (comparable(expected))


def test_a_kept_texts_row_is_rewritten_when_what_describes_it_changed() -> None:
    """A text scored before keeps its score, but its row is rewritten when its customer (or any
    other column but the stamp) changed since: the identity step may resolve it anew."""
    old = pd.DataFrame(
        {
            "text_id": ["t1", "t2", "t3", "t4"],
            "customer_id": ["cus_a", "cus_b", None, "cus_d"],
            "sentiment_score": [0.5, -0.2, 0.1, 0.9],
            "scored_at": pd.to_datetime(["2026-01-01"] * 4),
        }
    )
    new = pd.DataFrame(
        {
            "text_id": ["t4", "t1", "t2", "t3", "t5"],  # another order, and one new text
            "customer_id": ["cus_d", "cus_a", "cus_z", None, "cus_e"],
            "sentiment_score": [0.9, 0.5, -0.2, 0.1, 0.3],
            "scored_at": pd.to_datetime(["2026-02-01"] * 5),  # a new stamp alone is no change
        }
    )
    assert _changed_ids(new, old, ["scored_at"]) == {"t2", "t5"}
    assert _changed_ids(new, old, []) == {"t1", "t2", "t3", "t4", "t5"}
    assert _changed_ids(new, old.iloc[0:0], ["scored_at"]) == {"t1", "t2", "t3", "t4", "t5"}
