"""Tombstones remember their salt's fingerprint; ingest and erase refuse another salt.

A hand-made warehouse: one tombstone hashed with salt "s1"; a shell with CXLOOP_PUBLISH_SALT
"s2" would match nothing, so the tombstone filter (what ingest loads per entity) and the
erasure stop with a one-line error instead."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import duckdb
import pytest

from cxloop.erasure.identifiers import identifier_hash
from cxloop.erasure.run import remove_person, subject_key
from cxloop.erasure.tombstones import TombstoneFilter, TombstoneSaltError, record_salt
from cxloop.settings import Settings
from cxloop.tables import ERASURE_TABLES, ensure_tables

JANE = "jane.roe@example.com"


def tombstoned_warehouse(path: Path) -> None:
    with contextlib.closing(duckdb.connect(str(path))) as con:
        ensure_tables(con, ERASURE_TABLES)
        record_salt(con, "s1")
        con.execute(
            "insert into ops.tombstones values (?, 'email', 'e-1')",
            [identifier_hash("s1", "email", JANE)],
        )
        con.execute("create schema raw")
        con.execute('create table raw.zendesk__users ("id" varchar, "email" varchar)')
        con.execute("insert into raw.zendesk__users values ('7001', 'omar@example.com')")


def test_only_the_salts_fingerprint_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "cx.duckdb"
    tombstoned_warehouse(path)
    with contextlib.closing(duckdb.connect(str(path))) as con:
        stored = con.execute("select salt_sha256 from ops.tombstone_salt").fetchall()
    assert stored == [(hashlib.sha256(b"s1").hexdigest(),)]


def test_ingest_refuses_a_salt_other_than_the_tombstones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cx.duckdb"
    tombstoned_warehouse(path)
    with contextlib.closing(duckdb.connect(str(path))) as con:
        monkeypatch.setenv("CXLOOP_PUBLISH_SALT", "s1")
        assert TombstoneFilter.load(con).text_matches(f"mail {JANE}")
        monkeypatch.setenv("CXLOOP_PUBLISH_SALT", "s2")
        with pytest.raises(TombstoneSaltError, match=r"ops.tombstone_salt: .*another salt"):
            TombstoneFilter.load(con)


def test_erase_refuses_a_salt_other_than_the_tombstones(
    cx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = Settings().paths.ensure()
    tombstoned_warehouse(paths.warehouse)
    monkeypatch.setenv("CXLOOP_PUBLISH_SALT", "s2")
    with pytest.raises(TombstoneSaltError, match="CXLOOP_PUBLISH_SALT"):
        remove_person(paths, subject_key("omar@example.com", None))
    with contextlib.closing(duckdb.connect(str(paths.warehouse))) as con:  # nothing removed
        assert con.execute("select count(*) from raw.zendesk__users").fetchone() == (1,)
