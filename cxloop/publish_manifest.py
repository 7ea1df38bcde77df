"""What the current BI snapshot holds, so a publish copies only the tables that changed.

`bi/snapshot.json`, written after each publish, records: the publish settings' key (a sha256 of
the salt's sha256, masking, CSM names, storage version, code and erasures), per published table
its columns, row count and an order-free hash of its rows, the `cx.duckdb` file it
describes (inode, size, mtime) and the Parquet version folder. A table may be carried over
only when all of these still match; anything else (no manifest, a kill between the rename and
the manifest, a new erasure, another salt) republishes every table (docs/bi.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cxloop.changes import code_fingerprint
from cxloop.tables import TOMBSTONES
from cxloop.warehouse import table_exists

MANIFEST = "snapshot.json"


@dataclass
class Manifest:
    """The settings key, per table (`schema.table`) its build and rows, and the files."""

    key: str
    tables: dict[str, list[Any]] = field(default_factory=dict)
    duckdb_file: list[int] = field(default_factory=list)
    parquet_version: str | None = None


def settings_key(
    salt: str, mask: bool, show_csm_names: bool, storage_version: str, erased: Any = None
) -> str:
    """sha256 of what decides every published value besides the data (the salt only hashed),
    and of the erasures so far (`erased`: see erasures): after an erasure nothing is carried."""
    facts = {
        "erased": erased,
        "salt": hashlib.sha256(salt.encode()).hexdigest(),
        "mask": mask,
        "show_csm_names": show_csm_names,
        "storage_version": storage_version,
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def table_states(con: duckdb.DuckDBPyConnection, tables: list[tuple[str, str]]) -> dict:
    """Per table: its columns and types, rows, and an order-free hash of its rows.

    The sum (not the xor) of the rows' hashes, so duplicate rows do not cancel out; 70 ms for
    the 20 tables at scale 1. The content, not the build that last wrote a table: a build that
    rewrote a mart with the same rows (most of them, when new tickets reach every person
    record) leaves it carried over."""
    states: dict[str, list[Any]] = {}
    for schema, table in tables:
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = "
            "current_database() and schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
        row = con.execute(
            f'select count(*), sum(hash(t))::varchar from {schema}."{table}" t'
        ).fetchone()
        rows, content = (int(row[0]), row[1]) if row else (0, None)
        states[f"{schema}.{table}"] = [
            hashlib.sha256(repr(columns).encode()).hexdigest(),
            rows,
            content,
        ]
    return states


def erasures(con: duckdb.DuckDBPyConnection) -> list[Any] | None:
    """The erased identifiers so far (count and an order-free hash of ops.tombstones), written
    before an erasure's rebuild and publish: a new erasure republishes every table, so no byte
    of a file that held the person is carried over."""
    if not table_exists(con, TOMBSTONES.schema, TOMBSTONES.name):
        return None
    row = con.execute(
        f"select count(*), bit_xor(hash(identifier_hash)) from {TOMBSTONES.qualified}"
    ).fetchone()
    return list(row) if row else None


def file_identity(path: Path) -> list[int]:
    """Inode, size and mtime of a file: a replaced file has another."""
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def read_manifest(bi_dir: Path, key: str) -> Manifest | None:
    """The manifest of the snapshot in place, or None when it cannot be trusted for `key`."""
    path, target, link = bi_dir / MANIFEST, bi_dir / "cx.duckdb", bi_dir / "parquet"
    if not (path.is_file() and target.is_file() and link.is_symlink()):
        return None
    try:
        manifest = Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        return None
    if manifest.key != key or manifest.duckdb_file != file_identity(target):
        return None
    if Path(os.readlink(link)).name != manifest.parquet_version:
        return None
    return manifest


def carried_over(manifest: Manifest | None, states: dict[str, list[Any]]) -> set[str]:
    """The tables whose published copy is still current (same columns, rows and content)."""
    if manifest is None:
        return set()
    return {name for name, state in states.items() if manifest.tables.get(name) == state}


def write_manifest(bi_dir: Path, manifest: Manifest) -> None:
    """Write bi/snapshot.json (temporary name, then rename)."""
    path = bi_dir / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest.__dict__, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def forget_manifest(bi_dir: Path) -> None:
    """Remove the manifest before the snapshot changes (a kill then republishes everything)."""
    (bi_dir / MANIFEST).unlink(missing_ok=True)
