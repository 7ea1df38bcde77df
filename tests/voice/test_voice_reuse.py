"""Voice redoes only new and changed texts, and its tables equal a full recomputation.

On a hand-made warehouse whose ml.voice_texts holds the hand-written fixtures (the 36 cluster
texts and the 96 training answers, 132 texts, no sentiment model: English by the lexicon):
a first run computes everything and fits the learned topics; then two texts are added, one
edited and one deleted (5 moved of 132, under the 10% refit share): exactly 3 texts are
computed, and the tables equal the same run with nothing reused; 15 more texts (over 10%)
refit the topics, which then equal topic_rows on every text (what a first run gives).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from voice_fixtures import FIXTURES, training_answers

from cxloop.tables import TEXT_SENTIMENT, TEXT_TOPICS, VOICE_STATE
from cxloop.voice.changed import detect_languages_of_changed, read_work
from cxloop.voice.report import stored_summary, text_counts, topics_summary
from cxloop.voice.reuse import LANGUAGE_KEY, _changed_ids, voice_rows, write_voice
from cxloop.voice.sentiment import SentimentModelState, score_texts
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
    """The voice flow's steps (no sentiment model): the texts read, and the rows made."""
    detected = detect_languages_of_changed(warehouse, full=not reuse)
    work = read_work(warehouse, models, NO_MODEL, N_LEARNED, detected, full=not reuse)
    rows = voice_rows(
        work.texts, NO_MODEL, work.previous, models, N_LEARNED, reuse=reuse, scope=work.scope
    )
    if write:
        write_voice(warehouse, rows)
    return work.texts, rows


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


@pytest.fixture
def first_run(tmp_path: Path):
    """A warehouse with the fixture texts after a first voice run: its paths, texts, what the
    run read and what it made."""
    warehouse, models = tmp_path / "cx.duckdb", tmp_path / "models"
    texts = fixture_texts()
    put_texts(warehouse, texts)
    return warehouse, models, texts, *run(warehouse, models)


def test_only_new_and_changed_texts_are_computed_and_the_tables_equal_a_full_run(
    first_run,
) -> None:
    warehouse, models, texts, first_texts, first = first_run
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
    second_texts, second = run(warehouse, models)
    # only the texts with work are read: the edited one and the two new ones
    assert sorted(second_texts["source_id"]) == ["b01", "m13", "t13"]
    assert second.stats["texts"] == 133
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


