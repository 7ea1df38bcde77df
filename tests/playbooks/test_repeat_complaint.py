"""The repeat-complaint playbook: N tickets within M days alert the CSM once per run of tickets.

The shipped playbook with N = 3 (`min_tickets`), M = 14 (`within_days`), a 30-day cooldown and
a 7-day look-back, on the hand-made warehouse of conftest.py plus the tickets below. A window
of M days counts the tickets opened from M days before a ticket up to it (both ends included).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cxloop.act import check_playbook_params
from cxloop.config import ProjectConfig
from cxloop.errors import ConfigError
from cxloop.playbooks.spec import load_playbooks

ROOT = Path(__file__).resolve().parents[2] / "playbooks"

# (ticket, account, customer, opened, solved, status, priority, channel, rating, open)
ANA_TICKETS = [  # Ana (C1, Acme, CSM Carla); T1 (2024-05-30, open) is in conftest.py
    (
        "T10",
        "A1",
        "C1",
        "2024-05-20 09:00",
        "2024-05-21 09:00",
        "solved",
        "normal",
        "email",
        "bad",
        False,
    ),
    (
        "T11",
        "A1",
        "C1",
        "2024-05-27 09:00",
        "2024-05-28 09:00",
        "solved",
        "high",
        "web",
        None,
        False,
    ),
    ("T12", "A1", "C1", "2024-06-02 09:00", None, "open", "urgent", "email", None, True),
]
OMAR_TICKETS = [  # Omar (C2, Acme): two within 14 days, a third 24 days before the second
    (
        "T20",
        "A1",
        "C2",
        "2024-05-08 09:00",
        "2024-05-09 09:00",
        "solved",
        "low",
        "web",
        None,
        False,
    ),
    (
        "T21",
        "A1",
        "C2",
        "2024-05-25 09:00",
        "2024-05-26 09:00",
        "solved",
        "low",
        "web",
        None,
        False,
    ),
    (
        "T22",
        "A1",
        "C2",
        "2024-06-01 09:00",
        "2024-06-02 09:00",
        "solved",
        "low",
        "web",
        None,
        False,
    ),
]
PAUL_TICKETS = [  # Paul (C5, Globex): three in January, long before the 7-day look-back
    ("T30", "A2", "C5", "2024-01-02 09:00", None, "closed", "low", "email", None, False),
    ("T31", "A2", "C5", "2024-01-03 09:00", None, "closed", "low", "email", None, False),
    ("T32", "A2", "C5", "2024-01-04 09:00", None, "closed", "low", "email", None, False),
]
NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)


def add_tickets(warehouse: Path, rows: list[tuple[Any, ...]]) -> None:
    con = duckdb.connect(str(warehouse))
    con.executemany("insert into marts.fct_tickets values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()


@pytest.fixture
def act(shipped, ctx) -> Callable[..., dict[str, Any]]:
    """Run the shipped repeat_complaint, at NOW unless told, with config params if given."""

    def run(warehouse: Path, outbox: Path, now: datetime = NOW, **params: Any) -> dict:
        config = {"repeat_complaint": params} if params else {}
        moment = dataclasses.replace(ctx, now=now, playbook_params=config)
        return shipped(warehouse, "repeat_complaint", moment, outbox)

    return run


@pytest.fixture
def item_keys(rows) -> Callable[[Path], list[str]]:
    """The item keys of every repeat_complaint digest, in planning order."""
    sql = (
        "select payload from ops.playbook_actions where playbook = 'repeat_complaint' "
        "order by planned_at, action_key"
    )
    return lambda warehouse: [
        key for (payload,) in rows(warehouse, sql) for key in json.loads(payload)["item_keys"]
    ]


def texts(outbox: Path) -> list[str]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        .get_body(("plain",))
        .get_content()
        for p in sorted(outbox.glob("*.eml"))
    ]


@pytest.fixture
def tickets(warehouse: Path) -> Path:
    add_tickets(warehouse, ANA_TICKETS + OMAR_TICKETS + PAUL_TICKETS)
    return warehouse


def test_three_tickets_in_fourteen_days_alert_the_csm_with_the_history(
    tickets: Path, act, item_keys, tmp_path
) -> None:
    result = act(tickets, tmp_path / "outbox")
    # Ana: T10 05-20, T11 05-27, T1 05-30 -> 3 within [05-16, 05-30]: T1 crosses the line.
    # Omar: T21 and T22 only (T20 is 17 days before T21: [05-11, 05-25] holds T21 alone).
    # Paul: a run in January, none of it in the 7 days before 06-05.
    assert result["sent"] == 1
    assert item_keys(tickets) == ["repeat_complaint:customer:C1:T1"]
    (text,) = texts(tmp_path / "outbox")
    assert "Hi Carla CSM," in text
    assert "Ana Silva at Acme & Sons: 4 tickets within 14 days, 2 still open" in (text)
    history = [line.strip() for line in text.splitlines() if line.strip().startswith("- #")]
    assert history == [
        "- #T10 opened 2024-05-20, solved, priority normal, via email, rated bad",
        "- #T11 opened 2024-05-27, solved, priority high, via web",
        "- #T1 opened 2024-05-30, open, priority high, via email",
        "- #T12 opened 2024-06-02, open, priority urgent, via email",
    ]
    assert "Next step: agree with support who owns the open tickets" in text


def test_the_same_run_of_tickets_alerts_once_a_new_run_again(
    tickets: Path, act, item_keys, tmp_path
) -> None:
    act(tickets, tmp_path / "outbox")
    # 06-05: a fifth ticket, 3 days after T12: the same run (within the 30-day cooldown)
    add_tickets(
        tickets,
        [("T13", "A1", "C1", "2024-06-05 10:00", None, "open", "high", "chat", None, True)],
    )
    assert act(tickets, tmp_path / "outbox")["sent"] == 0
    # July: three more; T42 (07-25) qualifies 50 days after T13, the last qualifying ticket
    add_tickets(
        tickets,
        [
            ("T40", "A1", "C1", "2024-07-20 09:00", None, "open", "low", "web", None, True),
            ("T41", "A1", "C1", "2024-07-22 09:00", None, "open", "low", "web", None, True),
            ("T42", "A1", "C1", "2024-07-25 09:00", None, "open", "low", "web", None, True),
        ],
    )
    july = datetime(2024, 7, 26, 14, 0, tzinfo=UTC)
    assert act(tickets, tmp_path / "outbox", now=july)["sent"] == 1
    assert item_keys(tickets) == [
        "repeat_complaint:customer:C1:T1",
        "repeat_complaint:customer:C1:T42",
    ]


def test_n_m_and_scope_come_from_the_config(tickets: Path, act, item_keys, tmp_path) -> None:
    # N = 2: Omar's T21 (05-25) and T22 (06-01) now count too; Ana crosses at T11 (05-27)
    act(tickets, tmp_path / "a", min_tickets=2)
    assert sorted(item_keys(tickets)) == [
        "repeat_complaint:customer:C1:T11",
        "repeat_complaint:customer:C2:T22",
    ]


def test_account_scope_counts_every_ticket_of_the_account(
    warehouse: Path, act, item_keys, tmp_path
) -> None:
    # Acme (A1): Ana's T10 05-20, Omar's T21 05-25, Ana's T11 05-27 -> 3 within 14 days at T11
    add_tickets(warehouse, [ANA_TICKETS[0], OMAR_TICKETS[1], ANA_TICKETS[1]])
    result = act(warehouse, tmp_path / "outbox", scope="account")
    assert result["sent"] == 1
    assert item_keys(warehouse) == ["repeat_complaint:account:A1:T11"]
    (text,) = texts(tmp_path / "outbox")
    assert "Acme & Sons (the whole account): 4 tickets within 14 days" in text  # + T1 05-30


def test_a_config_parameter_the_playbook_lacks_names_the_key() -> None:
    config = ProjectConfig(sources={}, playbooks={"params": {"repeat_complaint": {"n": 4}}})
    with pytest.raises(ConfigError, match=r"key 'playbooks.params.repeat_complaint.n'"):
        check_playbook_params(config, load_playbooks(ROOT, ["repeat_complaint"]))
