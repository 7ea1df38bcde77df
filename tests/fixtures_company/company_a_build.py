"""Company A's built warehouse as the tests see it (the fixture is in conftest.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

COMPANY_A = Path(__file__).resolve().parents[1] / "fixtures" / "sources" / "company_a"


@dataclass(frozen=True)
class BuiltCompany:
    """Where the built warehouse is, and what ingest and build reported."""

    home: Path
    warehouse: Path
    ingest: dict
    build: dict

    def rows(self, sql: str, *params: object) -> list[tuple]:
        """The rows of one read-only query."""
        with contextlib.closing(duckdb.connect(str(self.warehouse), read_only=True)) as con:
            return con.execute(sql, list(params)).fetchall()

    def records(self, sql: str, *params: object) -> list[dict[str, object]]:
        """The rows of one read-only query as dicts keyed by column name."""
        with contextlib.closing(duckdb.connect(str(self.warehouse), read_only=True)) as con:
            cursor = con.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
