"""Quiet hours in each customer's own zone (dim_customers.time_zone), on a pinned clock.

The shipped detractor_followup playbook is quiet from 21:00 to 08:00 local time. Ana lives in
Los Angeles (UTC-8 until 2024-03-10 02:00 local, then UTC-7), Omar in Dubai (UTC+4, no DST), Sara
in Tehran (UTC+03:30, no DST since 2022). Olga has opted out and has no zone (UTC). Every local
time below is worked out by hand from those offsets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from cxloop.errors import CxloopError
from cxloop.flows.cli import app
from cxloop.flows.cli.common import parse_now

ROOT = Path(__file__).resolve().parents[2] / "playbooks"
ZONES = {"C1": "America/Los_Angeles", "C2": "Asia/Dubai", "C3": "Asia/Tehran"}
ANA, OMAR, SARA = "ana@acme.example", "omar@acme.example", "sara@globex.example"


def zoned_warehouse(path: Path) -> Path:
    """conftest.py's warehouse (the `warehouse` fixture) with the customers' zones set."""
    con = duckdb.connect(str(path))
    con.executemany(
        "update marts.dim_customers set time_zone = ? where customer_id = ?",
        [(zone, cid) for cid, zone in ZONES.items()],
    )
    con.close()
    return path


@pytest.fixture
def act_at(shipped, ctx, tmp_path) -> Callable[[Path, datetime], dict[str, Any]]:
    """Run the shipped detractor_followup on a warehouse at a pinned moment."""
    return lambda warehouse, now: shipped(
        warehouse, "detractor_followup", dataclasses.replace(ctx, now=now), tmp_path / "outbox"
    )


@pytest.fixture
def emailed(rows) -> Callable[[Path], set[str]]:
    """Who has been e-mailed (ledger rows sent)."""
    sql = "select recipient from ops.playbook_actions where channel = 'email' and status = 'sent'"
    return lambda warehouse: {r[0] for r in rows(warehouse, sql)}


def test_los_angeles_wakes_an_hour_earlier_in_utc_after_the_dst_change(
    warehouse, act_at, emailed
) -> None:
    warehouse = zoned_warehouse(warehouse)
    # Saturday 2024-03-09 15:30 UTC: LA 07:30 PST (quiet), Dubai 19:30, Tehran 19:00
    result = act_at(warehouse, datetime(2024, 3, 9, 15, 30, tzinfo=UTC))
    assert emailed(warehouse) == {OMAR, SARA}
    assert result["skipped"] == {"quiet_hours": 1}  # Ana; Olga is suppressed, not deferred
    assert result["suppressed"] == 1
    # Monday 2024-03-11 15:30 UTC, the same UTC time: LA 08:30 PDT (UTC-7), awake
    result = act_at(warehouse, datetime(2024, 3, 11, 15, 30, tzinfo=UTC))
    assert emailed(warehouse) == {ANA, OMAR, SARA}
    assert result["skipped"] == {} and result["sent"] == 2  # Ana's e-mail and callback


@pytest.mark.parametrize(
    ("now", "expected", "deferred"),
    [
        # Tehran 20:45 (+03:30) awake; Dubai 21:15 quiet; LA 10:15 PDT awake
        (datetime(2024, 6, 5, 17, 15, tzinfo=UTC), {ANA, SARA}, 1),
        # Tehran 21:15 quiet: a +03:00 zone would still be awake at 20:45
        (datetime(2024, 6, 5, 17, 45, tzinfo=UTC), {ANA}, 2),
        # Dubai 08:00 (quiet ends: awake), Tehran 07:30 quiet, LA 21:00 the evening before
        # (quiet starts: quiet)
        (datetime(2024, 6, 5, 4, 0, tzinfo=UTC), {OMAR}, 2),
    ],
)
def test_each_customer_is_mailed_in_their_own_waking_hours(
    warehouse, act_at, emailed, now: datetime, expected: set[str], deferred: int
) -> None:
    warehouse = zoned_warehouse(warehouse)
    result = act_at(warehouse, now)
    assert emailed(warehouse) == expected
    assert result["skipped"] == {"quiet_hours": deferred}


def test_an_unknown_zone_falls_back_to_utc(warehouse, act_at, emailed) -> None:
    warehouse = zoned_warehouse(warehouse)
    con = duckdb.connect(str(warehouse))
    con.execute("update marts.dim_customers set time_zone = null where customer_id = 'C1'")
    con.close()
    # 22:30 UTC: quiet in UTC (Ana); Dubai 02:30 and Tehran 02:00 quiet too
    result = act_at(warehouse, datetime(2024, 6, 5, 22, 30, tzinfo=UTC))
    assert emailed(warehouse) == set() and result["skipped"] == {"quiet_hours": 3}


def test_now_is_an_iso_timestamp_utc_when_it_has_no_offset() -> None:
    assert parse_now("2026-11-02T14:00:00Z") == datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert parse_now("2026-11-02T14:00") == datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert parse_now("2026-11-02T17:30:00+03:30") == datetime(2026, 11, 2, 14, tzinfo=UTC)
    assert parse_now(None) is None
    with pytest.raises(CxloopError, match="--now: expected an ISO 8601 timestamp"):
        parse_now("next tuesday")


@pytest.mark.parametrize("command", [["act"], ["run", "--sources", "."]])
def test_a_bad_now_is_one_line_and_exit_1(command: list[str], cx_home: Path) -> None:
    result = CliRunner().invoke(app, [*command, "--now", "tomorrow"])
    assert result.exit_code == 1, result.output
    assert "--now: expected an ISO 8601 timestamp" in result.output
