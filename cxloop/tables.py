"""Every table that Python writes, defined once: its columns, types and meaning.

DDL, column lists for inserts, dbt's empty stand-ins and the docs' column tables all come from
these definitions (docs/architecture.md, "Table contracts"). dbt-built tables are defined by
their models, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB type, constraint (`not null`, `primary key`) and meaning."""

    name: str
    type: str
    constraint: str = ""
    doc: str = ""


@dataclass(frozen=True)
class Table:
    """A Python-written table: `schema.name` and its columns, in order."""

    schema: str
    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def ddl(self) -> str:
        """`create table if not exists` for this table."""
        body = ",\n    ".join(f"{c.name} {c.type} {c.constraint}".rstrip() for c in self.columns)
        return f"create table if not exists {self.qualified} (\n    {body}\n)"

    def add_missing_columns(self, con: duckdb.DuckDBPyConnection) -> None:
        """Columns added after a release: `create table if not exists` keeps an old table as is."""
        for column in self.columns:
            if "primary key" in column.constraint or "not null" in column.constraint:
                continue  # an old table cannot gain a required column; none was added so far
            con.execute(
                f"alter table {self.qualified} add column if not exists {column.name} {column.type}"
            )


def C(name: str, type_: str, constraint: str = "", doc: str = "") -> Column:  # noqa: N802
    """Shorthand for a Column in the definitions below."""
    return Column(name, type_, constraint, doc)


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
    ),
    "one row per landed file (a batch)",
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

# The tables every warehouse has from its first connection on.
CORE_TABLES: tuple[Table, ...] = (QUARANTINE, INGEST_FILES, PIPELINE_RUNS, QUALITY_RESULTS)
ALL_TABLES: tuple[Table, ...] = (*CORE_TABLES, CHURN_SCORES)


def ensure_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[Table] = ALL_TABLES) -> None:
    """Create each table (and its schema) if missing, and add columns an older file lacks."""
    for table in tables:
        con.execute(f"create schema if not exists {table.schema}")
        con.execute(table.ddl)
        table.add_missing_columns(con)
