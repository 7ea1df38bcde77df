"""The snapshot features are incremental by account: a build recomputes the accounts whose input
rows changed, keeps every other account's rows as they are, and equals a --full-refresh build.

Runs on a copy of the session's built warehouse (tests/metrics/conftest.py). The landings are
hand-written in the vendors' export formats (shared/reference/source-formats.md): Qualtrics
responses (a new answer of an existing respondent, an answer re-exported unfinished) and a
Zendesk ticket event (an audit reopening a solved ticket, 1.6), all dated inside the data's
range, so the as-of date and the snapshot spine stay as they were.
"""

from __future__ import annotations

import calendar
import json
from datetime import timedelta
from pathlib import Path

import duckdb
from hand_landings import assert_equals_full_refresh, land, land_survey_answers

SURVEY = "intermediate.int_snapshot_survey_features__aggregated"
TICKET = "intermediate.int_snapshot_ticket_features__aggregated"
MARKED = ((SURVEY, "survey_responses_365d"), (TICKET, "tickets_90d"))
MARK = -7  # a count no build computes: the rows a run did not recompute keep it
REOPEN_AUDIT = 990_000_101


def land_reopen(warehouse: Path) -> tuple[int, str, str]:
    """Land one audit reopening a ticket an hour after it was created, in the 90 days before one
    of its account's snapshot cutoffs. Returns (ticket, account, snapshot_id)."""
    con = duckdb.connect(str(warehouse))
    try:
        ticket, account, snapshot_id, created_at, requester = con.execute(
            f"""
            select t.ticket_id, t.account_id, f.snapshot_id, t.created_at,
                cast(z.requester_id as bigint)
            from marts.fct_tickets as t
            join raw.zendesk__tickets as z on cast(z.id as bigint) = t.ticket_id
            join intermediate.int_account_snapshots__spined as s
                on s.account_id = t.account_id
                and t.created_at + interval 1 hour < s.feature_cutoff_at
                and t.created_at >= s.feature_cutoff_at - interval 80 day
            join {TICKET} as f on f.snapshot_id = s.snapshot_id
            order by t.ticket_id, s.snapshot_id, z._loaded_at
            limit 1
            """
        ).fetchall()[0]
        at = created_at + timedelta(hours=1)  # UTC, as the warehouse keeps times
        children = [
            {"id": REOPEN_AUDIT + 1, "event_type": "Change", "field_name": "status",
             "value": "open", "previous_value": "solved"},
        ]  # fmt: skip
        audit = {
            "id": str(REOPEN_AUDIT), "ticket_id": str(ticket),
            "timestamp": str(calendar.timegm(at.timetuple())),
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "updater_id": str(requester),
            "via": json.dumps({"channel": "web"}), "event_type": "Audit",
            "child_events": json.dumps(children),
        }  # fmt: skip
        land(con, "zendesk__ticket_events", (audit,), "zendesk/ticket_events/reopen.json")
    finally:
        con.close()
    return ticket, account, snapshot_id


def accounts_of_responses(warehouse: Path, response_ids: tuple[str, ...]) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select distinct account_id from marts.fct_survey_responses "
            f"where response_id in ({', '.join('?' for _ in response_ids)}) "
            "and account_id is not null",
            list(response_ids),
        ).fetchall()
    finally:
        con.close()
    return {account for (account,) in rows}


def mark_every_row(warehouse: Path) -> dict[str, list[tuple]]:
    """Set one count of every feature row to MARK; the true values, to put back."""
    con = duckdb.connect(str(warehouse))
    try:
        kept = {
            table: con.execute(f"select snapshot_id, {column} from {table}").fetchall()
            for table, column in MARKED
        }
        for table, column in MARKED:
            con.execute(f"update {table} set {column} = {MARK}")
    finally:
        con.close()
    return kept


def recomputed_accounts(con: duckdb.DuckDBPyConnection, table: str, column: str) -> set[str]:
    rows = con.execute(
        f"select distinct account_id from {table} where {column} <> {MARK}"
    ).fetchall()
    return {account for (account,) in rows}


def unmark(warehouse: Path, kept: dict[str, list[tuple]]) -> None:
    """Put back the true values of the rows the run kept (the recomputed ones have them)."""
    con = duckdb.connect(str(warehouse))
    try:
        for table, column in MARKED:
            con.executemany(
                f"update {table} set {column} = ? where snapshot_id = ? and {column} = {MARK}",
                [(value, snapshot_id) for snapshot_id, value in kept[table]],
            )
    finally:
        con.close()


def test_snapshot_features_recompute_only_the_accounts_whose_inputs_changed(
    home_copy: Path,
    prefect_harness: None,
) -> None:
    from cxloop.build import VOICE_AND_SCORES
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        [(spine_before,)] = con.execute(
            "select count(*) from intermediate.int_account_snapshots__spined"
        ).fetchall()
        reopens_before = dict(
            con.execute(f"select snapshot_id, reopens_90d from {TICKET}").fetchall()
        )
    finally:
        con.close()
    new, changed, uncounted = land_survey_answers(warehouse)
    survey_accounts = accounts_of_responses(warehouse, (changed, uncounted))  # new: changed's
    ticket, ticket_account, reopened_snapshot = land_reopen(warehouse)
    kept = mark_every_row(warehouse)

    incremental = build(
        changed=["raw.qualtrics__responses", "raw.zendesk__ticket_events"], defer=VOICE_AND_SCORES
    )
    assert incremental["success"] and incremental["full_refresh"] is None
    assert {SURVEY, TICKET} <= set(incremental["datasets"])
    later = build(select=" ".join(incremental["deferred"]))
    assert later["success"]

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        [(spine_after,)] = con.execute(
            "select count(*) from intermediate.int_account_snapshots__spined"
        ).fetchall()
        assert spine_after == spine_before  # the landings did not move the as-of date
        # recomputed: exactly the accounts of the landed responses, and the reopened ticket's
        assert (
            survey_accounts
            and recomputed_accounts(con, SURVEY, "survey_responses_365d") == survey_accounts
        )
        assert recomputed_accounts(con, TICKET, "tickets_90d") == {ticket_account}
        [(reopens,)] = con.execute(
            f"select reopens_90d from {TICKET} where snapshot_id = ?", [reopened_snapshot]
        ).fetchall()
        assert reopens == reopens_before[reopened_snapshot] + 1
    finally:
        con.close()

    unmark(warehouse, kept)  # and rebuild what read the marks (nothing to recompute: no change)
    again = build(select=f"{SURVEY.split('.')[1]}+ {TICKET.split('.')[1]}+")
    assert again["success"]
    assert_equals_full_refresh(warehouse)
