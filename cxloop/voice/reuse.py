"""Voice in proportion to what changed: per text, what its rows were computed from
(ml.voice_state); a run computes language, sentiment and topics only for new and changed texts
and keeps the rest (docs/voice.md "Work in proportion to what changed").

A text is redone when its content (sha256) changed, or the key of a step changed: the language
detector (langdetect's version, seed and our code), the sentiment model version and lexicon,
the keyword patterns, `voice.learned_topics` and the learned-topics fit. The fit (vocabulary and
NMF components, with its clusters' names) is kept under `$CXLOOP_HOME/models/topics/`; new
texts are assigned to its clusters, and it is refit on every text when the texts new, changed
or deleted since it reach `REFIT_SHARE` of the texts it was fit on (or its patterns, config or
code changed). With `reuse=False` every text is redone under the same keys and fit: the tables
are then identical but for the `scored_at` / `topics_run_at` stamps (tests/voice).
"""

from __future__ import annotations

import hashlib
import inspect
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

import cxloop.models.sentiment as sentiment_model
import cxloop.models.textnorm as textnorm
import cxloop.models.topics as topic_model
from cxloop.package_data import dbt_project_dir
from cxloop.tables import TEXT_SENTIMENT, TEXT_TOPICS, VOICE_STATE, Table
from cxloop.voice import language, lexicon, sentiment, topics
from cxloop.warehouse import fetch_frame, reader, table_exists, writer

REFIT_SHARE = 0.10  # new + changed + deleted texts, as a share of the texts of the fit
FIT_FILE = "current.joblib"
NO_FIT = "none"


def _sha(*parts: object) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()


def _code(*modules: Any) -> str:
    return _sha(*(Path(inspect.getfile(m)).read_bytes() for m in modules))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""


LANGUAGE_KEY = _sha("langdetect", _version("langdetect"), language.SEED, _code(language))


def sentiment_key(state: sentiment.SentimentModelState) -> str:
    """The sentiment model version and the languages it serves, the lexicon, the code."""
    version = state.version.version if state.version else None
    code = _code(sentiment, lexicon, sentiment_model, textnorm)
    return _sha(version, sorted(state.languages), _version("vaderSentiment"), code)


def patterns_key(seed: Path | None = None) -> str:
    """The keyword seed's bytes and the topic code (a changed list or rule redoes every text)."""
    path = seed or dbt_project_dir() / "seeds" / "topic_keywords.csv"
    return _sha(path.read_bytes(), _code(topics, topic_model, textnorm))


@dataclass
class StoredFit:
    """A learned-topics fit (None: too few texts to learn from), its clusters' names, what it
    was fit under, and how many texts it was fit on."""

    fit_id: str
    fit: topic_model.TopicFit | None
    names: list[str]
    patterns: str
    n_learned: int
    n_texts: int


def load_fit(models_dir: Path) -> StoredFit | None:
    path = Path(models_dir) / "topics" / FIT_FILE
    try:
        stored = joblib.load(path) if path.is_file() else None
    except Exception:  # noqa: BLE001 - an unreadable fit is refit
        return None
    return stored if isinstance(stored, StoredFit) else None


def save_fit(models_dir: Path, stored: StoredFit) -> None:
    folder = Path(models_dir) / "topics"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{FIT_FILE}.tmp"
    joblib.dump(stored, tmp)
    tmp.replace(folder / FIT_FILE)


@dataclass
class Previous:
    """What the last run wrote: per-text state, sentiment rows, topic rows (empty: none)."""

    state: pd.DataFrame
    sentiment: pd.DataFrame
    topics: pd.DataFrame


def is_current(con: Any, table: Table) -> bool:
    """The table exists with every column this release writes (else: written by an older
    release, or never; its rows are not reused)."""
    if not table_exists(con, table.schema, table.name):
        return False
    columns = {r[0] for r in con.execute(f"describe {table.sql_name}").fetchall()}
    return set(table.column_names) <= columns


def _rows(con: Any, table: Table, where: str = "") -> pd.DataFrame:
    if not is_current(con, table):  # redo everything
        return pd.DataFrame(columns=list(table.column_names))
    return fetch_frame(con, f"select {table.column_list} from {table.sql_name} {where}")


def previous_rows(con: Any, where: str = "") -> Previous:
    """The voice tables' rows (those `where` selects) as the last run left them."""
    return Previous(*(_rows(con, t, where) for t in (VOICE_STATE, TEXT_SENTIMENT, TEXT_TOPICS)))


