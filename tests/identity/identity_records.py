"""Builders for hand-written person records (imported by the identity tests and conftest)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

COLUMNS = [
    "source", "source_record_id", "record_at", "email_raw", "email_normalized", "is_email_valid",
    "phone_raw", "mobile_raw", "account_phone", "first_name", "last_name",
    "explicit_contact_id", "explicit_zendesk_user_id", "account_hint",
]  # fmt: skip
ACME_PHONE = "+966115840910"  # the company switchboard, shared by contacts


def record(source: str, record_id: str, **fields: object) -> dict[str, object]:
    """One person record; e-mail normalized the way the dbt model does (lower/trim)."""
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    row.update(source=source, source_record_id=record_id, record_at=pd.Timestamp("2026-01-01"))
    row.update(fields)
    email = row["email_raw"]
    if email is not None:
        norm = str(email).strip().lower()
        valid = "@" in norm and "." in norm.split("@")[-1] and " " not in norm
        row["email_normalized"] = norm if valid else None
        row["is_email_valid"] = valid
    else:
        row["is_email_valid"] = False
    return row


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Records as the identity step reads them."""
    return pd.DataFrame(rows, columns=COLUMNS)


FIRST = ["Sara", "Omar", "Lena", "David", "Mina", "Yusuf", "Anna", "Reza", "Julia", "Hamid"]
LAST = ["Jones", "Haddad", "Karimi", "Novak", "Silva", "Tanaka", "Moreau", "Rossi", "Berg", "Khan"]


def many_records(people: int, start: int = 0) -> pd.DataFrame:
    """`people` CRM contacts (numbered from `start`) spread over 50 accounts, every third one
    also a helpdesk user with a personal e-mail: enough records for Splink to train on
    (splink_match.MIN_TRAINING_RECORDS), with names shared within accounts for its EM."""
    rows = []
    for n in range(start, start + people):
        first, last = FIRST[n % 10], LAST[(n // 10) % 10]
        account = f"001{n % 50:012d}AAA"
        rows.append(
            record("salesforce", f"003{n:012d}AAA", email_raw=f"{first}.{last}{n}@a{n % 50}.com",
                   first_name=first, last_name=last, account_hint=account)
        )  # fmt: skip
        if n % 3 == 0:
            rows.append(
                record("zendesk", str(360000000000 + n), email_raw=f"{first}{last}{n}@gmail.com",
                       first_name=first, last_name=last, account_hint=account)
            )  # fmt: skip
    return frame(rows)


def write_person_records(warehouse: Path, records: pd.DataFrame) -> None:
    """Stand in for dbt phase 1: the person-records table with the model's columns."""
    con = duckdb.connect(str(warehouse))
    con.execute("create schema if not exists intermediate")
    con.register("records", records)
    con.execute(
        "create or replace table intermediate.int_person_records__unioned as select * from records"
    )
    con.close()
