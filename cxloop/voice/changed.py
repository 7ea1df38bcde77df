"""The voice stage reads in proportion to what changed: the texts with work are found in SQL,
and only they (with their earlier rows) are read into pandas (docs/voice.md "Work in
proportion to what changed").

A text has work unless its ml.voice_state row was computed from the same content under the
current language, sentiment and topics keys, and its ml.text_sentiment row holds that content
with the same describing columns (the identity step may resolve its customer anew). Those are
exactly the texts `reuse.voice_rows` would compute or rewrite were it given every text, so the
tables come out the same; every text is still read on a first run, for `full`, when the voice
tables come from an older release, and when the learned topics are refit (which reads every
text anyway).

The keys are known only after training (the sentiment model) and the refit rule (the topics),
so the stage reads in three steps, each a task of the `voice` flow:
1. `detect_languages_of_changed`: the texts whose language is not known (new, edited, or
   detected under another detector), their languages detected;
2. `labelled_answers`: the answers the sentiment model trains on (train_or_reuse);
3. `read_work`: the texts with work under the keys, their earlier rows and the deleted texts.
The report's counts are then read from the tables written (cxloop.voice.report).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cxloop.models.sentiment import LABEL_OF
from cxloop.tables import TEXT_SENTIMENT, TEXT_TOPICS, VOICE_STATE
from cxloop.voice.language import detect_languages
from cxloop.voice.reuse import (
    LANGUAGE_KEY,
    Previous,
    Scope,
    fit_is_current,
    is_current,
    load_fit,
    patterns_key,
    previous_rows,
    sentiment_key,
    topics_key,
)
from cxloop.voice.sentiment import TEXTS, SentimentModelState, VoiceDataError
from cxloop.warehouse import fetch_frame, reader, require_model_table

# The columns of a text's ml.text_sentiment row that describe it rather than score it.
DESCRIBED = ("text_kind", "source_id", "customer_id", "account_id", "written_at")
HELPERS = ("language_known", "known_language", "settled")


@dataclass
class Work:
    """The texts `voice_rows` computes (with `language` and `text_sha256`), their earlier rows,
    and the scope (None: every text was read, as voice_rows reads them by itself)."""

    texts: pd.DataFrame
    previous: Previous
    scope: Scope | None


def _tables_current(con: duckdb.DuckDBPyConnection) -> bool:
    """The three voice tables exist with every column this release writes."""
    return all(is_current(con, t) for t in (VOICE_STATE, TEXT_SENTIMENT, TEXT_TOPICS))


def _texts_sql(reuse: bool, keys: tuple[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Every text with its sha256 and, when earlier rows may be reused, `language_known` /
    `known_language` (the language detected for the same content under the same detector) and,
    given the sentiment and topics keys, `settled` (no work: module docstring)."""
    texts = f"select *, sha256(text) as text_sha256 from {'.'.join(TEXTS)}"
    if not reuse:
        return (
            f"select *, false as language_known, null::varchar as known_language, "
            f"false as settled from ({texts}) v",
            {},
        )
    described = " and ".join(f"p.{c} is not distinct from v.{c}" for c in DESCRIBED)
    settled = (
        "coalesce(st.text_sha256 = v.text_sha256 and st.language_key = $lk "
        "and st.sentiment_key = $sk and st.topics_key = $tk "
        f"and p.text_sha256 = v.text_sha256 and {described}, false)"
        if keys
        else "false"
    )
    sql = (
        "select v.*, "
        "coalesce(p.text_sha256 = v.text_sha256 and st.language_key = $lk, false) "
        "as language_known, p.language as known_language, "
        f"{settled} as settled "
        f"from ({texts}) v "
        f"left join {TEXT_SENTIMENT.sql_name} p using (text_id) "
        f"left join {VOICE_STATE.sql_name} st using (text_id)"
    )
    params: dict[str, Any] = {"lk": LANGUAGE_KEY}
    if keys:
        params |= {"sk": keys[0], "tk": keys[1]}
    return sql, params


def _reusable(con: duckdb.DuckDBPyConnection, full: bool) -> bool:
    return not full and _tables_current(con)