def read_previous(warehouse: Path) -> Previous:
    """The voice tables as the last run left them."""
    with reader(warehouse) as con:
        return previous_rows(con)


def topics_key(patterns: str, n_learned: int, fit_id: str) -> str:
    """The topics key of a text: the keyword patterns, `voice.learned_topics` and the fit."""
    return _sha(patterns, n_learned, fit_id)


@dataclass
class Scope:
    """When `voice_rows` is given only the texts with work (cxloop.voice.changed): how many
    texts there are in all, the stored fit that still serves (no refit), and the texts deleted
    since the last run (found in SQL)."""

    texts: int
    fit: StoredFit
    deleted: list[str]


@dataclass
class VoiceRows:
    """Every text's rows after this run, and which texts' rows were rewritten or dropped."""

    sentiment: pd.DataFrame
    topics: pd.DataFrame
    state: pd.DataFrame
    rewrite: list[str]
    deleted: list[str]
    stats: dict[str, Any]


def _aligned(texts: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """`prev`'s row of each text (by text_id, NaN where none), on the texts' index: one lookup
    for every column (a `map` per column looked the ids up again each time)."""
    return prev.set_index("text_id").reindex(texts["text_id"]).set_axis(texts.index)


def _stale(texts: pd.DataFrame, known: pd.DataFrame, column: str, key: str) -> pd.Series:
    """Per text: no previous state, another content hash or another key for this step
    (`known`: the previous state `_aligned` to the texts)."""
    same_text = known["text_sha256"].eq(texts["text_sha256"])
    return ~(same_text & known[column].eq(key))


def voice_rows(
    texts: pd.DataFrame,
    state: sentiment.SentimentModelState,
    previous: Previous,
    models_dir: Path,
    n_learned: int,
    reuse: bool = True,
    scope: Scope | None = None,
) -> VoiceRows:
    """Sentiment, topics and state of every text, computed only where stale (module docstring).

    `texts` carry `language` and `text_sha256`; they are every text, or with `scope` only the
    texts with work (cxloop.voice.changed), `previous` then only their earlier rows."""
    if scope is not None and texts.empty:
        return _nothing_to_compute(scope)
    now = datetime.now(UTC).replace(tzinfo=None)
    looked_up = ["text_id", "text_sha256", "sentiment_key", "topics_key", "topics_fit"]
    known = _aligned(texts, previous.state[looked_up])  # fit membership, whatever is reused
    prev_state = known if reuse else _aligned(texts, previous.state[looked_up].iloc[0:0])
    has_row = _member(texts["text_id"], set(previous.sentiment["text_id"].tolist()))
    s_key = sentiment_key(state)
    # a text detected anew in another language (a new detector) is scored again in it
    earlier_language = _aligned(texts, previous.sentiment[["text_id", "language"]])["language"]
    same_language = earlier_language.eq(texts["language"]) | (
        earlier_language.isna() & texts["language"].isna()
    )
    redo_sentiment = _stale(texts, prev_state, "sentiment_key", s_key) | ~has_row | ~same_language
    patterns = patterns_key()
    stored, computed = (
        (scope.fit, None) if scope else topic_fit(texts, known, models_dir, n_learned, patterns)
    )
    refit = computed is not None
    t_key = topics_key(patterns, n_learned, stored.fit_id)
    redo_topics = (
        pd.Series(True, index=texts.index)
        if refit
        else _stale(texts, prev_state, "topics_key", t_key) | ~has_row
    )
    same_text = known["text_sha256"].eq(texts["text_sha256"])
    members = known["topics_fit"].where(same_text)
    member = pd.Series(stored.fit_id, index=texts.index) if refit else members
    del known, prev_state, same_text, members  # history-sized: not held while rows are made
    sentiment_rows = _sentiment(texts, state, previous.sentiment, redo_sentiment)
    topic_frame = _topics(texts, stored, previous.topics, redo_topics, now, computed)
    new_state = pd.DataFrame(
        {
            "text_id": texts["text_id"],
            "text_sha256": texts["text_sha256"],
            "language_key": LANGUAGE_KEY,
            "sentiment_key": s_key,
            "topics_key": t_key,
            "topics_fit": member.astype(object).where(member.notna(), None),
            "computed_at": now,
        }
    )[list(VOICE_STATE.column_names)]
    changed = _changed_ids(sentiment_rows, previous.sentiment, ["scored_at"])
    changed |= set(texts.loc[redo_topics | redo_sentiment, "text_id"].tolist())
    deleted = scope.deleted if scope else _deleted(texts, previous)
    stats = {
        "texts": scope.texts if scope else int(len(texts)),
        "sentiment_computed": int(redo_sentiment.sum()),
        "topics_computed": int(redo_topics.sum()),
        "rows_rewritten": len(changed),
        "texts_deleted": len(deleted),
        "topics_refit": refit,
        "topics_fit": stored.fit_id,
    }
    return VoiceRows(sentiment_rows, topic_frame, new_state, sorted(changed), deleted, stats)


def _nothing_to_compute(scope: Scope) -> VoiceRows:
    """No text has work: only the deleted texts' rows go."""
    stats = {
        "texts": scope.texts,
        "sentiment_computed": 0,
        "topics_computed": 0,
        "rows_rewritten": 0,
        "texts_deleted": len(scope.deleted),
        "topics_refit": False,
        "topics_fit": scope.fit.fit_id,
    }
    empty = [pd.DataFrame(columns=list(t.column_names)) for t in (TEXT_SENTIMENT, TEXT_TOPICS)]
    state = pd.DataFrame(columns=list(VOICE_STATE.column_names))
    return VoiceRows(*empty, state, [], scope.deleted, stats)


def fit_is_current(
    stored: StoredFit | None, patterns: str, n_learned: int, texts: int, members: int
) -> bool:
    """The refit rule: the stored fit serves while it was fit under these patterns and config
    and the texts new, changed or deleted since (`texts` now, `members` of them unchanged
    members of the fit) stay under REFIT_SHARE of the texts it was fit on."""
    if stored is None or stored.patterns != patterns or stored.n_learned != n_learned:
        return False
    moved = (texts - members) + (stored.n_texts - members)
    return moved < REFIT_SHARE * max(stored.n_texts, 1)


def _deleted(texts: pd.DataFrame, previous: Previous) -> list[str]:
    """The texts with earlier rows that are no longer texts."""
    earlier = {
        *previous.sentiment["text_id"].tolist(),
        *previous.state["text_id"].tolist(),
        *previous.topics["text_id"].tolist(),
    }
    return sorted(earlier - set(texts["text_id"].tolist()))


def topic_fit(
    texts: pd.DataFrame, known: pd.DataFrame, models_dir: Path, n_learned: int, patterns: str
) -> tuple[StoredFit, tuple[dict, topic_model.LearnedTopics] | None]:
    """The stored fit, or a new one fit on every text when the rule says so (then with every
    text's keyword topics and clusters, computed on the way). `known`: the previous state
    `_aligned` to the texts."""
    stored = load_fit(models_dir)
    if stored is not None:
        same = known["text_sha256"].eq(texts["text_sha256"])
        members = int((known["topics_fit"].eq(stored.fit_id) & same).sum())
        if fit_is_current(stored, patterns, n_learned, len(texts), members):
            return stored, None
    values = texts["text"].astype(str).tolist()
    fit = topic_model.fit_topics(values, n_learned)
    learned = topic_model.assign_topics(fit, values)
    keyword = topics.keyword_topics(texts, topics.keyword_patterns())
    names = topics.cluster_names(
        learned.terms, learned.assignment.tolist(), [keyword.get(t, []) for t in texts["text_id"]]
    )
    fit_id = uuid.uuid4().hex if fit is not None else NO_FIT
    stored = StoredFit(fit_id, fit, names, patterns, n_learned, len(texts))
    save_fit(models_dir, stored)
    return stored, (keyword, learned)


def _sentiment(
    texts: pd.DataFrame,
    state: sentiment.SentimentModelState,
    previous: pd.DataFrame,
    redo: pd.Series,
) -> pd.DataFrame:
    """ml.text_sentiment rows: scored anew where `redo`, else the earlier scoring with the
    text's current descriptive columns (its customer may have been resolved since)."""
    fresh = sentiment.score_texts(texts[redo], state) if redo.any() else None
    computed = ["language", "sentiment_score", "sentiment_label", "method", "model_version"]
    described = ["text_id", "text_kind", "source_id", "customer_id", "account_id", "written_at"]
    kept = texts.loc[~redo, described].merge(  # not the texts themselves: history-sized
        previous[["text_id", *computed, "text_sha256", "scored_at"]], on="text_id", how="left"
    )
    frames = [f for f in (fresh, kept[list(TEXT_SENTIMENT.column_names)]) if f is not None]
    frames = [f for f in frames if len(f)]
    if not frames:
        return sentiment.score_texts(texts, state)
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values("text_id", ignore_index=True)[list(TEXT_SENTIMENT.column_names)]


def _topics(
    texts: pd.DataFrame,
    stored: StoredFit,
    previous: pd.DataFrame,
    redo: pd.Series,
    now: datetime,
    computed: tuple[dict, topic_model.LearnedTopics] | None = None,
) -> pd.DataFrame:
    """ml.text_topics rows: keyword matches and the stored fit's cluster where `redo`, else the
    earlier rows (`computed`: every text's, from the refit)."""
    work = texts[redo]
    if computed is not None:
        found, learned = computed
    else:
        found = topics.keyword_topics(work, topics.keyword_patterns())
        learned = topic_model.assign_topics(stored.fit, work["text"].astype(str).tolist())
    rows = [(t, topic, "keyword", 1.0) for t, names in found.items() for topic in names]
    for text_id, component, share in zip(
        work["text_id"], learned.assignment, learned.share, strict=True
    ):
        if component < 0 or stored.names[component] in found.get(text_id, []):
            continue
        rows.append((text_id, stored.names[component], "learned", round(float(share), 4)))
    fresh = pd.DataFrame(rows, columns=["text_id", "topic", "topic_source", "weight"])
    fresh["topics_run_at"] = now
    kept = previous[_member(previous["text_id"], set(texts.loc[~redo, "text_id"]))]
    frames = [f[list(TEXT_TOPICS.column_names)] for f in (kept, fresh) if len(f)]
    if not frames:
        return fresh[list(TEXT_TOPICS.column_names)]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out.sort_values(["text_id", "topic_source", "topic"], ignore_index=True)


def _member(values: pd.Series, members: set[str]) -> pd.Series:
    """values.isin(members), by a set lookup (pandas' Arrow-string isin is ~100x slower)."""
    return pd.Series(  # bool even when empty: an empty object Series would select columns
        [v in members for v in values.to_numpy(object)], index=values.index, dtype=bool
    )


def _changed_ids(new: pd.DataFrame, old: pd.DataFrame, ignore: list[str]) -> set[str]:
    """text_ids whose row differs from the earlier one (or is new)."""
    columns = [c for c in new.columns if c not in ignore and c != "text_id"]
    if old.empty:
        return set(new["text_id"].tolist())
    at = pd.Index(old["text_id"]).get_indexer(new["text_id"])  # -1: no earlier row
    known = at >= 0
    differs = pd.Series(~known, index=new.index)
    for column in columns:  # one column at a time: history-sized
        a = new.loc[known, column]
        b = old[column].iloc[at[known]].set_axis(a.index)
        differs.loc[known] |= ~((a == b) | (a.isna() & b.isna()))
    return set(new.loc[differs, "text_id"].tolist())


def write_voice(warehouse: Path, rows: VoiceRows) -> int:
    """Rewrite the rows of the changed and deleted texts in the three tables, one transaction."""
    ids = pd.DataFrame({"text_id": pd.Series(sorted({*rows.rewrite, *rows.deleted}), dtype=str)})
    rewrite = set(rows.rewrite)
    with writer(warehouse) as con:
        if ids.empty:  # nothing changed: the tables only made sure of
            for table in (TEXT_SENTIMENT, TEXT_TOPICS, VOICE_STATE):
                con.execute(table.ddl)
            return 0
        con.register("voice_ids", ids)
        for table, frame in (
            (TEXT_SENTIMENT, rows.sentiment),
            (TEXT_TOPICS, rows.topics),
            (VOICE_STATE, rows.state),
        ):
            con.execute(table.ddl)
            table.add_missing_columns(con)
            con.execute(
                f"delete from {table.sql_name} where text_id in (select text_id from voice_ids)"
            )
            new = frame[_member(frame["text_id"], rewrite)]
            con.register("voice_rows", new)
            names = table.column_list
            con.execute(f"insert into {table.sql_name} ({names}) select {names} from voice_rows")
            con.unregister("voice_rows")
        con.unregister("voice_ids")
    return len(ids)
