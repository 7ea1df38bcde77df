"""Every table that Python writes, defined once: its columns, types and meaning.

DDL, the column lists of inserts and the ensure step (`ensure_warehouse`) come from these
definitions; docs/architecture.md ("Table contracts") names each of them (tests/test_tables.py).
The playbook tables are defined in `cxloop.playbooks.ledger` (a domain package that imports
nothing of ours) and registered here; raw tables are defined by the landing metadata and each
source entity's contract. dbt-built tables are defined by their models, not here.

Over 400 lines on purpose: it is the one place every Python-written table is defined, and a
definition split over files is the repetition this module exists to end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb

from cxloop.playbooks import ledger
from cxloop.sqlnames import quoted

SCHEMAS = ("raw", "staging", "intermediate", "marts", "ml", "ops")


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB type, constraint (`not null`, `primary key`) and meaning."""

    name: str
    type: str
    constraint: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """A Python-written table: `schema.name` and its columns, in order.

    `evolves`: an existing table gains the columns added to its definition since it was made
    (ops tables); raw tables do not, their columns follow the files landed.
    """

    schema: str
    name: str
    columns: tuple[Column, ...]
    doc: str = ""
    evolves: bool = True

    @property
    def qualified(self) -> str:
        """`schema.name`, as the docs and dbt sources spell it."""
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        """The quoted name for SQL (`raw."salesforce__user"`)."""
        return f'{self.schema}."{self.name}"'

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def ddl(self) -> str:
        """`create table if not exists` for this table."""
        body = ",\n    ".join(
            f"{quoted(c.name)} {c.type} {c.constraint}".rstrip() for c in self.columns
        )
        return f"create table if not exists {self.sql_name} (\n    {body}\n)"

    @property
    def insert_sql(self) -> str:
        """`insert into` every column, in order, from `?` parameters (see `row`)."""
        return self.insert_many_sql(1)

    @property
    def column_list(self) -> str:
        """Every column's quoted name, in order, comma-separated (for select and insert)."""
        return ", ".join(quoted(n) for n in self.column_names)

    def insert_many_sql(self, count: int) -> str:
        """`insert_sql` for `count` rows in one statement (their `row`s' values in turn)."""
        names = self.column_list
        marks = "(" + ", ".join("?" for _ in self.columns) + ")"
        return f"insert into {self.sql_name} ({names}) values " + ", ".join([marks] * count)

    def row(self, values: Mapping[str, object]) -> list[object]:
        """The values of one row in column order; every column named, no other."""
        missing = [n for n in self.column_names if n not in values]
        extra = [n for n in values if n not in self.column_names]
        if missing or extra:
            raise ValueError(f"{self.qualified}: row lacks {missing}, has unknown {extra}")
        return [values[n] for n in self.column_names]

    def add_missing_columns(self, con: duckdb.DuckDBPyConnection) -> None:
        """Columns added after a release: `create table if not exists` keeps an old table as is."""
        for column in self.columns:
            if "primary key" in column.constraint or "not null" in column.constraint:
                continue  # an old table cannot gain a required column; none was added so far
            con.execute(
                f"alter table {self.sql_name} add column if not exists {quoted(column.name)} "
                f"{column.type}"
            )


def C(name: str, type_: str, constraint: str = "", doc: str = "") -> Column:  # noqa: N802
    """Shorthand for a Column in the definitions below."""
    return Column(name, type_, constraint, doc)


# Landing metadata: the last columns of every raw table (docs/architecture.md).
RAW_METADATA: tuple[Column, ...] = (
    C("_batch_id", "varchar", "", "one batch = one source file landed once"),
    C("_loaded_at", "timestamp", "", "UTC time of landing"),
    C(
        "_source",
        "varchar",
        "",
        "salesforce, hubspot, zendesk, qualtrics, sendgrid, typeform, survey_csv",
    ),
    C("_source_file", "varchar", "", "path relative to the sources folder"),
    C("_row_number", "bigint", "", "1-based data row within the file"),
    C("_content_hash", "varchar", "", "sha256 of the row's canonical source fields"),
)
RAW_METADATA_NAMES: tuple[str, ...] = tuple(c.name for c in RAW_METADATA)


def raw_definition(source: str, entity: str, fields: Iterable[str]) -> Table:
    """raw.<source>__<entity>: the source fields as text (as exported), then landing metadata."""
    names = [f for f in dict.fromkeys(fields) if f not in RAW_METADATA_NAMES]
    return Table(
        "raw",
        f"{source}__{entity}",
        (*(C(f, "varchar") for f in names), *RAW_METADATA),
        f"{source} {entity}, as exported",
        evolves=False,
    )


