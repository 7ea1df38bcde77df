"""The survey features are incremental by snapshot and the account spines by account: a build
recomputes exactly the rows that see a changed input row, keeps every other row as it is, and
equals a --full-refresh build.

Runs on a copy of the session's built warehouse (tests/metrics/conftest.py). The landings are
hand-written in the vendors' export formats (shared/reference/source-formats.md): a Qualtrics
response (a new answer of an existing respondent, recorded when their earlier one was) and a
Salesforce opportunity landed again with another Amount, both dated inside the data's range,
so the as-of date stays as it was.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
from hand_landings import assert_equals_full_refresh, land, latest_raw_row

SURVEY = "intermediate.int_snapshot_survey_features__aggregated"
COUNT = "survey_responses_365d"  # the column marked
MARK = -7  # a count no build computes: the rows a run did not recompute keep it


def land_earlier_response(warehouse: Path) -> tuple[str, datetime]:
    """Land a new Qualtrics response, a copy (new ResponseId) of one recorded before one of its
    account's snapshot cutoffs. Returns (account, when it was recorded)."""
    con = duckdb.connect(str(warehouse))
    try:
        response, account, responded_at = con.execute(
            """
            select r.response_id, r.account_id, r.responded_at
            from marts.fct_survey_responses as r
            join intermediate.int_account_snapshots__spined as s
                on s.account_id = r.account_id and r.responded_at < s.feature_cutoff_at
            where r.source = 'qualtrics' and r.nps_score is not null
            order by r.response_id
            limit 1
            """
        ).fetchall()[0]
        earlier = latest_raw_row(con, "qualtrics__responses", "ResponseId", response)
        row = earlier | {"ResponseId": "R_handEarlier001"}
        land(con, "qualtrics__responses", (row,), "qualtrics/responses/earlier.csv")
    finally:
        con.close()
    return account, responded_at


def snapshots_after(warehouse: Path, account: str, at: datetime) -> set[str]:
    """The account's snapshots whose cutoff is after `at`: those that see a row of that time."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select snapshot_id from intermediate.int_account_snapshots__spined "
            "where account_id = ? and feature_cutoff_at > ?",
            [account, at],
        ).fetchall()
    finally:
        con.close()
    return {snapshot_id for (snapshot_id,) in rows}


def mark_every_row(warehouse: Path) -> dict[str, int]:
    """Set one count of every survey-feature row to MARK; returns the true values by snapshot."""
    con = duckdb.connect(str(warehouse))
    try:
        kept = dict(con.execute(f"select snapshot_id, {COUNT} from {SURVEY}").fetchall())
        con.execute(f"update {SURVEY} set {COUNT} = {MARK}")
    finally:
        con.close()
    return kept


def recomputed(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(f"select snapshot_id from {SURVEY} where {COUNT} <> {MARK}").fetchall()
    return {snapshot_id for (snapshot_id,) in rows}


def unmark(warehouse: Path, kept: dict[str, int]) -> None:
    """Put back the true values of the rows the run kept (the recomputed ones have them)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.executemany(
            f"update {SURVEY} set {COUNT} = ? where snapshot_id = ? and {COUNT} = {MARK}",
            [(value, snapshot_id) for snapshot_id, value in kept.items()],
        )
    finally:
        con.close()


