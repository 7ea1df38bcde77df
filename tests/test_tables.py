"""cxloop.tables: every Python-written table defined once, made by one ensure step."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from cxloop.package_data import dbt_project_dir
from cxloop.playbooks import ledger
from cxloop.tables import (
    ALL_TABLES,
    INGEST_FILES,
    PLAYBOOK_TABLES,
    QUARANTINE,
    SCHEMAS,
    Table,
    ensure_warehouse,
    raw_tables,
)

ROOT = Path(__file__).resolve().parents[1]


def columns_of(con: duckdb.DuckDBPyConnection, table: Table) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the table as it is in the warehouse, in order."""
    return [
        (name, data_type.lower())
        for name, data_type in con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [table.schema, table.name],
        ).fetchall()
    ]


def defined(table: Table) -> list[tuple[str, str]]:
    return [(c.name, c.type.lower()) for c in table.columns]


def test_ensure_warehouse_makes_every_schema_and_table_as_defined() -> None:
    con = duckdb.connect()
    created = ensure_warehouse(con)
    tables = (*ALL_TABLES, *raw_tables())
    assert created == [t.qualified for t in tables]
    schemas = {s for (s,) in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert set(SCHEMAS) <= schemas
    for table in tables:
        assert columns_of(con, table) == defined(table), table.qualified
    assert ensure_warehouse(con) == []  # a second run changes nothing


def test_every_dbt_source_exists_after_the_ensure_step() -> None:
    """dbt can read plain source(): each declared source table is one that ensure_warehouse made."""
    con = duckdb.connect()
    ensure_warehouse(con)
    present = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
    declared = []
    for path in sorted(dbt_project_dir().joinpath("models").rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            for table in source.get("tables", []):
                declared.append((source["schema"], table.get("identifier", table["name"])))
    assert declared
    missing = [f"{s}.{t}" for s, t in declared if (s, t) not in present]
    assert not missing, f"dbt sources no ensure step creates: {missing}"


def test_an_old_ingest_files_table_gains_the_columns_added_since() -> None:
    con = duckdb.connect()
    con.execute("create schema ops")
    con.execute(  # the shape of ops.ingest_files before file_mtime and last_delivered_at
        "create table ops.ingest_files (batch_id varchar primary key, source varchar not null, "
        "entity varchar not null, source_file varchar not null, file_sha256 varchar not null, "
        "rows_read bigint not null, rows_landed bigint not null, "
        "rows_quarantined bigint not null, rows_duplicate bigint not null, "
        "loaded_at timestamp not null)"
    )
    con.execute(
        "insert into ops.ingest_files values "
        "('b1', 'zendesk', 'tickets', 'z/1.json', 'abc', 3, 3, 0, 0, '2025-01-01 00:00:00')"
    )
    created = ensure_warehouse(con)
    assert "ops.ingest_files" not in created
    assert columns_of(con, INGEST_FILES) == defined(INGEST_FILES)
    assert con.execute(
        "select batch_id, rows_read, file_mtime, last_delivered_at from ops.ingest_files"
    ).fetchall() == [("b1", 3, None, None)]


def test_a_landed_raw_table_keeps_its_own_columns() -> None:
    """Raw tables follow the files landed: the ensure step does not add contract fields."""
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute('create table raw.zendesk__users (id varchar, "_batch_id" varchar)')
    ensure_warehouse(con)
    names = [row[0] for row in con.execute("describe raw.zendesk__users").fetchall()]
    assert names == ["id", "_batch_id"]


def test_the_ledger_makes_its_tables_as_cxloop_tables_defines_them() -> None:
    """playbooks renders its own DDL (it imports nothing of ours) from the same definition."""
    con = duckdb.connect()
    ledger.ensure_tables(con)
    assert {t.qualified for t in PLAYBOOK_TABLES} == set(ledger.TABLES)
    for table in PLAYBOOK_TABLES:
        assert columns_of(con, table) == defined(table), table.qualified


def test_ledger_inserts_name_every_column_of_their_table() -> None:
    with pytest.raises(ValueError, match="ops.outbox"):
        ledger.select_into("ops.outbox", {"action_id": "action_id"})


def test_a_row_must_name_every_column_and_no_other() -> None:
    values = {c: None for c in QUARANTINE.column_names}
    assert QUARANTINE.row(values) == [None] * len(QUARANTINE.columns)
    with pytest.raises(ValueError, match="lacks \\['original'\\], has unknown \\['payload'\\]"):
        QUARANTINE.row({**{k: v for k, v in values.items() if k != "original"}, "payload": 1})


def test_every_table_is_named_in_the_architecture_doc() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [t.qualified for t in (*ALL_TABLES, *raw_tables()) if f"`{t.qualified}`" not in doc]
    assert not missing, f"tables not in docs/architecture.md: {missing}"