QUARANTINE = Table(
    "ops",
    "quarantine",
    (
        C("quarantine_id", "varchar", "primary key", "sha256 of source, entity, file hash, row"),
        C("source", "varchar", "not null"),
        C("entity", "varchar", "not null"),
        C("source_file", "varchar", "not null"),
        C("row_number", "bigint", "", "1-based data row (CSV: after headers; JSON: index)"),
        C("field", "varchar"),
        C("reason", "varchar", "not null"),
        C("original", "varchar", "not null", "the row as it was read (CSV line / JSON text)"),
        C("batch_id", "varchar", "not null"),
        C("quarantined_at", "timestamp", "not null"),
    ),
    "rows that failed their contract, with the reason and the original payload",
)
INGEST_FILES = Table(
    "ops",
    "ingest_files",
    (
        C("batch_id", "varchar", "primary key"),
        C("source", "varchar", "not null"),
        C("entity", "varchar", "not null"),
        C("source_file", "varchar", "not null"),
        C("file_sha256", "varchar", "not null"),
        C("rows_read", "bigint", "not null"),
        C("rows_landed", "bigint", "not null"),
        C("rows_quarantined", "bigint", "not null"),
        C("rows_duplicate", "bigint", "not null"),
        C("loaded_at", "timestamp", "not null"),
        C("file_mtime", "timestamp", "", "the file's modification time when last seen"),
        C("last_delivered_at", "timestamp", "", "when these bytes last arrived"),
        C("rows_erased", "bigint", "", "rows of erased people dropped (ops.tombstones)"),
    ),
    "one row per landed file (a batch); read = landed + quarantined + duplicate + erased",
)
PIPELINE_RUNS = Table(
    "ops",
    "pipeline_runs",
    (
        C("run_id", "varchar", "primary key"),
        C("started_at", "timestamp", "not null"),
        C("finished_at", "timestamp"),
        C("status", "varchar", "not null"),
        C("summary", "json"),
    ),
    "one row per pipeline run, with its summary",
)
QUALITY_RESULTS = Table(
    "ops",
    "quality_results",
    (
        C("run_id", "varchar", "not null"),
        C("checked_at", "timestamp", "not null"),
        C("stage", "varchar", "not null", "raw / marts / dbt / freshness"),
        C("dataset", "varchar", "not null", "schema.table"),
        C("check_name", "varchar", "not null", "GE expectation type, dbt test or freshness"),
        C("column_name", "varchar", "", "column(s) checked; _check__<rule> for derived rules"),
        C("severity", "varchar", "not null", "critical / warning"),
        C("success", "boolean", "not null"),
        C("element_count", "bigint"),
        C("unexpected_count", "bigint"),
        C("unexpected_percent", "double"),
        C("details", "json", "", "description, kwargs, sample of unexpected values"),
    ),
    "one row per GE expectation, dbt test or source freshness result",
)
BUILDS = Table(
    "ops",
    "builds",
    (
        C("build_id", "varchar", "primary key", "the build (or score) flow run id"),
        C("started_at", "timestamp", "not null", "UTC"),
        C("finished_at", "timestamp", "", "UTC; null while running or after a crash"),
        C("status", "varchar", "not null", "running / succeeded / failed"),
        C("selection", "varchar", "", "dbt selection, 'score' for a scoring run; null: all"),
        C("datasets", "varchar[]", "", "schema.table it changed; null: unknown, so all"),
    ),
    "every change to what act and publish read: dbt builds and scoring runs (the gate's input)",
)
GATE_VERDICTS = Table(
    "ops",
    "gate_verdicts",
    (
        C("check_run_id", "varchar", "not null"),
        C("checked_at", "timestamp", "not null", "UTC"),
        C("stage", "varchar", "not null", "raw / marts"),
        C("dataset", "varchar", "not null", "schema.table judged"),
        C("build_id", "varchar", "", "the latest ops.builds row when checked: the state judged"),
        C("passed", "boolean", "not null", "no critical check failed"),
        C("failed_checks", "varchar[]", "", "the failed critical checks, as the check names them"),
    ),
    "one row per dataset and check run: the verdict act and publish read (cxloop.quality.gate)",
)
STAGE_INPUTS = Table(
    "ops",
    "stage_inputs",
    (
        C(
            "stage",
            "varchar",
            "not null",
            "check_raw:<raw table> / check_raw_through:<raw table> / build / ledger / score / "
            "publish / deferred (its inputs: pending or built)",
        ),
        C(
            "inputs",
            "varchar",
            "not null",
            "sha256 of what the stage read (cxloop.changes); check_raw_through: the checks' "
            "sha256 | the newest _loaded_at the passing raw check covered | rows | hash",
        ),
        C("run_id", "varchar", "", "the flow run that succeeded on these inputs"),
        C("recorded_at", "timestamp", "not null", "UTC"),
    ),
    "one row per stage success with the fingerprint of its inputs: the pipeline skips a stage "
    "whose inputs are unchanged (cxloop.changes)",
)
INCREMENTAL_BUILDS = Table(
    "ops",
    "incremental_builds",
    (
        C("build_id", "varchar", "not null", "the build flow run id"),
        C("fingerprint", "varchar", "not null", "sha256 of the dbt project, vars and versions"),
        C("full_refresh", "boolean", "not null", "the build rebuilt incremental models fully"),
        C("reason", "varchar", "", "why it refreshed fully; null: incremental"),
        C("recorded_at", "timestamp", "not null", "UTC"),
    ),
    "one row per successful full build: the next build is incremental only when the dbt "
    "project, vars and versions are unchanged and nothing was erased since (cxloop.incremental)",
)
CHURN_SCORES = Table(
    "ml",
    "churn_scores",
    (
        C("account_id", "varchar", "not null"),
        C("scored_at", "timestamp", "not null", "UTC"),
        C("model_version", "varchar", "not null"),
        C("churn_probability", "double", "not null"),
        C("risk_band", "varchar", "not null", "high / medium / low"),
        C("top_drivers", "varchar", "not null", "JSON list of {feature, value, contribution}"),
        C("snapshot_date", "date", "not null", "the snapshot scored; with model_version, the run"),
    ),
    "churn scores per account and scoring run (model_version + snapshot_date)",
)

