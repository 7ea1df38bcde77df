"""A DuckDB connection that remembers the SQL it ran (what the landing tests count)."""

from __future__ import annotations

from typing import Any

import duckdb


class CountingConnection:
    """A DuckDB connection that remembers every SQL statement it ran."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[str] = []

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        self.statements.append(sql)
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)
