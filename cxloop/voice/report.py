"""The voice stage's report: counts of the texts per kind, method and language, held-out
accuracy per language (sentiment.json / sentiment.md under $CXLOOP_HOME/reports), and the
topics summary. The flow counts in SQL over the voice tables as written (`stored_summary`);
`text_counts` and `topics_summary` count the same from frames of the tables' rows.

Apart from the modules whose code the voice keys hash (cxloop.voice.reuse): editing a report
does not redo every text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cxloop.tables import TEXT_SENTIMENT, TEXT_TOPICS, Table
from cxloop.voice.sentiment import SentimentModelState
from cxloop.warehouse import reader


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
        *_training_lines(report.get("trained_this_run")),
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


def _training_lines(training: dict[str, Any] | None) -> list[str]:
    """What this run's training did: the version it registered and whether (why) it became
    current; nothing when the run did not train."""
    promotion = (training or {}).get("promotion")
    if not promotion:
        return []
    verdict = "made current" if promotion["promoted"] else "not made current"
    return [
        f"- trained this run: {promotion['candidate_version']}, {verdict} ({promotion['reason']})"
    ]


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def topics_summary(rows: pd.DataFrame) -> dict[str, object]:
    """Texts per topic and source, and the new clusters to review, of ml.text_topics rows."""
    counts = rows.groupby(["topic_source", "topic"])["text_id"].nunique()
    return summarize_topics(len(rows), {key: int(n) for key, n in counts.items()})


def summarize_topics(rows: int, texts: dict[tuple[str, str], int]) -> dict[str, object]:
    """The summary from the row count and the texts per (topic_source, topic)."""
    return {
        "rows": int(rows),
        "keyword": {t: n for (s, t), n in sorted(texts.items()) if s == "keyword"},
        "learned": {t: n for (s, t), n in sorted(texts.items()) if s == "learned"},
        "new_clusters_for_review": sorted(
            t for s, t in texts if s == "learned" and t.startswith("learned: ")
        ),
    }


def stored_summary(warehouse: Path) -> tuple[TextCounts, dict[str, object]]:
    """The sentiment report's counts and the topics summary, from the voice tables as written."""
    with reader(warehouse) as con:
        return _sentiment_counts(con), _topic_counts(con)


def _grouped(con: duckdb.DuckDBPyConnection, table: Table, column: str) -> dict[str, int]:
    rows = con.execute(
        f"select coalesce({column}, 'none'), count(*) from {table.sql_name} group by 1"
    ).fetchall()
    return {str(k): int(n) for k, n in rows}


def _sentiment_counts(con: duckdb.DuckDBPyConnection) -> TextCounts:
    (texts,) = con.execute(f"select count(*) from {TEXT_SENTIMENT.sql_name}").fetchone()
    return TextCounts(
        int(texts),
        _grouped(con, TEXT_SENTIMENT, "text_kind"),
        _grouped(con, TEXT_SENTIMENT, "method"),
        _grouped(con, TEXT_SENTIMENT, "language"),
    )


def _topic_counts(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    (rows,) = con.execute(f"select count(*) from {TEXT_TOPICS.sql_name}").fetchone()
    counts = con.execute(
        f"select topic_source, topic, count(distinct text_id) from {TEXT_TOPICS.sql_name} "
        "group by 1, 2"
    ).fetchall()
    return summarize_topics(int(rows), {(s, t): int(n) for s, t, n in counts})