def test_survey_features_recompute_only_the_snapshots_that_see_a_change(
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
    finally:
        con.close()
    account, responded_at = land_earlier_response(warehouse)
    # by hand: a response counts for its account's snapshots with a later cutoff
    expected = snapshots_after(warehouse, account, responded_at)
    assert expected
    before = mark_every_row(warehouse)

    incremental = build(changed=["raw.qualtrics__responses"], defer=VOICE_AND_SCORES)
    assert incremental["success"] and incremental["full_refresh"] is None
    assert SURVEY in incremental["datasets"]
    later = build(select=" ".join(incremental["deferred"]))
    assert later["success"]

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        [(spine_after,)] = con.execute(
            "select count(*) from intermediate.int_account_snapshots__spined"
        ).fetchall()
        assert spine_after == spine_before  # the landing did not move the as-of date
        assert recomputed(con) == expected
        counted = dict(
            con.execute(
                f"select snapshot_id, {COUNT} from {SURVEY} "
                f"where snapshot_id in ({', '.join('?' for _ in expected)})",
                sorted(expected),
            ).fetchall()
        )
    finally:
        con.close()
    # the new response is counted where it is within the 365 days before the cutoff
    assert any(counted[s] == before[s] + 1 for s in expected), counted

    unmark(warehouse, before)  # and rebuild what read the marks (nothing to recompute: no change)
    again = build(select=f"{SURVEY.split('.')[1]}+")
    assert again["success"]
    assert_equals_full_refresh(warehouse)


SNAPSHOT_SPINE = "intermediate.int_account_snapshots__spined"
MONTH_SPINE = "intermediate.int_account_months__spined"
SPINE_MARKS = ((SNAPSHOT_SPINE, "seats"), (MONTH_SPINE, "arr_at_start"))


def land_repriced_opportunity(warehouse: Path) -> str:
    """Land a Salesforce opportunity again (salesforce__opportunity, its export columns) with
    twice its Amount and the same LastModifiedDate, so the as-of date stays: the latest landing
    wins. Returns the account whose subscription it is."""
    con = duckdb.connect(str(warehouse))
    try:
        opportunity, account = con.execute(
            f"""
            select subscriptions.subscription_id, subscriptions.account_id
            from intermediate.int_subscriptions__derived as subscriptions
            where subscriptions.account_id in (select account_id from {SNAPSHOT_SPINE})
                and subscriptions.arr_amount > 0
            order by subscriptions.subscription_id
            limit 1
            """
        ).fetchall()[0]
        row = latest_raw_row(con, "salesforce__opportunity", "Id", opportunity)
        row["Amount"] = str(float(row["Amount"]) * 2)
        land(con, "salesforce__opportunity", (row,), "salesforce/Opportunity-repriced.csv")
    finally:
        con.close()
    return account


def account_arr(warehouse: Path, account: str) -> float:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        [(arr,)] = con.execute(
            f"select sum(arr_amount) from {SNAPSHOT_SPINE} where account_id = ?", [account]
        ).fetchall()
    finally:
        con.close()
    return arr


def test_the_spines_recompute_only_the_accounts_whose_subscriptions_changed(
    home_copy: Path,
    prefect_harness: None,
) -> None:
    from cxloop.build import VOICE_AND_SCORES
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    account = land_repriced_opportunity(warehouse)
    arr_before = account_arr(warehouse, account)
    con = duckdb.connect(str(warehouse))
    try:
        kept = {  # every other account's rows
            table: con.execute(f"select * from {table} where account_id <> ?", [account]).fetchall()
            for table, _ in SPINE_MARKS
        }
        for table, column in SPINE_MARKS:
            con.execute(f"update {table} set {column} = {MARK}")
    finally:
        con.close()

    incremental = build(changed=["raw.salesforce__opportunity"], defer=VOICE_AND_SCORES)
    assert incremental["success"] and incremental["full_refresh"] is None
    assert {SNAPSHOT_SPINE, MONTH_SPINE} <= set(incremental["datasets"])
    later = build(select=" ".join(incremental["deferred"]))
    assert later["success"]

    con = duckdb.connect(str(warehouse))
    try:
        for table, column in SPINE_MARKS:
            recomputed_accounts = {
                account_id
                for (account_id,) in con.execute(
                    f"select distinct account_id from {table} "
                    f"where {column} is distinct from {MARK}"
                ).fetchall()
            }
            assert recomputed_accounts == {account}, table
            # put back every other account's rows as they were
            con.execute(f"delete from {table} where account_id <> ?", [account])
            width = len(kept[table][0])
            con.executemany(
                f"insert into {table} values ({', '.join('?' for _ in range(width))})",
                kept[table],
            )
    finally:
        con.close()
    assert account_arr(warehouse, account) > arr_before  # its rows were computed anew
    again = build(select="int_account_snapshots__spined+ int_account_months__spined+")
    assert again["success"]
    assert_equals_full_refresh(warehouse)
