"""Tombstones: the hashed identifiers of erased people, and the filter ingest applies.

`ops.tombstones` holds one salted hash per identifier an erasure removed (cxloop.tables).
Ingest asks `TombstoneFilter.load` once per entity; with no tombstones (the usual case) it
costs one query and filters nothing. Otherwise a file's rows that match (`row_match_sql`) and
its quarantined rows whose text holds an erased e-mail are dropped before anything lands, and
counted as `erased`: read = landed + quarantined + duplicate + erased.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from cxloop.erasure.identifiers import emails_in, identifier_hash, row_match_sql, set_salt


def erasure_salt() -> str:
    """The salt of every erasure hash: the BI snapshot's masking salt (cxloop.publish)."""
    from cxloop.publish import publish_salt
    from cxloop.settings import Settings

    return publish_salt(Settings().paths)


def tombstone_hashes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every tombstoned identifier hash (none when nobody was erased, or no table yet)."""
    try:
        rows = con.execute("select identifier_hash from ops.tombstones").fetchall()
    except duckdb.CatalogException:  # a connection made without cxloop.warehouse.connect
        return []
    return [h for (h,) in rows]


@contextlib.contextmanager
def registered_hashes(con: duckdb.DuckDBPyConnection, hashes: Iterable[str], salt: str):
    """Make `_erasure_hashes` and the salt available to `row_match_sql` on this connection."""
    set_salt(con, salt)
    frame = pa.table({"identifier_hash": pa.array(list(hashes), pa.string())})
    con.register("_erasure_hashes", frame)
    try:
        yield
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister("_erasure_hashes")


class TombstoneFilter:
    """Which rows of a file being landed belong to an erased person."""

    def __init__(self, hashes: list[str], salt: str | None) -> None:
        self.hashes, self.salt = set(hashes), salt

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> TombstoneFilter:
        hashes = tombstone_hashes(con)
        return cls(hashes, erasure_salt() if hashes else None)

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def matching_rows(
        self, con: duckdb.DuckDBPyConnection, table: str, frame: pa.Table
    ) -> set[int]:
        """`_row_number`s of the frame's rows (raw columns + metadata) that are erased people's."""
        if not self.hashes or frame.num_rows == 0:
            return set()
        assert self.salt is not None
        predicate = row_match_sql(table, frame.column_names)
        con.register("_tombstone_rows", frame)
        try:
            with registered_hashes(con, self.hashes, self.salt):
                rows = con.execute(
                    f"select _row_number from _tombstone_rows where {predicate}"
                ).fetchall()
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister("_tombstone_rows")
        return {int(n) for (n,) in rows}

    def text_matches(self, text: str | None) -> bool:
        """True when a text (a quarantined row as read) holds an erased e-mail address."""
        if not self.hashes or not text:
            return False
        assert self.salt is not None
        return any(identifier_hash(self.salt, "email", e) in self.hashes for e in emails_in(text))
