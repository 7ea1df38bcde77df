"""A reached-only build skips identity when the new rows do not change who is who, and the
marts equal a full build; a new person is resolved again (cxloop.identity.runs).

Runs on a copy of the session's built warehouse (tests/metrics/conftest.py). The landings are
existing rows of raw.zendesk__tickets / raw.zendesk__users (Zendesk's export format, shared/
reference/source-formats.md 1.4 and 1.2) copied by hand under a new id: a new ticket no survey
names, and a new end-user with an e-mail no one has.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from hand_landings import LANDED_AT, snapshot

NEW_TICKET = 990_000_101
NEW_USER = 990_000_202


def land_copy(warehouse: Path, table: str, where: str, changes: dict[str, object]) -> None:
    """Land one existing row of raw.<table> again with `changes` (a new id) as a new batch."""
    con = duckdb.connect(str(warehouse))
    try:
        columns = [d[0] for d in con.execute(f"select * from raw.{table} limit 0").description]
        row = con.execute(f"select * from raw.{table} where {where} limit 1").fetchall()[0]
        values = dict(zip(columns, row, strict=True)) | changes
        values |= {"_batch_id": "hand-batch", "_loaded_at": LANDED_AT, "_content_hash": "hand-x"}
        con.execute(
            f"insert into raw.{table} ({', '.join(columns)}) "
            f"values ({', '.join('?' for _ in columns)})",
            [values[c] for c in columns],
        )
    finally:
        con.close()


def test_new_tickets_that_reach_no_person_skip_identity_and_equal_a_full_build(
    home_copy: Path,  # noqa: F811
    prefect_harness: None,
) -> None:
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    land_copy(warehouse, "zendesk__tickets", "true", {"id": str(NEW_TICKET)})
    reached = build(changed=["raw.zendesk__tickets"])
    assert reached["success"] and reached["identity"]["skipped"]
    assert "marts.fct_tickets" in reached["datasets"]
    assert "intermediate.int_customers__resolved" not in reached["datasets"]
    after_reached = snapshot(warehouse)

    full = build(full_refresh=True)  # resolves again: the same map (resolution is idempotent)
    assert full["success"] and not full["identity"]["skipped"]
    assert not full["identity"]["clusters_changed"]
    after_full = snapshot(warehouse)
    assert after_reached.keys() == after_full.keys()
    for table, rows in after_full.items():
        assert after_reached[table] == rows, table
    assert any(row[0] == NEW_TICKET for row in after_full["marts.fct_tickets"])


def test_a_new_person_is_resolved_again(home_copy: Path, prefect_harness: None) -> None:  # noqa: F811
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    land_copy(
        warehouse,
        "zendesk__users",
        "role = 'end-user'",
        {"id": str(NEW_USER), "email": "new.person@example.org", "name": "Nova Person"},
    )
    reached = build(changed=["raw.zendesk__users"])
    identity = reached["identity"]
    assert reached["success"] and not identity["skipped"] and identity["clusters_changed"]
    assert "marts.customer_identity_map" in reached["datasets"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        mapped = con.execute(
            "select count(*) from marts.customer_identity_map where source = 'zendesk' "
            "and source_record_id = ?",
            [str(NEW_USER)],
        ).fetchall()[0][0]
    finally:
        con.close()
    assert mapped == 1
