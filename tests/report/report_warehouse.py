"""A small warehouse written by hand for the CX report tests: only the columns the report
reads, with numbers small enough to work out by hand (expected values in test_cx_report.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMAS = ("intermediate", "marts", "ml")
# what the page shows for this warehouse: every section and every plot
SECTIONS = ("trends", "journey", "voice", "loop", "at-risk")
PLOTS = (
    "nps-trend",
    "csat-trend",
    "ces-trend",
    "journey",
    "topics",
    "sentiment",
    "loop-closure",
    "clv-at-risk",
    "experience-drivers",
)

# (date_day, segment_type, segment_value, responses, promoters, detractors)
NPS = [
    ("2026-09-10", "all", "all", 15, 11, 2),
    ("2026-09-20", "all", "all", 15, 9, 2),
    ("2026-10-05", "all", "all", 30, 9, 15),
    ("2026-09-10", "region", "EMEA", 10, 8, 1),
    ("2026-09-20", "region", "EMEA", 10, 7, 1),
    ("2026-10-05", "region", "EMEA", 20, 4, 12),
    ("2026-09-10", "region", "APAC", 5, 3, 1),
    ("2026-09-20", "region", "APAC", 5, 2, 1),
    ("2026-10-05", "region", "APAC", 10, 5, 3),
]
# (date_day, segment_type, segment_value, responses, satisfied)
CSAT = [
    ("2026-09-15", "all", "all", 25, 20),
    ("2026-10-15", "all", "all", 25, 10),
    ("2026-09-15", "region", "EMEA", 25, 20),
    ("2026-10-15", "region", "EMEA", 25, 10),
]
# (date_day, segment_type, segment_value, responses, ces_mean, ces_margin_of_error):
# September 6, 2, 7, 5 (s = sqrt(14/3)); October 7, 5 on one day and 4 on the next
CES = [
    ("2026-09-15", "all", "all", 4, 5.0, 1.96 * (14 / 3) ** 0.5 / 2),
    ("2026-10-15", "all", "all", 2, 6.0, 1.96 * 2**0.5 / 2**0.5),
    ("2026-10-16", "all", "all", 1, 4.0, None),
]
# (response_id, customer_id, responded_at, nps_score, nps_category, open_text, language)
RESPONSES = [
    (
        "d1",
        "c1",
        "2026-10-05 10:00",
        2,
        "detractor",
        "Support never answered. Mail me at jane.doe@example.com or +1 415 555 0100",
        "en",
    ),
    ("d2", "c2", "2026-10-04 09:00", 3, "detractor", "الدعم بطيء جدا ولم يحل مشكلتي", "ar"),
    ("d3", "c3", "2026-10-03 08:00", 5, "detractor", "پشتیبانی خیلی کند است و مشکل حل نشد", "fa"),
    ("d4", "c4", "2026-09-03 08:00", 4, "detractor", "Too expensive for what it does", "en"),
    ("d5", "c5", "2026-09-01 08:00", 1, "detractor", "Old complaint, the third in English", "en"),
    ("p1", "c6", "2026-10-02 08:00", 10, "promoter", "Great product", "en"),
    ("p2", "c7", "2026-10-01 08:00", 9, "promoter", None, "en"),
]
# (customer_id, touched_at, touchpoint_type)
TOUCHES = [
    ("c1", "2026-09-30 10:00", "ticket_opened"),
    ("c1", "2026-10-02 10:00", "agent_reply"),
    ("c2", "2026-09-24 09:00", "ticket_opened"),
    ("c6", "2026-08-20 08:00", "agent_reply"),  # 43 days before: outside the 30-day window
    ("c6", "2026-09-30 08:00", "opportunity_change"),
    ("c1", "2026-10-06 10:00", "playbook_email"),  # after the answer: not before it
]
LOOP = [
    # playbook, response_month, detractors, followed_up, loops_closed, avg hours,
    # followed up with a next response, avg change, not followed up with one, avg change
    ("detractor_followup", "2026-09-01", 4, 3, 2, 10.0, 2, 4.0, 1, 1.0),
    ("detractor_followup", "2026-10-01", 6, 3, 3, 20.0, 1, 6.0, 0, None),
]
ACCOUNTS = [
    # account_name, csm_user_id, csm_name, probability, band, drivers, arr, at risk, churned
    (
        "Acme",
        "u1",
        "Ana Csm",
        0.72,
        "high",
        '[{"feature": "tickets_open", "value": "4", "contribution": 0.3}]',
        12000,
        4530.18,
        False,
    ),
    ("Beta", "u2", "Bo Csm", 0.30, "medium", "[]", 7300, 1200.0, False),
    ("Gamma", "u1", "Ana Csm", 0.10, "low", "[]", 3650, 100.0, False),
    ("Delta", "u2", "Bo Csm", 0.90, "high", "[]", 0, 0.0, True),
]
CLV = [
    ("all", "all", 3, 3, 5830.18, 4530.18),
    ("csm", "u1", 2, 2, 4630.18, 4530.18),
    ("csm", "u2", 1, 1, 1200.0, 0.0),
]


def write_report_warehouse(path: Path, *, voice: bool = True) -> Path:
    """The hand-made warehouse; `voice` adds ml.text_sentiment and marts.mart_drivers."""
    con = duckdb.connect(str(path))
    try:
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create table intermediate.int_as_of__derived as "
            "select timestamp '2026-10-31 12:00:00' as as_of_at"
        )
        con.execute(
            "create table marts.mart_nps (date_day date, segment_type varchar, "
            "segment_value varchar, responses int, promoters int, detractors int)"
        )
        con.executemany("insert into marts.mart_nps values (?, ?, ?, ?, ?, ?)", NPS)
        con.execute(
            "create table marts.mart_csat (date_day date, segment_type varchar, "
            "segment_value varchar, responses int, satisfied int)"
        )
        con.executemany("insert into marts.mart_csat values (?, ?, ?, ?, ?)", CSAT)
        con.execute(
            "create table marts.mart_ces (date_day date, segment_type varchar, "
            "segment_value varchar, responses int, ces_mean double, ces_margin_of_error double)"
        )
        con.executemany("insert into marts.mart_ces values (?, ?, ?, ?, ?, ?)", CES)
        con.execute(
            "create table marts.fct_survey_responses (response_id varchar, customer_id varchar, "
            "responded_at timestamp, nps_score int, nps_category varchar, open_text varchar, "
            "language varchar, responded_date date generated always as "
            "(cast(responded_at as date)))"
        )
        con.executemany(
            "insert into marts.fct_survey_responses (response_id, customer_id, responded_at, "
            "nps_score, nps_category, open_text, language) values (?, ?, ?, ?, ?, ?, ?)",
            RESPONSES,
        )
        con.execute(
            "create table marts.fct_touchpoints "
            "(customer_id varchar, touched_at timestamp, touchpoint_type varchar)"
        )
        con.executemany("insert into marts.fct_touchpoints values (?, ?, ?)", TOUCHES)
        con.execute(
            "create table marts.mart_loop_closure (playbook varchar, response_month date, "
            "detractors int, followed_up int, loops_closed int, avg_hours_to_first_contact double, "
            "followed_up_with_next_response int, avg_nps_change_followed_up double, "
            "not_followed_up_with_next_response int, avg_nps_change_not_followed_up double)"
        )
        con.executemany(
            "insert into marts.mart_loop_closure values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", LOOP
        )
        con.execute(
            "create table marts.dim_accounts (account_name varchar, csm_user_id varchar, "
            "csm_name varchar, churn_probability double, churn_risk_band varchar, "
            "churn_top_drivers varchar, arr_amount double, clv_at_risk_amount double, "
            "is_churned boolean)"
        )
        con.executemany(
            "insert into marts.dim_accounts values (?, ?, ?, ?, ?, ?, ?, ?, ?)", ACCOUNTS
        )
        con.execute(
            "create table marts.mart_clv_at_risk (segment_type varchar, segment_value varchar, "
            "accounts int, scored_accounts int, clv_at_risk_amount double, "
            "high_risk_clv_at_risk_amount double)"
        )
        con.executemany("insert into marts.mart_clv_at_risk values (?, ?, ?, ?, ?, ?)", CLV)
        if voice:
            write_voice(con)
    finally:
        con.close()
    return path


def write_voice(con: duckdb.DuckDBPyConnection) -> None:
    """The h4/voice contract: ml.text_sentiment and marts.mart_drivers."""
    con.execute(
        "create table ml.text_sentiment (text_id varchar, text_kind varchar, source_id varchar, "
        "customer_id varchar, account_id varchar, written_at timestamp, language varchar, "
        "sentiment_score double, sentiment_label varchar, method varchar, model_version varchar)"
    )
    labels = {"d1": -0.8, "d2": -0.6, "d3": -0.7, "d4": 0.0, "d5": -0.2, "p1": 0.9}
    for source_id, score in labels.items():
        label = "negative" if score < -0.1 else "positive" if score > 0.1 else "neutral"
        con.execute(
            "insert into ml.text_sentiment values (?, 'survey_answer', ?, null, null, "
            "timestamp '2026-10-01', 'en', ?, ?, 'model', 'v1')",
            [f"t-{source_id}", source_id, score, label],
        )
    con.execute(
        "create table marts.mart_drivers (driver_kind varchar, driver varchar, n_mentions int, "
        "detractor_share double, promoter_share double, nps_with double, nps_without double, "
        "nps_impact double, nps_impact_ci_low double, nps_impact_ci_high double, "
        "churn_effect double, method varchar)"
    )
    con.executemany(
        "insert into marts.mart_drivers values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("topic", "slow_support", 3, 0.6, 0.0, -100, 20, -120, -160, -80, None, "keyword"),
            ("topic", "pricing", 1, 0.2, 0.0, -100, -10, -90, -150, -30, None, "keyword"),
            ("touchpoint", "ticket_opened", 2, 0.4, 0.0, -100, 0, -100, -150, -50, 0.1, "diff"),
            ("ticket_experience", "reopened", 1, 0.2, 0.0, -80, 0, -80, -140, -20, 0.2, "diff"),
        ],
    )
