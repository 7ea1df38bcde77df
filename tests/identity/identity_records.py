"""Builders for hand-written person records (imported by the identity tests and conftest)."""

from __future__ import annotations

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
