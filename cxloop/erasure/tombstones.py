"""Tombstones: the hashed identifiers of erased people, and the filter ingest applies.

`ops.tombstones` holds one salted hash per identifier an erasure removed (cxloop.tables).
Ingest asks `TombstoneFilter.load` once per entity; with no tombstones (the usual case) it
costs one query and filters nothing. Otherwise a file's rows that match (`row_match_sql`) and
its quarantined rows whose text holds an erased e-mail are dropped before anything lands, and
counted as `erased`: read = landed + quarantined + duplicate + erased.

The hashes are salted with the publish salt (`CXLOOP_PUBLISH_SALT`, else `bi/.salt`). A shell
with another salt would silently match nothing, so `ops.tombstone_salt` keeps the sha256 of the
salt (never the salt) and ingest and erase refuse a different one (`check_salt`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from cxloop.erasure.identifiers import emails_in, identifier_hash, row_match_sql, set_salt
from cxloop.errors import CxloopError


class TombstoneSaltError(CxloopError):
    """The current salt is not the one the tombstones were hashed with."""


def erasure_salt() -> str:
    """The salt of every erasure hash: the BI snapshot's masking salt (cxloop.publish)."""
    from cxloop.publish import publish_salt
    from cxloop.settings import Settings

    return publish_salt(Settings().paths)


def salt_fingerprint(salt: str) -> str:
    """sha256 of the salt: safe to store, enough to tell two salts apart."""
    return hashlib.sha256(salt.encode()).hexdigest()


def recorded_salt(con: duckdb.DuckDBPyConnection) -> str | None:
    """The salt fingerprint the tombstones were made with (None: none recorded yet)."""
    try:
        # fetchall, not fetchone: an unfinished result would block con.register (tombstones)
        rows = con.execute("select salt_sha256 from ops.tombstone_salt limit 1").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[0][0] if rows else None


def check_salt(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """Raise TombstoneSaltError when the tombstones were hashed with another salt."""
    recorded, current = recorded_salt(con), salt_fingerprint(salt)
    if recorded is not None and recorded != current:
        raise TombstoneSaltError(
            f"ops.tombstone_salt: the tombstones were hashed with another salt (sha256 "
            f"{recorded[:12]}...) than this one (sha256 {current[:12]}..., from "
            "CXLOOP_PUBLISH_SALT, else bi/.salt under CXLOOP_HOME); use the salt they were "
            "made with"
        )


def record_salt(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """Remember the salt's fingerprint with the tombstones (once; check_salt guards changes)."""
    check_salt(con, salt)
    if recorded_salt(con) is None:
        con.execute(
            "insert into ops.tombstone_salt values (?, ?)",
            [salt_fingerprint(salt), datetime.now(UTC).replace(tzinfo=None)],
        )


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
        if not hashes:
            return cls(hashes, None)
        salt = erasure_salt()
        check_salt(con, salt)  # another salt would match nothing: refuse, never land them
        return cls(hashes, salt)

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