def detect_languages_of_changed(warehouse: Path, full: bool = False) -> pd.Series:
    """The language detected now (indexed by text_id) of every text whose language is not known
    from an earlier run (of all of them with `full`). A Series, not a dict: Prefect walks a
    task's arguments and results that are Python collections element by element (~15 s for the
    448,500 texts of a first run at scale 10), and leaves a Series whole. A missing warehouse
    or ml.voice_texts is a VoiceDataError saying what to run."""
    require_model_table(warehouse, TEXTS, VoiceDataError)
    with reader(warehouse) as con:
        sql, params = _texts_sql(_reusable(con, full))
        frame = fetch_frame(
            con, f"select text_id, text from ({sql}) where not language_known", params
        )
    languages = detect_languages(frame["text"].astype(str).tolist())
    return pd.Series(languages, index=frame["text_id"].astype(object), dtype=object)


def _with_languages(frame: pd.DataFrame, detected: pd.Series) -> pd.DataFrame:
    """`language`: the known one, else the one detected this run; the helper columns dropped."""
    out = frame.drop(columns=[c for c in HELPERS if c in frame])
    known = frame["language_known"].astype(bool)
    fresh = frame["text_id"].astype(object).map(detected)
    language = frame["known_language"].astype(object).where(known, fresh)
    out["language"] = language.where(language.notna(), None)
    return out


def labelled_answers(warehouse: Path, detected: pd.Series, full: bool = False) -> pd.DataFrame:
    """The detractor and promoter answers (what the sentiment model learns from), with their
    languages: the columns `cxloop.models.sentiment.labelled` reads."""
    with reader(warehouse) as con:
        sql, params = _texts_sql(_reusable(con, full))
        categories = ", ".join(f"'{c}'" for c in sorted(LABEL_OF))
        frame = fetch_frame(
            con,
            "select text_id, text, written_at, nps_category, language_known, known_language "
            f"from ({sql}) where nps_category in ({categories}) order by text_id",
            params,
        )
    return _with_languages(frame, detected)


def read_work(
    warehouse: Path,
    models_dir: Path,
    state: SentimentModelState,
    n_learned: int,
    detected: pd.Series,
    full: bool = False,
) -> Work:
    """The texts with work under this run's keys, their earlier rows, and the deleted texts;
    every text and every earlier row when nothing can be reused or the topics are refit."""
    with reader(warehouse) as con:
        if not _reusable(con, full):
            return _everything(con, detected, full)
        patterns = patterns_key()
        stored = load_fit(models_dir)
        base, params = _texts_sql(True)
        total, members = con.execute(
            "select count(*), count(*) filter (where st.topics_fit = $fit "
            f"and st.text_sha256 = v.text_sha256) from ({base}) v "
            f"left join {VOICE_STATE.sql_name} st using (text_id)",
            {**params, "fit": stored.fit_id if stored else None},
        ).fetchone()
        if stored is None or not fit_is_current(stored, patterns, n_learned, total, members):
            return _everything(con, detected, full)
        keys = (sentiment_key(state), topics_key(patterns, n_learned, stored.fit_id))
        sql, params = _texts_sql(True, keys)
        texts = fetch_frame(
            con, f"select * from ({sql}) where not settled order by text_id", params
        )
        ids = texts[["text_id"]]
        con.register("voice_work_ids", ids)
        try:
            previous = previous_rows(con, "where text_id in (select text_id from voice_work_ids)")
        finally:
            con.unregister("voice_work_ids")
        earlier = " union ".join(
            f"select text_id from {t.sql_name}" for t in (TEXT_SENTIMENT, VOICE_STATE, TEXT_TOPICS)
        )
        deleted = [
            r[0]
            for r in con.execute(
                f"select text_id from (({earlier}) except select text_id from "
                f"{'.'.join(TEXTS)}) order by text_id"
            ).fetchall()
        ]
    return Work(_with_languages(texts, detected), previous, Scope(int(total), stored, deleted))


def _everything(con: duckdb.DuckDBPyConnection, detected: pd.Series, full: bool) -> Work:
    sql, params = _texts_sql(_reusable(con, full))
    texts = fetch_frame(con, f"select * from ({sql}) order by text_id", params)
    return Work(_with_languages(texts, detected), previous_rows(con), None)
