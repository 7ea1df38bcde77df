"""Topics of every text: today's keyword lists beside learned NMF clusters -> ml.text_topics.

Keyword topics: the patterns of the dbt seed `topic_keywords.csv` (per language; a text in a
language with no list is matched against every list), on text normalized as dbt normalizes it,
so survey answers get the topics `int_survey_response_topics__tagged` gives them.
Learned topics (models.topics): a cluster at least `SEED_SHARE` of whose texts name one
keyword topic takes that topic's name: the keyword lists seed the
labels, and the cluster adds the texts the lists missed. Any other cluster is new, surfaced for
review as `learned: <top terms>`. Every learned row has topic_source 'learned'.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cxloop.errors import SourceError
from cxloop.models.textnorm import normalize_text
from cxloop.models.topics import learn_topics
from cxloop.package_data import dbt_project_dir
from cxloop.tables import TEXT_TOPICS

SEED_SHARE = 0.75
MIN_SEED_TEXTS = 3
DEFAULT_LEARNED_TOPICS = 12


@dataclass(frozen=True)
class KeywordPattern:
    topic: str
    language: str
    pattern: re.Pattern[str]


def keyword_patterns(path: Path | None = None) -> list[KeywordPattern]:
    """The seed's patterns, normalized like the text (the dbt seed is the one list); a row
    without a topic or with a pattern that is not a regular expression is named."""
    seed = path or dbt_project_dir() / "seeds" / "topic_keywords.csv"
    patterns = []
    with open(seed, encoding="utf-8", newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle), start=2):  # 1: the header
            if not (row.get("topic") or "").strip():
                raise SourceError(str(seed), "no topic", row=row_number, field="topic")
            try:
                pattern = re.compile(normalize_text(row.get("pattern") or ""))
            except re.error as exc:
                raise SourceError(
                    str(seed),
                    f"bad pattern ({exc})",
                    row=row_number,
                    field="pattern",
                    expected="a regular expression",
                ) from exc
            language = (row.get("language") or "").strip().lower()
            patterns.append(KeywordPattern(row["topic"].strip(), language, pattern))
    return patterns


def keyword_topics(texts: pd.DataFrame, patterns: list[KeywordPattern]) -> dict[str, list[str]]:
    """text_id -> the keyword topics it names (texts need `text_id`, `text`, `language`)."""
    with_list = {p.language for p in patterns}
    found: dict[str, list[str]] = {}
    known: dict[tuple[str, object], list[str]] = {}  # answers repeat: each one matched once
    for text_id, text, language in texts[["text_id", "text", "language"]].itertuples(index=False):
        key = (str(text), language)
        if key not in known:
            normalized = normalize_text(key[0])
            usable = [p for p in patterns if p.language == language or language not in with_list]
            known[key] = sorted({p.topic for p in usable if p.pattern.search(normalized)})
        if known[key]:
            found[text_id] = known[key]
    return found


def cluster_names(
    terms: list[list[str]], assignment: list[int], keyword: list[list[str]]
) -> list[str]:
    """Each cluster's name: the keyword topic that at least SEED_SHARE of its texts name, else
    `learned: <top terms>`."""
    names = []
    for component, top in enumerate(terms):
        members = [
            topics
            for assigned, topics in zip(assignment, keyword, strict=True)
            if assigned == component
        ]
        counts = Counter(topic for topics in members for topic in topics)
        topic, n = counts.most_common(1)[0] if counts else (None, 0)
        if topic is not None and n >= MIN_SEED_TEXTS and n >= SEED_SHARE * len(members):
            names.append(topic)
        else:
            names.append("learned: " + " / ".join(top))
    return names


def topic_rows(texts: pd.DataFrame, n_learned: int = DEFAULT_LEARNED_TOPICS) -> pd.DataFrame:
    """ml.text_topics rows: keyword matches, then learned clusters (module docstring)."""
    found = keyword_topics(texts, keyword_patterns())
    rows = [(t, topic, "keyword", 1.0) for t, topics in found.items() for topic in topics]
    ids = texts["text_id"].tolist()
    learned = learn_topics(texts["text"].astype(str).tolist(), n_learned)
    keyword = [found.get(t, []) for t in ids]
    names = cluster_names(learned.terms, learned.assignment.tolist(), keyword)
    for text_id, component, share, topics in zip(
        ids, learned.assignment, learned.share, keyword, strict=True
    ):
        if component < 0 or names[component] in topics:
            continue
        rows.append((text_id, names[component], "learned", round(float(share), 4)))
    frame = pd.DataFrame(rows, columns=["text_id", "topic", "topic_source", "weight"])
    frame["topics_run_at"] = datetime.now(UTC).replace(tzinfo=None)
    return frame[list(TEXT_TOPICS.column_names)]
