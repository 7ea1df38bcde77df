"""Incremental models and reached-only builds: after new raw landings they equal a
--full-refresh build, row for row.

Runs on a copy of the session's built warehouse (tests/metrics/conftest.py). The new landings are
written by hand in Zendesk's ticket events export format (shared/reference/source-formats.md
1.6): a new audit with a comment child event and a status change, and a re-landed audit that
now has no child events (its earlier children must go); and in Qualtrics' response export
columns: a new answer, a re-worded one and one re-exported unfinished (topic tagging).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
from hand_landings import (
    assert_equals_full_refresh,
    land,
    raw_columns,
    snapshot,
)

NEW_AUDIT = 990_000_001
NEW_COMMENT = 880_000_001


def land_new_audits(warehouse: Path) -> tuple[int, int]:
    """Append two landings to raw.zendesk__ticket_events; (ticket, re-landed audit)."""
    con = duckdb.connect(str(warehouse))
    try:
        ticket, requester = con.execute(
            "select cast(id as bigint), cast(requester_id as bigint) "
            "from raw.zendesk__tickets order by cast(id as bigint) limit 1"
        ).fetchall()[0]
        relanded = con.execute(
            "select cast(id as bigint) from raw.zendesk__ticket_events "
            "where json_array_length(child_events) > 0 order by cast(id as bigint) limit 1"
        ).fetchall()[0][0]
        columns = raw_columns(con, "zendesk__ticket_events")
        children = [
            {"id": NEW_COMMENT, "type": "Comment", "event_type": "Comment",
             "author_id": requester, "body": "Still waiting for the refund.", "public": True,
             "audit_id": NEW_AUDIT, "created_at": "2031-01-02T03:00:00Z"},
            {"id": NEW_COMMENT + 1, "event_type": "Change", "field_name": "status",
             "value": "open", "previous_value": "solved"},
        ]  # fmt: skip
        new = {
            "id": str(NEW_AUDIT), "ticket_id": str(ticket), "timestamp": "1925085600",
            "created_at": "2031-01-02T03:00:00Z", "updater_id": str(requester),
            "via": json.dumps({"channel": "email"}), "event_type": "Audit",
            "child_events": json.dumps(children),
        }  # fmt: skip
        old = con.execute(
            "select * from raw.zendesk__ticket_events where cast(id as bigint) = ? limit 1",
            [relanded],
        ).fetchall()[0]
        again = dict(zip(columns, old, strict=True)) | {"child_events": "[]"}
        land(con, "zendesk__ticket_events", (new, again), "zendesk/ticket_events/hand.json")
    finally:
        con.close()
    return ticket, relanded


def test_incremental_build_equals_full_refresh(home_copy: Path, prefect_harness: None) -> None:
    from cxloop.build import VOICE_AND_SCORES
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    ticket, relanded = land_new_audits(warehouse)

    # incremental, and only what the new ticket events reach (cxloop.reached); what reads the
    # voice and score tables is left to a second build, as the pipeline does after those stages
    incremental = build(changed=["raw.zendesk__ticket_events"], defer=VOICE_AND_SCORES)
    assert incremental["success"] and incremental["full_refresh"] is None
    built_now = {n.split(".")[-1] for n in incremental["datasets"]}
    assert "dim_customers" in incremental["deferred"]  # it reads the churn scores
    assert "dim_customers" not in built_now
    # the ticket KPIs read no score: built with the tickets
    assert "mart_ticket_kpis" in built_now
    later = build(select=" ".join(incremental["deferred"]))
    assert later["success"] and "marts.dim_customers" in later["datasets"]
    after_incremental = snapshot(warehouse)

    full = build(full_refresh=True)
    assert full["success"] and full["full_refresh"] == "asked"
    after_full = snapshot(warehouse)
    assert "identity" not in incremental  # ticket events do not reach the person records
    assert 0 < sum(incremental["counts"].values()) < sum(full["counts"].values()) * 0.6

    assert after_incremental.keys() == after_full.keys()
    for table, rows in after_full.items():
        assert after_incremental[table] == rows, table

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        comment = con.execute(
            "select ticket_id, body, comment_source from intermediate.int_ticket_comments__unioned "
            "where comment_id = ?",
            [NEW_COMMENT],
        ).fetchall()
        left = con.execute(
            "select count(*) from staging.stg_zendesk__ticket_child_events "
            "where ticket_event_id = ?",
            [relanded],
        ).fetchall()[0][0]
    finally:
        con.close()
    assert comment == [(ticket, "Still waiting for the refund.", "ticket_events")]
    assert left == 0  # the re-landed audit has no children now


def test_an_erasure_makes_the_next_build_refresh_fully(home_copy: Path) -> None:
    from cxloop.incremental import full_refresh_reason, record_incremental_build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    record_incremental_build(warehouse, "b1", "f1", None)
    assert full_refresh_reason(warehouse, "f1") is None
    assert "changed" in (full_refresh_reason(warehouse, "f2") or "")
    con = duckdb.connect(str(warehouse))
    try:
        from cxloop.tables import ERASURES, ensure_tables

        ensure_tables(con, [ERASURES])
        con.execute(
            f"insert into {ERASURES.qualified} values ('e1', now()::timestamp + interval 1 minute,"
            " 'h', 1, '{}')"
        )
    finally:
        con.close()
    assert "erased" in (full_refresh_reason(warehouse, "f1") or "")


def test_an_erasure_refreshes_its_own_build_before_it_is_logged(home_copy: Path) -> None:
    """erase deletes raw rows and writes tombstones, builds, and logs ops.erasures last: its
    build (and every build after a killed erasure) must not run incrementally."""
    from cxloop.incremental import full_refresh_reason, record_incremental_build
    from cxloop.tables import ERASURES, TOMBSTONES, ensure_tables

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    record_incremental_build(warehouse, "b1", "f1", None)
    con = duckdb.connect(str(warehouse))
    try:
        ensure_tables(con, [ERASURES, TOMBSTONES])
        con.execute(f"insert into {TOMBSTONES.qualified} values ('hash-1', 'email', 'e2')")
    finally:
        con.close()
    assert "erased" in (full_refresh_reason(warehouse, "f1") or "")  # not logged yet
    con = duckdb.connect(str(warehouse))
    try:  # logged before the next incremental build: that build may be incremental again
        con.execute(
            f"insert into {ERASURES.qualified} values "
            "('e2', now()::timestamp - interval 1 minute, 'h', 1, '{}')"
        )
    finally:
        con.close()
    record_incremental_build(warehouse, "b2", "f1", "a person was erased since the last build")
    assert full_refresh_reason(warehouse, "f1") is None


def test_rows_landed_behind_the_last_build_refresh_fully(home_copy: Path) -> None:
    """A landing stamped at or before the newest the last build saw (a clock set back, another
    loader) is one no watermark reads again: the next build refreshes fully, naming the table.
    A landing after it does not; nor does a table empty then and still empty."""
    from cxloop.incremental import full_refresh_reason, record_incremental_build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    record_incremental_build(warehouse, "b1", "f1", None)
    assert full_refresh_reason(warehouse, "f1") is None
    con = duckdb.connect(str(warehouse))
    try:
        [(newest,)] = con.execute("select max(_loaded_at) from raw.qualtrics__responses").fetchall()
        cursor = con.execute("select * from raw.qualtrics__responses limit 1")
        row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
        later = row | {"ResponseId": "R_handLater0001"}
        land(con, "qualtrics__responses", (later,), "qualtrics/later.csv")  # at LANDED_AT
    finally:
        con.close()
    assert full_refresh_reason(warehouse, "f1") is None
    record_incremental_build(warehouse, "b2", "f1", None)
    behind = row | {"ResponseId": "R_handBehind001"}
    con = duckdb.connect(str(warehouse))
    try:
        land(con, "qualtrics__responses", (behind,), "qualtrics/behind.csv", newest)
    finally:
        con.close()
    reason = full_refresh_reason(warehouse, "f1") or ""
    assert "landed at or before" in reason and "raw.qualtrics__responses" in reason, reason
    assert "raw.zendesk__ticket_events" not in reason
    record_incremental_build(warehouse, "b3", "f1", reason)  # the full build it caused
    assert full_refresh_reason(warehouse, "f1") is None


def land_survey_answers(warehouse: Path) -> tuple[str, str, str]:
    """Land three Qualtrics responses by hand (source-formats.md 3.x export columns): a new
    answer naming billing, an earlier answer re-exported with a new text (slow support), and an
    earlier answer re-exported unfinished (no longer counted). Returns their ResponseIds."""
    con = duckdb.connect(str(warehouse))
    try:
        columns = raw_columns(con, "qualtrics__responses")
        earlier = con.execute(
            "select * from raw.qualtrics__responses where \"Finished\" = '1' "
            "and trim(coalesce(open_text, '')) <> '' order by \"ResponseId\" limit 2"
        ).fetchall()
        changed, uncounted = (dict(zip(columns, row, strict=True)) for row in earlier)
        new = changed | {"ResponseId": "R_hand0000000001", "open_text": "The invoice was wrong"}
        rows = (
            new | {"language": "EN", "UserLanguage": "EN"},
            changed | {"open_text": "We waited days, support is slow", "language": "EN"},
            uncounted | {"Finished": "0", "Progress": "40"},
        )
        land(con, "qualtrics__responses", rows, "qualtrics/responses/hand.csv")
    finally:
        con.close()
    return new["ResponseId"], changed["ResponseId"], uncounted["ResponseId"]


def topics_of(warehouse: Path, response_ids: tuple[str, ...]) -> dict[str, list[str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select response_id, topic from intermediate.int_survey_response_topics__tagged "
            f"where response_id in ({', '.join('?' for _ in response_ids)}) order by 1, 2",
            list(response_ids),
        ).fetchall()
    finally:
        con.close()
    found: dict[str, list[str]] = {response_id: [] for response_id in response_ids}
    for response_id, topic in rows:
        found[response_id].append(topic)
    return found


def mark_one_answer(warehouse: Path, landed: tuple[str, ...]) -> tuple[str, str]:
    """Set the topic of one tagged answer the landing does not touch to 'marked': a run that
    tagged it again would undo that. Returns the answer and its true topic."""
    con = duckdb.connect(str(warehouse))
    try:
        response_id, topic = con.execute(
            "select response_id, any_value(topic) "
            "from intermediate.int_survey_response_topics__tagged "
            f"where response_id not in ({', '.join('?' for _ in landed)}) "
            "group by 1 having count(*) = 1 order by 1 limit 1",
            list(landed),
        ).fetchall()[0]
        con.execute(
            "update intermediate.int_survey_response_topics__tagged set topic = 'marked' "
            "where response_id = ?",
            [response_id],
        )
    finally:
        con.close()
    return response_id, topic


def unmark(warehouse: Path, response_id: str, topic: str) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "update intermediate.int_survey_response_topics__tagged set topic = ? "
            "where response_id = ?",
            [topic, response_id],
        )
    finally:
        con.close()


def test_incremental_topic_tagging_equals_full_refresh(
    home_copy: Path, prefect_harness: None
) -> None:
    """Topic tagging is incremental: after new, re-worded and no-longer-counted answers it
    equals a --full-refresh build, and only the new and re-worded answers were tagged."""
    from cxloop.build import VOICE_AND_SCORES
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    new, changed, uncounted = land_survey_answers(warehouse)
    before = topics_of(warehouse, (changed, uncounted))
    assert before[changed] != ["slow_support"] and before[uncounted]  # the hand rows change them
    untouched, topic = mark_one_answer(warehouse, (changed, uncounted))

    incremental = build(changed=["raw.qualtrics__responses"], defer=VOICE_AND_SCORES)
    assert incremental["success"] and incremental["full_refresh"] is None
    assert "intermediate.int_survey_response_topics__tagged" in incremental["datasets"]
    later = build(select=" ".join(incremental["deferred"]))
    assert later["success"]
    tagged = topics_of(warehouse, (new, changed, uncounted, untouched))
    # an answer whose text did not change was not tagged again: its marked topic stayed
    assert tagged == {
        new: ["billing"], changed: ["slow_support"], uncounted: [], untouched: ["marked"]
    }  # fmt: skip
    unmark(warehouse, untouched, topic)
    assert build(select="int_survey_response_topics__tagged+")["success"]
    assert_equals_full_refresh(warehouse)


def test_each_survey_source_has_its_own_watermark(home_copy: Path, prefect_harness: None) -> None:
    """A Typeform response landed (its first) with a _loaded_at older than every Qualtrics
    landing the union holds still reaches the union in an incremental build: the watermark is
    per source. Hand-written in the columns a Typeform webhook lands in (cxloop.sources.contracts:
    token, submitted_at ISO with Z, event_type form_response; source-formats.md 6)."""
    from cxloop.build import VOICE_AND_SCORES
    from cxloop.flows.build import build

    warehouse = home_copy / "warehouse" / "cx.duckdb"
    con = duckdb.connect(str(warehouse))
    try:
        oldest = con.execute(
            "select min(_loaded_at) from intermediate.int_survey_responses__unioned "
            "where source = 'qualtrics'"
        ).fetchall()[0][0]
        assert oldest is not None
        response = {
            "token": "tf-hand-0001", "survey_id": "nps-relationship", "survey_kind": "nps",
            "event_type": "form_response", "submitted_at": "2026-10-01T10:00:00Z",
            "email": "ana.pereira@example.org", "nps": "3", "language": "pt",
        }  # fmt: skip
        land(
            con,
            "typeform__responses",
            (response,),
            "typeform/hand.json",
            oldest - timedelta(days=1),
        )
    finally:
        con.close()

    incremental = build(changed=["raw.typeform__responses"], defer=VOICE_AND_SCORES)
    assert incremental["success"] and incremental["full_refresh"] is None
    assert "intermediate.int_survey_responses__unioned" in incremental["datasets"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        held = con.execute(
            "select source, response_id, nps_score, is_counted "
            "from intermediate.int_survey_responses__unioned where response_id = 'tf-hand-0001'"
        ).fetchall()
    finally:
        con.close()
    assert held == [("typeform", "tf-hand-0001", 3, True)]
