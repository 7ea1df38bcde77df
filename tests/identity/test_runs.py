"""The identity fingerprints (cxloop.identity.runs): what changes them and what does not."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from cxloop.identity.runs import _rows_fingerprint


def fingerprint(rows: list[tuple[str, str | None]]) -> str:
    con = duckdb.connect()
    con.execute("create table t (source varchar, email varchar)")
    if rows:
        con.executemany("insert into t values (?, ?)", rows)
    return _rows_fingerprint(con, "t", "r")


def test_row_order_does_not_count_and_every_edit_does() -> None:
    rows = [("zendesk", "a@x.com"), ("salesforce", None), ("typeform", "b@y.sa")]
    same = fingerprint(rows)
    assert fingerprint(list(reversed(rows))) == same
    assert fingerprint([*rows[:2], ("typeform", "b@y.sb")]) != same  # one value edited
    assert fingerprint([*rows[:2], ("typeform", None)]) != same  # one value erased
    assert fingerprint(rows[:2]) != same  # one row deleted
    assert fingerprint([*rows, rows[0]]) != same  # a repeated row counts again
    swapped = [("zendesk", "b@y.sa"), ("salesforce", None), ("typeform", "a@x.com")]
    assert fingerprint(swapped) != same  # the same values in other rows
    crossed = [("a@x.com", "zendesk"), *rows[1:]]
    assert fingerprint(crossed) != same  # the same values in other columns of a row


def test_an_empty_table_has_a_fingerprint() -> None:
    assert fingerprint([]) == "0:0"


def test_the_settings_fingerprint_follows_the_maps_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cxloop.identity.runs as runs
    from cxloop.tables import IDENTITY_CLUSTERS, C

    before = runs.settings_fingerprint(0.9, 25)
    assert runs.settings_fingerprint(0.9, 25) == before
    assert runs.settings_fingerprint(0.8, 25) != before
    grown = replace(IDENTITY_CLUSTERS, columns=(*IDENTITY_CLUSTERS.columns, C("extra", "varchar")))
    monkeypatch.setattr(runs, "IDENTITY_CLUSTERS", grown)
    assert runs.settings_fingerprint(0.9, 25) != before  # a new map column: a full run
