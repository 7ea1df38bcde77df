"""Small hand-made marts in a real DuckDB file (gate open), shared by playbook and deploy tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from gate_state import mark_checked

# 2024-06-05 is a Wednesday; 14:00 UTC is outside the playbooks' quiet hours in UTC.
NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)

MARTS_DDL = """
create schema if not exists marts;
create schema if not exists ml;
create schema if not exists ops;
create table marts.dim_accounts (
    account_id varchar, account_name varchar, csm_name varchar, csm_email varchar,
    csm_time_zone varchar, is_churned boolean, clv_at_risk_amount double);
create table marts.dim_customers (
    customer_id varchar, account_id varchar, email varchar, first_name varchar,
    full_name varchar, language varchar, has_opted_out_of_email boolean, time_zone varchar);
create table marts.fct_survey_responses (
    response_id varchar, customer_id varchar, account_id varchar, nps_score integer,
    nps_category varchar, language varchar, respondent_email varchar,
    responded_at timestamp, open_text varchar);
create table marts.fct_tickets (
    ticket_id varchar, account_id varchar, customer_id varchar, created_at timestamp,
    solved_at timestamp, status varchar, priority varchar, channel varchar,
    satisfaction_score varchar, is_open boolean);
create table ml.churn_scores (
    account_id varchar, scored_at timestamp, model_version varchar,
    churn_probability double, risk_band varchar, top_drivers varchar);
"""

ACCOUNTS = [
    ("A1", "Acme & Sons", "Carla CSM", "carla@vendor.example", "Europe/Berlin", False),
    ("A2", "Globex", "Dan CSM", "dan@vendor.example", "America/New_York", False),
]
CUSTOMERS = [
    ("C1", "A1", "ana@acme.example", "Ana", "Ana Silva", "en", False),
    ("C2", "A1", "omar@acme.example", "عمر", "عمر حسن", "ar", False),
    ("C3", "A2", "sara@globex.example", "سارا", "سارا رضایی", "fa", False),
    ("C4", "A2", "olga@globex.example", "Olga", "Olga Ivanova", "ru", True),
    ("C5", "A2", "paul@globex.example", "Paul", "Paul Meyer", "en", False),
]
RESPONSES = [
    (
        "R1",
        "C1",
        "A1",
        3,
        "detractor",
        "en",
        "ana@acme.example",
        "2024-06-04 10:00",
        "Slow <b>support</b>",
    ),
    ("R2", "C2", "A1", 5, "detractor", "ar", "omar@acme.example", "2024-06-04 11:00", None),
    ("R3", "C3", "A2", 6, "detractor", "fa", "sara@globex.example", "2024-06-03 09:00", "خیلی کند"),
    ("R4", "C4", "A2", 2, "detractor", "ru", "olga@globex.example", "2024-06-03 12:00", None),
    ("R5", "C5", "A2", 10, "promoter", "en", "paul@globex.example", "2024-06-04 12:00", "Great"),
    ("R0", "C5", "A2", 1, "detractor", "en", "paul@globex.example", "2024-01-01 12:00", "old"),
]

TICKETS = [
    ("T1", "A1", "C1", "2024-05-30 09:00", None, "open", "high", "email", None, True),
    (
        "T2",
        "A1",
        "C2",
        "2024-04-02 10:00",
        "2024-04-03 10:00",
        "solved",
        "normal",
        "web",
        "good",
        False,
    ),
    (
        "T3",
        "A2",
        "C5",
        "2024-03-01 10:00",
        "2024-03-02 10:00",
        "closed",
        "low",
        "email",
        None,
        False,
    ),
]

# top_drivers as scoring writes them: [{feature, value, contribution}], largest first
A1_DRIVERS = (
    '[{"feature": "tickets_90d", "value": 5, "contribution": 0.2}, '
    '{"feature": "avg_first_reply_minutes_90d", "value": 270.0, "contribution": 0.1}, '
    '{"feature": "nps_change", "value": -4, "contribution": 0.05}]'
)
CHURN_SCORES = [
    (
        "A1",
        "2024-05-01 03:00",
        0.30,
        "medium",
        '[{"feature": "tickets_90d", "value": 2, "contribution": 0.1}]',
    ),
    ("A1", "2024-06-01 03:00", 0.72, "high", A1_DRIVERS),
    ("A2", "2024-05-01 03:00", 0.10, "low", "[]"),
    (
        "A2",
        "2024-06-01 03:00",
        0.35,
        "medium",
        '[{"feature": "days_to_renewal", "value": 45, "contribution": 0.12}]',
    ),
]


def build_warehouse(
    path: Path, responses: list[tuple[Any, ...]] | None = None, *, checked: bool = True
) -> Path:
    """A real DuckDB file with tiny marts, tickets and churn scores (cleared by the gate)."""
    con = duckdb.connect(str(path))
    con.execute(MARTS_DDL)
    con.executemany("insert into marts.dim_accounts values (?, ?, ?, ?, ?, ?, null)", ACCOUNTS)
    con.executemany(  # time zones unknown (null: the playbooks' default, UTC)
        "insert into marts.dim_customers values (?, ?, ?, ?, ?, ?, ?, null)", CUSTOMERS
    )
    con.executemany(
        "insert into marts.fct_survey_responses values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        RESPONSES if responses is None else responses,
    )
    con.executemany(
        "insert into marts.fct_tickets values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        TICKETS,
    )
    con.executemany(
        "insert into ml.churn_scores values (?, ?, 'v1', ?, ?, ?)",
        CHURN_SCORES,
    )
    con.close()
    if checked:
        mark_checked(path)
    return path
