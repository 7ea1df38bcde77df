"""Raw landings written by hand in the vendors' export formats, and the comparison of every
dbt-built table, for the incremental-build tests (tests/metrics/test_incremental_*.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from cxloop.sqlnames import quoted

LANDED_AT = datetime(2031, 1, 2, 3, 4, 5)  # later than every landing of the sample layer
COMPARED_SCHEMAS = ("staging", "intermediate", "marts", "ml")


def raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'raw' "
            "and table_name = ? order by column_index",
            [table],
        ).fetchall()
    ]


def latest_raw_row(
    con: duckdb.DuckDBPyConnection, table: str, id_column: str, value: object
) -> dict:
    """The latest landed row of raw.<table> whose `id_column` is `value`, by column name."""
    columns = raw_columns(con, table)
    row = con.execute(
        f"select * from raw.{table} where {quoted(id_column)} = ? order by _loaded_at desc limit 1",
        [value],
    ).fetchall()[0]
    return dict(zip(columns, row, strict=True))


def land(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: tuple[dict, ...],
    file: str,
    loaded_at: datetime = LANDED_AT,
) -> None:
    """Insert `rows` into raw.<table> as one hand-made landing of `file` at `loaded_at`."""
    columns = raw_columns(con, table)
    source = file.split("/")[0]
    for number, row in enumerate(rows):
        meta = {
            "_batch_id": f"hand-{source}", "_loaded_at": loaded_at, "_source": source,
            "_source_file": file, "_row_number": number,
            "_content_hash": f"hand-{source}-{number}",
        }  # fmt: skip
        values = row | meta
        con.execute(
            f"insert into raw.{table} ({', '.join(quoted(c) for c in columns)}) "
            f"values ({', '.join('?' for _ in columns)})",
            [values.get(column) for column in columns],
        )


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every dbt-built table of the compared schemas, its rows sorted; floats to 12 digits
    (DuckDB may sum in another order)."""
    from cxloop.tables import ALL_TABLES

    python_written = {table.qualified for table in ALL_TABLES}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in "
            f"({', '.join(repr(s) for s in COMPARED_SCHEMAS)}) order by 1, 2"
        ).fetchall()
        out = {}
        for schema, table in tables:
            if f"{schema}.{table}" in python_written:
                continue
            rows = con.execute(f'select * from {schema}."{table}"').fetchall()
            rounded = [
                tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in row)
                for row in rows
            ]
            out[f"{schema}.{table}"] = sorted(rounded, key=repr)
        return out
    finally:
        con.close()


def assert_equals_full_refresh(warehouse: Path) -> None:
    """The warehouse's dbt tables now equal, row for row, those of a --full-refresh build."""
    from cxloop.flows.build import build

    after_incremental = snapshot(warehouse)
    full = build(full_refresh=True)
    assert full["success"] and full["full_refresh"] == "asked"
    after_full = snapshot(warehouse)
    assert after_incremental.keys() == after_full.keys()
    for table, rows in after_full.items():
        assert after_incremental[table] == rows, table
