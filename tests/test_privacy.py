"""What is personal (cxloop.privacy): column rules and open-text redaction, worked by hand."""

from __future__ import annotations

import sys
import unicodedata

import duckdb
import pytest

from cxloop.privacy import KEPT_BY_DECISION, MAY_REDACT, RULES, classify, redact, redact_sql


@pytest.mark.parametrize(
    ("column", "treatment"),
    [
        ("email", "hash"),
        ("email_as_recorded", "hash"),
        ("respondent_email", "hash"),
        ("csm_email", "hash"),
        ("phone_e164", "hash"),
        ("first_name", "hash"),
        ("last_name", "hash"),
        ("full_name", "hash"),
        ("first_name_latin", "hash"),
        ("csm_name", "staff_name"),
        ("open_text", "redact"),
        ("comment", "redact"),
        ("account_name", "keep"),  # a company, not a person
        ("csm_user_id", "keep"),
        ("customer_id", "keep"),
        ("nps_score", "keep"),
    ],
)
def test_columns_are_classified_by_name(column: str, treatment: str) -> None:
    assert classify(column) == treatment


def test_the_time_zone_is_kept_in_clear_by_a_recorded_decision() -> None:
    """dim_customers.time_zone(_source): published in clear on purpose, with a reason, and a
    broader rule added later would not mask them silently (docs/security.md "Masking")."""
    assert set(KEPT_BY_DECISION) >= {"time_zone", "time_zone_source"}
    assert all(reason for reason in KEPT_BY_DECISION.values())
    assert classify("time_zone") == classify("time_zone_source") == "keep"
    assert RULES[0] == ("keep", tuple(KEPT_BY_DECISION))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Call me on +49 30 1234567 or write to ana.silva@acme.example",
            "Call me on [phone] or write to [email]",
        ),
        ("US number (415) 555-0132, thanks", "US number [phone], thanks"),
        ("Charged twice on 4111 1111 1111 1111!", "Charged twice on [card]!"),
        ("card 5500-0000-0000-0004 expired", "card [card] expired"),
        # Persian digits, Persian text: "my number is 0912 345 6789"
        ("شماره من ۰۹۱۲ ۳۴۵ ۶۷۸۹ است", "شماره من [phone] است"),
        # Arabic-Indic digits: "call me 0501234567"
        ("اتصل بي ٠٥٠١٢٣٤٥٦٧ من فضلك", "اتصل بي [phone] من فضلك"),
        ("مراسلتي على omar@acme.example", "مراسلتي على [email]"),
        # kept: dates, short numbers, prices, ordinary text
        (
            "Since 2024-06-05 ticket 4521 costs 99.90 EUR",
            "Since 2024-06-05 ticket 4521 costs 99.90 EUR",
        ),
        ("Great support, thanks!", "Great support, thanks!"),
    ],
)
def test_open_text_is_redacted_in_any_script(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_null_stays_null() -> None:
    assert redact(None) is None


def test_sql_sends_every_text_redact_could_change_to_it() -> None:
    """The publish's SQL skips the Python call only for texts without "@" or a digit: every
    Unicode decimal digit Python's `\\d` matches, in any script, must reach `redact`."""
    digits = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Nd"]
    texts = [
        *(f"ok {d} ok" for d in digits),
        "write to ana@acme.example",
        "اتصل بي ٠٥٠١٢٣٤٥٦٧ من فضلك",  # Arabic-Indic digits: a phone, redacted through SQL
        "Great support, thanks!",
        "خدمة ممتازة، شكراً",
        "line one\nline two\t😀 — “quoted” (fine)",
        None,
    ]
    con = duckdb.connect()
    con.create_function("cx_redact", redact, ["VARCHAR"], "VARCHAR")
    con.execute("create table t (i integer, open_text varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(texts)))
    sql = f"select {redact_sql('open_text', 'cx_redact')}, regexp_matches(open_text, ?) from t"
    rows = con.execute(sql + " order by i", [MAY_REDACT]).fetchall()
    assert len(rows) == len(texts) == len(digits) + 6
    sent = [bool(to_python) for _, to_python in rows]
    assert all(sent[: len(digits) + 2])  # every digit, the e-mail, the phone
    assert sent[len(digits) + 2 : len(digits) + 5] == [False, False, False]  # plain text
    assert [value for value, _ in rows] == [redact(t) for t in texts]
    assert rows[len(digits) + 1][0] == "اتصل بي [phone] من فضلك"
