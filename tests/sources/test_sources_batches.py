"""Landing many files of one entity: what the fast paths must keep exactly as before.

Stored text and `_content_hash` follow the documented formulas (json.dumps of each value, sha256
of the sorted canonical JSON), a quarantined JSON record keeps its compact JSON text, rows
repeated across files and runs are duplicates, and the raw table is read once per entity.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from counting_connection import CountingConnection

from cxloop.errors import SourceError
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest
from cxloop.sources.landing import LandResult
from cxloop.warehouse import connect

Query = Callable[..., list[tuple]]

ODD_VALUES: dict[str, object] = {
    "id": 9001,
    "flag_on": True,
    "flag_off": False,
    "zero": 0,
    "negative": -5,
    "big": 123456789012345678901234567890,
    "ratio": 1.5,
    "huge": 1e16,
    "minus_zero": -0.0,
    "nested": {"b": [1, 2.0, None, "ü"], "a": {"x": True}},
    "empty_list": [],
    "name": 'Zoë "quoted" \\ back',
    "missing": None,
}


def _old_text(value: object) -> str | None:
    """The stored text as the first release wrote it (docs/ingest.md)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _old_hash(values: dict[str, str | None]) -> str:
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _page(folder: Path, name: str, users: list[object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page = {"users": users, "end_of_stream": True}
    (folder / name).write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")


def _users(run: IngestRun, con: Any = None) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == "zendesk.users")
    return ingest_entity(run, job, con)


def _counts(results: list[LandResult]) -> list[tuple[int, int, int, int, bool]]:
    return [
        (r.rows_read, r.rows_landed, r.rows_quarantined, r.rows_duplicate, r.skipped)
        for r in results
    ]


def _user(n: int, **extra: object) -> dict[str, object]:
    return {"id": n, "name": f"user {n}", "email": f"u{n}@example.com", **extra}


def test_values_and_content_hash_follow_the_documented_formulas(
    run: IngestRun, query: Query
) -> None:
    folder = run.sources_dir / "zendesk" / "users"
    for page in folder.glob("*.json"):
        page.unlink()
    _page(folder, "page-001.json", [ODD_VALUES])
    [result] = _users(run)
    assert result.rows_landed == 1
    names = list(ODD_VALUES)
    [row] = query(
        "select " + ", ".join(f'"{n}"' for n in names) + ", _content_hash from raw.zendesk__users"
    )
    expected = {name: _old_text(value) for name, value in ODD_VALUES.items()}
    assert dict(zip(names, row[:-1], strict=True)) == expected
    assert row[-1] == _old_hash(expected)


def test_a_quarantined_json_record_keeps_its_compact_json_text(
    run: IngestRun, query: Query
) -> None:
    folder = run.sources_dir / "zendesk" / "users"
    bad = {**ODD_VALUES, "active": "yes"}
    _page(folder, "page-009.json", [7, bad])
    _users(run)
    rows = query(
        "select row_number, field, original from ops.quarantine "
        "where source_file = 'zendesk/users/page-009.json' order by row_number"
    )
    assert rows == [
        (1, None, "7"),
        (2, "active", json.dumps(bad, ensure_ascii=False, separators=(",", ":"))),
    ]


def test_rows_repeated_across_files_and_runs_are_duplicates_and_raw_is_read_once(
    run: IngestRun, warehouse: Path, query: Query
) -> None:
    folder = run.sources_dir / "zendesk" / "users"
    for page in folder.glob("*.json"):
        page.unlink()
    _page(folder, "page-001.json", [_user(1), _user(2)])
    _page(folder, "page-002.json", [_user(2), _user(3)])
    assert _counts(_users(run)) == [(2, 2, 0, 0, False), (2, 1, 0, 1, False)]

    _page(folder, "page-003.json", [_user(1), _user(3), _user(4)])
    _page(folder, "page-004.json", [_user(4), _user(5), _user(2, name="renamed")])
    (folder / "page-005.json").write_bytes((folder / "page-004.json").read_bytes())
    con = CountingConnection(connect(warehouse))
    try:
        second = _users(run, con)
    finally:
        con.close()
    assert _counts(second) == [
        (0, 0, 0, 0, True),
        (0, 0, 0, 0, True),
        (3, 1, 0, 2, False),
        (3, 2, 0, 1, False),
        (0, 0, 0, 0, True),  # the same bytes as page-004 under another name
    ]
    reads_of_raw = [
        sql
        for sql in con.statements
        if "zendesk__users" in sql and sql.lstrip().lower().startswith("select")
    ]
    assert len(reads_of_raw) == 1, reads_of_raw  # once per entity, not once per file
    assert query("select id, name from raw.zendesk__users order by id, name") == [
        ("1", "user 1"),
        ("2", "renamed"),
        ("2", "user 2"),
        ("3", "user 3"),
        ("4", "user 4"),
        ("5", "user 5"),
    ]
    assert query("select count(*), sum(rows_landed) from ops.ingest_files") == [(4, 6)]


def test_ingest_gives_the_garbage_collector_back_even_on_error(run: IngestRun) -> None:
    assert gc.isenabled()
    _users(run)
    assert gc.isenabled()
    (run.sources_dir / "zendesk" / "users" / "page-003.json").write_text('{"users": 1}')
    with pytest.raises(SourceError):
        _users(run)
    assert gc.isenabled()
    (run.sources_dir / "zendesk" / "users" / "page-003.json").unlink()
    gc.disable()
    try:
        _users(run)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