def test_a_text_whose_customer_changed_is_read_and_rewritten_not_recomputed(first_run) -> None:
    warehouse, models, texts, _, _ = first_run
    moved = texts.copy()
    moved.loc[moved["source_id"] == "b01", "customer_id"] = "C-other"  # resolved anew
    put_texts(warehouse, moved)
    read, rows = run(warehouse, models)
    assert read["source_id"].tolist() == ["b01"]
    assert rows.stats["sentiment_computed"] == 0 and rows.stats["topics_computed"] == 0
    assert rows.rewrite == ["ticket_comment:b01"]
    sentiment = {r["text_id"]: r for r in table(warehouse, "text_sentiment", "scored_at")}
    assert sentiment["ticket_comment:b01"]["customer_id"] == "C-other"
    assert len(sentiment) == 132

    # the report's counts, read from the tables in SQL, are those of the tables' rows
    counts, topics = stored_summary(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        sentiment_rows = con.execute("select * from ml.text_sentiment").df()
        topic_frame = con.execute("select * from ml.text_topics").df()
    finally:
        con.close()
    assert counts.texts == 132 and counts.by_kind == {"ticket_comment": 132}
    assert counts == text_counts(sentiment_rows)
    assert topics == topics_summary(topic_frame)

    # nothing changed: nothing is read, nothing rewritten
    read, rows = run(warehouse, models)
    assert read.empty and rows.rewrite == [] and rows.deleted == []
    assert rows.stats["texts"] == 132


def test_a_texts_language_is_kept_while_its_content_and_the_detector_are_the_same(
    tmp_path: Path,
) -> None:
    """Only texts without a known language are detected: a scored, unchanged text keeps the
    language stored with it (even a wrong one); an edited text, a new one, and one detected
    under another detector (its language_key) are detected again."""
    warehouse = tmp_path / "cx.duckdb"
    text = "The support was great."
    same = hashlib.sha256(text.encode()).hexdigest()
    texts = (
        fixture_texts()
        .head(4)
        .assign(
            text=[text, text, "خدمة ممتازة وفريق رائع.", text],
            source_id=["a", "b", "c", "d"],
        )
    )
    texts["text_id"] = "ticket_comment:" + texts["source_id"]
    put_texts(warehouse, texts)
    con = duckdb.connect(str(warehouse))
    for table in (VOICE_STATE, TEXT_SENTIMENT, TEXT_TOPICS):
        con.execute(table.ddl)
    # a: scored before, unchanged; b: edited since (its stored hash is another's); d: detected
    # by another detector version; c: new
    for source, sha, key in (("a", same, LANGUAGE_KEY), ("b", "0" * 64, LANGUAGE_KEY),
                             ("d", same, "an older detector")):  # fmt: skip
        con.execute(
            "insert into ml.voice_state values (?, ?, ?, 'sk', 'tk', null, now())",
            [f"ticket_comment:{source}", sha, key],
        )
        con.execute(
            "insert into ml.text_sentiment (text_id, text_kind, source_id, language, method, "
            "text_sha256, scored_at) values (?, 'ticket_comment', ?, 'xx', 'none', ?, now())",
            [f"ticket_comment:{source}", source, sha],
        )
    con.close()
    detected = detect_languages_of_changed(warehouse)
    assert detected.to_dict() == {
        "ticket_comment:b": "en",
        "ticket_comment:c": "ar",
        "ticket_comment:d": "en",
    }
    work = read_work(warehouse, tmp_path / "models", NO_MODEL, N_LEARNED, detected)
    assert work.scope is None  # no stored topics fit: every text is read
    languages = dict(zip(work.texts["source_id"], work.texts["language"], strict=True))
    assert languages == {"a": "xx", "b": "en", "c": "ar", "d": "en"}
    assert work.texts.set_index("source_id").loc["a", "text_sha256"] == same  # DuckDB's sha256


def test_a_deleted_text_and_a_text_with_no_topic_are_written(first_run) -> None:
    """Runs whose rows to write are empty frames: only a deletion, then a new text that names
    no topic (its frames hold a sentiment row and no topic row)."""
    warehouse, models, texts, _, _ = first_run
    put_texts(warehouse, texts[texts["source_id"] != "b01"])
    read, rows = run(warehouse, models)
    assert read.empty and rows.deleted == ["ticket_comment:b01"] and rows.rewrite == []
    for name, stamp in (("text_sentiment", "scored_at"), ("text_topics", "topics_run_at")):
        assert "ticket_comment:b01" not in {r["text_id"] for r in table(warehouse, name, stamp)}

    hmm = texts.head(1).assign(source_id="h01", text_id="ticket_comment:h01", text="Hmm.")
    put_texts(warehouse, pd.concat([texts[texts["source_id"] != "b01"], hmm]))
    read, rows = run(warehouse, models)
    assert read["source_id"].tolist() == ["h01"] and rows.rewrite == ["ticket_comment:h01"]
    assert rows.topics.empty
    sentiment = {r["text_id"]: r for r in table(warehouse, "text_sentiment", "scored_at")}
    assert sentiment["ticket_comment:h01"]["text_sha256"] == hashlib.sha256(b"Hmm.").hexdigest()
    assert len(sentiment) == 132


def test_a_text_detected_anew_in_another_language_is_scored_again(first_run) -> None:
    """A new language detector (its key) detects every text again; a text whose language
    comes out other than the stored one is scored again in it, as a run from nothing would."""
    warehouse, models, _, _, _ = first_run
    before = {r["text_id"]: r for r in table(warehouse, "text_sentiment", "scored_at")}
    b01 = "ticket_comment:b01"
    assert before[b01]["language"] == "en" and before[b01]["method"] == "lexicon"
    con = duckdb.connect(str(warehouse))
    con.execute(
        f"update ml.voice_state set language_key = 'an older detector' where text_id = '{b01}'"
    )
    con.execute(
        "update ml.text_sentiment set language = 'xx', method = 'none', sentiment_score = null, "
        f"sentiment_label = null where text_id = '{b01}'"
    )
    con.close()
    read, rows = run(warehouse, models)
    assert read["text_id"].tolist() == [b01] and rows.stats["sentiment_computed"] == 1
    after = {r["text_id"]: r for r in table(warehouse, "text_sentiment", "scored_at")}
    assert after == before
