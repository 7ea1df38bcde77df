"""Keyword and learned topics on hand-written texts in en, ar and fa.

cluster_texts.csv (written for this test): 12 English complaints about the mobile app (no
keyword list names it), 12 English billing texts of which 10 match the billing keywords and 2
say "receipt" (no keyword), 12 Arabic texts about training sessions (all match onboarding).
"""

from __future__ import annotations

import pandas as pd
import pytest
from voice_fixtures import FIXTURES, labelled_texts

from cxloop.errors import SourceError
from cxloop.voice.report import topics_summary
from cxloop.voice.topics import (
    cluster_names,
    keyword_patterns,
    keyword_topics,
    topic_rows,
)


def test_keyword_topics_of_the_hand_labelled_texts() -> None:
    texts = labelled_texts()
    found = keyword_topics(texts, keyword_patterns())
    got = {t: found.get(t, []) for t in texts["text_id"]}
    assert got == dict(zip(texts["text_id"], texts["topics"], strict=True))
    # a Persian verb ending in "کند" (does) is not "slow" (fa-p6), Persian slow support is
    assert got["fa-p6"] == [] and got["fa-n4"] == ["slow_support"]


def test_learned_clusters_seeded_by_keywords_and_new_ones_for_review() -> None:
    texts = pd.read_csv(FIXTURES / "cluster_texts.csv")
    rows = topic_rows(texts, n_learned=3)
    learned = rows[rows["topic_source"] == "learned"]
    by_topic = learned.groupby("topic")["text_id"].apply(sorted).to_dict()
    new = [t for t in by_topic if t.startswith("learned: ")]
    assert len(new) == 1 and {"mobile", "app"} <= set(new[0][len("learned: ") :].split(" / "))
    assert by_topic[new[0]] == [f"m{i:02d}" for i in range(1, 13)]
    # the billing cluster is named by its keyword topic and adds the two texts the list missed
    assert by_topic["billing"] == ["b09", "b10"]
    # a text is never tagged twice with the same topic (keyword wins)
    assert not learned["text_id"].str.startswith("t").any()
    keyword = rows[rows["topic_source"] == "keyword"]
    assert sorted(keyword.loc[keyword["topic"] == "onboarding", "text_id"]) == [
        f"t{i:02d}" for i in range(1, 13)
    ]
    assert ((learned["weight"] > 0) & (learned["weight"] <= 1)).all()
    assert (keyword["weight"] == 1).all()
    assert topics_summary(rows)["new_clusters_for_review"] == new


def test_cluster_names() -> None:
    terms = [["invoice", "amount", "wrong"], ["app", "mobile", "android"], ["a", "b", "c"]]
    assignment = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    keyword = [
        ["billing"], ["billing"], ["billing"], [],  # 3 of 4 = 75%: billing
        [], [], ["billing"],  # 1 of 3: new
        ["pricing"], ["pricing"], ["billing"], ["usability"],  # 2 of 4 = 50%: new
    ]  # fmt: skip
    assert cluster_names(terms, assignment, keyword) == [
        "billing",
        "learned: app / mobile / android",
        "learned: a / b / c",
    ]


def test_a_bad_keyword_row_is_named(tmp_path) -> None:
    seed = tmp_path / "topic_keywords.csv"
    seed.write_text(
        "topic,language,pattern,description\nbilling,en,invoice,x\nslow,en,(waited,y\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match=r"topic_keywords.csv, row 3, field 'pattern': bad"):
        keyword_patterns(seed)