TEXT_SENTIMENT = Table(
    "ml",
    "text_sentiment",
    (
        C("text_id", "varchar", "primary key", "`<text_kind>:<source_id>`"),
        C("text_kind", "varchar", "not null", "survey_answer / ticket_comment"),
        C("source_id", "varchar", "not null", "response_id, or the Zendesk comment id"),
        C("customer_id", "varchar", "", "who wrote it (null when unresolved)"),
        C("account_id", "varchar", ""),
        C("written_at", "timestamp", "", "UTC"),
        C("language", "varchar", "", "ISO 639-1, detected (null when undetectable)"),
        C("sentiment_score", "double", "", "-1 (negative) .. 1 (positive); null for method none"),
        C("sentiment_label", "varchar", "", "negative / neutral / positive; null for method none"),
        C("method", "varchar", "not null", "model / lexicon / none"),
        C("model_version", "varchar", "", "the sentiment model version (method model)"),
        C("text_sha256", "varchar", "", "of the text scored: an unchanged text keeps its language"),
        C("scored_at", "timestamp", "not null", "UTC"),
    ),
    "sentiment of every open-text answer and customer ticket comment (docs/voice.md)",
)

TEXT_TOPICS = Table(
    "ml",
    "text_topics",
    (
        C("text_id", "varchar", "not null", "ml.text_sentiment.text_id"),
        C("topic", "varchar", "not null", "a keyword topic, or a learned cluster's name"),
        C("topic_source", "varchar", "not null", "keyword / learned"),
        C("weight", "double", "not null", "1 for a keyword match; the cluster's share for learned"),
        C("topics_run_at", "timestamp", "not null", "UTC"),
    ),
    "topics named by each text: keyword lists and learned (NMF) clusters (docs/voice.md)",
)
VOICE_STATE = Table(
    "ml",
    "voice_state",
    (
        C("text_id", "varchar", "primary key", "ml.voice_texts.text_id"),
        C("text_sha256", "varchar", "not null", "of the text its rows were computed from"),
        C("language_key", "varchar", "not null", "the language detector (version, seed, code)"),
        C("sentiment_key", "varchar", "not null", "sentiment model version, lexicon, code"),
        C("topics_key", "varchar", "not null", "keyword patterns, learned-topics fit, config"),
        C("topics_fit", "varchar", "", "the learned-topics fit the text was a member of"),
        C("computed_at", "timestamp", "not null", "UTC"),
    ),
    "what each text's sentiment and topics were computed from, so a run redoes only new and "
    "changed texts (docs/voice.md)",
)
VOICE_TABLES: tuple[Table, ...] = (TEXT_SENTIMENT, TEXT_TOPICS)

