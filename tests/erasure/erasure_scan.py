"""Test helpers: search every file under a folder for a person, by bytes and logically.

A byte scan alone misses values DuckDB and Parquet store compressed, so `logical_hits` also
reads every text column of every table of each DuckDB file and every Parquet file, decoded.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import duckdb


def needle_forms(needles: list[str]) -> list[bytes]:
    """Each needle as UTF-8 and JSON-escaped bytes, lower-cased (the scan is case-blind)."""
    forms = set()
    for n in needles:
        forms |= {n.lower().encode(), json.dumps(n.lower())[1:-1].encode()}
    return sorted(forms)


def byte_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """file (relative) -> needles found in its raw bytes."""
    found: dict[str, list[str]] = {}
    forms = needle_forms(needles)
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes().lower()
            hits = [f.decode() for f in forms if f in data]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def _text_hits(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], needles):
    hits = []
    for column in columns:
        for needle in needles:
            row = con.execute(
                f"select count(*) from {relation} "
                f'where contains(lower(cast("{column}" as varchar)), ?)',
                [needle.lower()],
            ).fetchone()
            if row and row[0]:
                hits.append(f"{column}: {needle}")
    return hits


def logical_hits(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """Every text column of every table in every DuckDB file, and of every Parquet file."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix == ".duckdb":
            with contextlib.closing(duckdb.connect(str(path), read_only=True)) as con:
                columns = con.execute(
                    "select schema_name, table_name, column_name from duckdb_columns() "
                    "where database_name = current_database() "
                    "and data_type in ('VARCHAR', 'JSON') "
                    "and schema_name not in ('information_schema', 'pg_catalog')"
                ).fetchall()
                for schema, table, column in columns:
                    hits = _text_hits(con, f'{schema}."{table}"', [column], needles)
                    if hits:
                        found.setdefault(f"{path.name}:{schema}.{table}", []).extend(hits)
        elif path.name.endswith((".parquet", ".parquet.tmp")):
            with contextlib.closing(duckdb.connect()) as con:
                relation = f"read_parquet('{path}')"
                columns = [
                    r[0]
                    for r in con.execute(f"describe select * from {relation}").fetchall()
                    if r[1] in ("VARCHAR", "JSON")
                ]
                hits = _text_hits(con, relation, columns, needles)
                if hits:
                    found[str(path.relative_to(root))] = hits
    return found
