"""Zendesk reply metrics from whichever export a company has, checked after ingest + build.

The fixture (tests/fixtures/zendesk_comments, written by hand from Zendesk's API docs) has:
ticket 2001 with per-ticket comments only (two offset pages: an internal note, a reply by an
agent since downgraded and deleted); ticket 2002 in both exports (a voice comment in each, an
internal note only in the comments export, the solve in the ticket events); ticket 2004 with
ticket events only; ticket 2003 deleted (status `deleted` in its later export) with comments,
events and a bad CSAT rating; a deleted end-user (603) and a deleted organization (89).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from cxloop.build import run_dbt_build
from cxloop.flows.ingest import ingest as ingest_sources

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk_comments"
Query = Callable[[str], list[tuple]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    """CXLOOP_HOME after ingest of the fixture folder and the real two-phase build."""
    home = tmp_path_factory.mktemp("zendesk_comments_home")
    sources = home / "sources"
    shutil.copytree(FIXTURE, sources)
    previous = {k: os.environ.get(k) for k in ("CXLOOP_HOME", "CXLOOP_CONFIG")}
    os.environ["CXLOOP_HOME"] = str(home)
    os.environ["CXLOOP_CONFIG"] = str(sources / "cxloop.yaml")
    try:
        warehouse = home / "warehouse" / "cx.duckdb"
        report = ingest_sources(sources, warehouse=warehouse, lake_dir=home / "lake")
        assert report["entities"]["zendesk.ticket_comments"]["landed"] == 11
        from cxloop.flows.build import build

        assert build()["success"]
        yield home
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def query(built: Path) -> Query:
    def run(sql: str) -> list[tuple]:
        con = duckdb.connect(str(built / "warehouse" / "cx.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


def test_reply_metrics_per_ticket_whichever_export(query: Query) -> None:
    rows = query(
        "select ticket_id, status, strftime(first_reply_at, '%H:%M'), "
        "first_reply_time_calendar_minutes, count_agent_replies, "
        "full_resolution_calendar_minutes, is_one_touch_resolution, satisfaction_score, is_open "
        "from marts.fct_tickets order by ticket_id"
    )
    assert rows == [
        # comments only: 08:00 -> 08:45 by the deleted agent; 810005 is the second reply;
        # 810002 is an internal note; no status events, so no solve time
        (2001, "solved", "08:45", 45, 2, None, False, None, False),
        # both exports: the voice call at 10:30 counts once; solved at 11:00 from the events
        (2002, "solved", "10:30", 90, 1, 120, True, "good", False),
        # ticket events only
        (2004, "open", "12:10", 10, 1, None, False, None, True),
    ]


def test_touches_per_ticket(query: Query) -> None:
    rows = query(
        "select touchpoint_id, channel from marts.fct_touchpoints "
        "where source = 'zendesk' order by touchpoint_id"
    )
    assert rows == [
        ("agent_reply:zendesk:810003", "email"),
        ("agent_reply:zendesk:810005", "email"),
        ("agent_reply:zendesk:840002", "web"),
        ("agent_reply:zendesk:850011", "chat"),
        ("internal_note:zendesk:810002", "internal"),
        ("internal_note:zendesk:840003", "internal"),
        ("ticket_opened:zendesk:2001", "email"),
        ("ticket_opened:zendesk:2002", "web"),
        ("ticket_opened:zendesk:2004", "chat"),
    ]


def test_deleted_ticket_counts_nowhere(query: Query) -> None:
    assert query("select count(*) from raw.zendesk__tickets where id = '2003'") == [(2,)]
    assert query("select count(*) from marts.fct_tickets where ticket_id = 2003") == [(0,)]
    # its bad rating is not in the KPIs: three live tickets, one rated, and good
    assert query(
        "select sum(tickets), sum(rated_tickets), sum(good_rated_tickets), sum(replied_tickets) "
        "from marts.mart_ticket_kpis where segment_type = 'all'"
    ) == [(3, 1, 1, 3)]


def test_deleted_people_and_organizations_are_not_live(query: Query) -> None:
    people = query(
        "select source_record_id from marts.customer_identity_map "
        "where source = 'zendesk' order by source_record_id"
    )
    assert people == [("601",), ("602",)]  # not the deleted 603, not the agents
    assert query(
        "select zendesk_user_id, tickets_total, last_touch_type from marts.dim_customers "
        "where zendesk_user_id is not null order by zendesk_user_id"
    ) == [(601, 2, "agent_reply"), (602, 1, "agent_reply")]
    assert query("select organization_id from staging.stg_zendesk__organizations") == [(88,)]


def test_comment_unit_tests_pass(built: Path) -> None:
    """The dbt unit tests of the comment models, on the warehouse built above."""
    warehouse = built / "warehouse" / "cx.duckdb"
    report = run_dbt_build(
        [
            "test",
            "--resource-type",
            "unit_test",
            "--select",
            "int_ticket_comments__unioned int_ticket_events__classified",
        ],
        warehouse,
        built,
        None,
        "test-run",
    )
    assert report.success and report.counts == {"pass": 2}


def test_customer_comments_become_voice_texts(query: Query) -> None:
    """Public comments by end-users who never were agents, on tickets that count, once each:
    not the agents' replies or notes (9101, 9102 who was an agent before), not deleted 2003."""
    rows = query(
        "select source_id, text from ml.voice_texts where text_kind = 'ticket_comment' "
        "order by source_id"
    )
    assert rows == [
        ("810001", "The April invoice has no PDF."),
        ("810004", "Still nothing here."),
        ("840001", "Login fails since this morning."),  # in both exports, once
        ("850001", "Can I export reports to CSV?"),  # ticket events export only
    ]