IDENTITY_CLUSTERS = Table(
    "intermediate",
    "identity_clusters",
    (
        C("source", "varchar", "not null"),
        C("source_record_id", "varchar", "not null"),
        C("customer_id", "varchar", "not null", "stable across runs (docs/identity.md)"),
        C("account_id", "varchar"),
        C("match_rule", "varchar", "not null", "the rule or splink match that placed the record"),
        C("match_probability", "double"),
        C("email_normalized", "varchar"),
        C("is_email_valid", "boolean"),
        C("phone_e164", "varchar"),
        C("is_phone_valid", "boolean"),
        C("first_name_latin", "varchar"),
        C("last_name_latin", "varchar"),
        C("resolved_at", "timestamp", "not null"),
        C("run_id", "varchar", "not null"),
        C("phone_any", "varchar", "", "the phone Splink compares: phone_e164, else the mobile's"),
        C(
            "phone_input",
            "varchar",
            "",
            "md5 of the record's phone, mobile and account phone: the next run reuses the "
            "three phone columns while it is unchanged",
        ),
        C(
            "record_hash",
            "ubigint",
            "",
            "DuckDB hash of the record's identity inputs: the next run resolves the record "
            "again when it changed (cxloop.identity.incremental)",
        ),
        C(
            "link_keys",
            "ubigint[]",
            "",
            "hashes of the ids a rule joins on (e-mail, contact and helpdesk ids): what a new "
            "or changed record can reach",
        ),
        C(
            "block_keys",
            "ubigint[]",
            "",
            "hashes of Splink's blocking keys: the records Splink may pair with it",
        ),
        C("splink_usable", "boolean", "", "whether Splink reads the record (a name or e-mail key)"),
        C("first_key", "varchar", "", "the first name's key Splink compares"),
        C("last_key", "varchar", "", "the last name's key Splink compares"),
        C("email_local_key", "varchar", "", "the e-mail's local-part key Splink blocks on"),
        C("account_hint", "varchar", "", "the account the record names (Splink compares it)"),
    ),
    "one row per person record with its customer_id; replaced by each identity run",
)
# what the identity step keeps in its map for its next run (docs/identity.md "Incremental
# runs"): dbt reads none of it, so the PostgreSQL copy leaves it out (cxloop.postgres)
IDENTITY_MEMO_COLUMNS = (
    "record_hash", "link_keys", "block_keys", "splink_usable", "first_key", "last_key",
    "email_local_key", "account_hint",
)  # fmt: skip
IDENTITY_CHANGES = Table(
    "ops",
    "identity_changes",
    (
        C("run_id", "varchar", "not null"),
        C("changed_at", "timestamp", "not null"),
        C("change_type", "varchar", "not null", "merge / split / over_merge_guard"),
        C("source", "varchar"),
        C("source_record_id", "varchar"),
        C("previous_customer_id", "varchar"),
        C("customer_id", "varchar"),
        C("detail", "json"),
    ),
    "what each identity run changed, and the over-merge guard's hits (appended)",
)


IDENTITY_RUNS = Table(
    "ops",
    "identity_runs",
    (
        C("run_id", "varchar", "not null", "the identity run (identity_clusters.run_id)"),
        C("build_id", "varchar", "", "the build flow run it was part of; null: run alone"),
        C("resolved_at", "timestamp", "not null", "UTC"),
        C("settings_fingerprint", "varchar", "not null", "sha256 of threshold, guard, code"),
        C("records_fingerprint", "varchar", "not null", "count:hash sum of its input rows"),
        C("clusters_fingerprint", "varchar", "not null", "count:hash sum of its map (no run cols)"),
        C("records", "bigint", "not null"),
    ),
    "one row per identity run, written with its clusters: a build skips identity while its "
    "input and output are those of the last run a successful build consumed (docs/identity.md)",
)

IDENTITY_MODELS = Table(
    "ops",
    "identity_models",
    (
        C("run_id", "varchar", "not null", "the identity run that trained it"),
        C("trained_at", "timestamp", "not null", "UTC"),
        C("settings_fingerprint", "varchar", "not null", "identity settings, code and libraries"),
        C("records", "bigint", "not null", "the records Splink read when it trained"),
        C("model", "varchar", "not null", "Splink's settings with the trained m and u (JSON)"),
    ),
    "the last trained Splink model, written with the map of the run that trained it: reused "
    "while the records Splink reads change by at most 5% (docs/identity.md)",
)


def _ledger_table(qualified: str, doc: str, columns: Sequence[tuple[str, str, str, str]]) -> Table:
    schema, name = qualified.split(".")
    return Table(schema, name, tuple(Column(*column) for column in columns), doc)


# Defined in the playbooks package as data (it imports nothing of ours); registered here.
PLAYBOOK_TABLES: tuple[Table, ...] = tuple(
    _ledger_table(qualified, doc, columns) for qualified, (doc, columns) in ledger.TABLES.items()
)

ERASURES = Table(
    "ops",
    "erasures",
    (
        C("erasure_id", "varchar", "primary key"),
        C("erased_at", "timestamp", "not null", "UTC"),
        C("subject_hash", "varchar", "not null", "salted sha256 of what was asked (e-mail or id)"),
        C("identifiers", "bigint", "not null", "how many identifiers were tombstoned"),
        C("removed", "json", "not null", "rows (or files) removed per place, counts only"),
    ),
    "one row per erasure: a salted hash, the time and counts; never a clear identifier",
)
TOMBSTONES = Table(
    "ops",
    "tombstones",
    (
        C("identifier_hash", "varchar", "primary key", "salted sha256 of kind and value"),
        C("kind", "varchar", "not null", "email, phone, zendesk_user, ... (cxloop.erasure)"),
        C("erasure_id", "varchar", "not null"),
    ),
    "an erased person's identifiers, hashed: ingest drops rows that match (rows_erased)",
)
TOMBSTONE_SALT = Table(
    "ops",
    "tombstone_salt",
    (
        C(
            "salt_sha256",
            "varchar",
            "not null",
            "sha256 of the salt the tombstones use; not the salt",
        ),
        C("recorded_at", "timestamp", "not null", "UTC"),
    ),
    "one row: which salt the tombstones were hashed with (ingest and erase refuse another)",
)
ERASURE_TABLES: tuple[Table, ...] = (ERASURES, TOMBSTONES, TOMBSTONE_SALT)

# The tables every warehouse has from its first connection on.
CORE_TABLES: tuple[Table, ...] = (
    QUARANTINE,
    INGEST_FILES,
    PIPELINE_RUNS,
    QUALITY_RESULTS,
    BUILDS,
    GATE_VERDICTS,
    TOMBSTONES,
    STAGE_INPUTS,
)
IDENTITY_TABLES: tuple[Table, ...] = (
    IDENTITY_CLUSTERS,
    IDENTITY_CHANGES,
    IDENTITY_RUNS,
    IDENTITY_MODELS,
)
# Every Python-written table but the raw ones (those come from the source contracts).
ALL_TABLES: tuple[Table, ...] = (
    *CORE_TABLES,
    CHURN_SCORES,
    *VOICE_TABLES,
    VOICE_STATE,
    *IDENTITY_TABLES,
    *PLAYBOOK_TABLES,
    ERASURES,
    TOMBSTONE_SALT,
    INCREMENTAL_BUILDS,
)


def raw_tables() -> tuple[Table, ...]:
    """The raw table of every known source entity, with the fields its contract names."""
    from cxloop.sources.contracts import CONTRACTS

    return tuple(
        raw_definition(c.source, c.entity, [*c.columns, *c.required, *c.types])
        for c in CONTRACTS.values()
    )


def ensure_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[Table]) -> None:
    """Create each table (and its schema) if missing, and add columns an older file lacks."""
    for table in tables:
        con.execute(f"create schema if not exists {table.schema}")
        con.execute(table.ddl)
        if table.evolves:
            table.add_missing_columns(con)


def ensure_warehouse(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The one ensure step: every schema and every Python-written table, empty if never written.

    Run before dbt reads sources, so that plain `source()` always finds its table: the raw
    table of a system the company lacks, identity before its first run, scores before the
    first scoring, the playbook ledger before the first act. Returns the tables it created.
    """
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    existing = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database()"
        ).fetchall()
    }
    tables = (*ALL_TABLES, *raw_tables())
    ensure_tables(con, tables)
    return [t.qualified for t in tables if t.qualified not in existing]
