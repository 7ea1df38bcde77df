"""A person's identifiers as salted hashes, and the one SQL test of "this row is theirs".

Identifiers are normalised and hashed with the masking salt of the BI snapshot
(`cxloop.publish.publish_salt`), under a kind (`email:a@b.com` is not `phone:...`), so the
erasure log and the tombstones never hold a person's e-mail, phone or id in clear. A row of a
raw table, a lake file, a pulled page or an export landed again belongs to an erased person
when one of its person columns (`PERSON_COLUMNS`) hashes to a tombstone, or when any of its
text holds a tombstoned e-mail address (`row_match_sql`). Names are never tombstones: two
people share names; a person's rows are found by their ids, e-mails and phones.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from cxloop.sqlnames import quoted

EMAIL_RE = r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+"  # on lower-cased text (RE2 syntax)
_EMAIL = re.compile(EMAIL_RE)

# raw table -> {column (lower case): identifier kind}; columns a table lacks are skipped.
# Accounts, opportunities, contracts and staff users are not a person's and have none.
PERSON_COLUMNS: dict[str, dict[str, str]] = {
    "salesforce__contact": {
        "id": "salesforce_contact",
        "email": "email",
        "phone": "phone",
        "mobilephone": "phone",
    },
    "hubspot__contacts": {
        "id": "hubspot_contact",
        "email": "email",
        "phone": "phone",
        "mobilephone": "phone",
    },
    # the contact's company links `cxloop pull` lands (v4 association answers)
    "hubspot__contact_companies": {"from_id": "hubspot_contact"},
    "zendesk__users": {"id": "zendesk_user", "email": "email", "phone": "phone"},
    "zendesk__tickets": {"id": "zendesk_ticket", "requester_id": "zendesk_user"},
    "zendesk__ticket_events": {"ticket_id": "zendesk_ticket"},
    "zendesk__ticket_comments": {"ticket_id": "zendesk_ticket", "author_id": "zendesk_user"},
    "zendesk__satisfaction_ratings": {
        "ticket_id": "zendesk_ticket",
        "requester_id": "zendesk_user",
    },
    "sendgrid__events": {"email": "email", "cxloop_action_id": "playbook_action"},
    "qualtrics__responses": {
        "responseid": "qualtrics_response",
        "recipientemail": "email",
        "contact_id": "salesforce_contact",
        "ticket_id": "zendesk_ticket",
    },
    "typeform__responses": {
        "token": "typeform_response",
        "email": "email",
        "phone": "phone",
        "contact_id": "salesforce_contact",
        "ticket_id": "zendesk_ticket",
    },
    "survey_csv__responses": {
        "response_id": "survey_csv_response",
        "email": "email",
        "phone": "phone",
        "contact_id": "salesforce_contact",
        "ticket_id": "zendesk_ticket",
    },
}

# the identity tables' `source` of a person record -> the kind of its source_record_id
RECORD_KINDS = {
    "salesforce": "salesforce_contact",
    "hubspot": "hubspot_contact",
    "zendesk": "zendesk_user",
    "qualtrics": "qualtrics_response",
    "typeform": "typeform_response",
    "survey_csv": "survey_csv_response",
}


def normalise(kind: str, value: object) -> str | None:
    """The form an identifier is hashed in: e-mails lower-cased, phones as digits, ids trimmed."""
    if value is None:
        return None
    text = str(value).strip()
    if kind == "email":
        text = text.lower()
    elif kind == "phone":
        text = re.sub(r"\D", "", text, flags=re.ASCII)
        return text if len(text) >= 7 else None
    return text or None


def identifier_hash(salt: str, kind: str, value: object) -> str | None:
    """sha256 of salt, kind and the normalised value (hex); None for an empty value."""
    norm = normalise(kind, value)
    if norm is None:
        return None
    return hashlib.sha256(f"{salt}:{kind}:{norm}".encode()).hexdigest()


def phone_variants(raw: object, e164: str | None = None) -> set[str]:
    """A phone's digit forms: as written, and E.164 with and without its country code."""
    out = {v for v in (normalise("phone", raw), normalise("phone", e164)) if v}
    if e164:
        try:
            import phonenumbers

            number = phonenumbers.parse(e164, None)
            national = normalise("phone", str(number.national_number))
            if national:
                out.add(national)
        except Exception:  # noqa: BLE001 - an unparsable phone keeps the forms above
            pass
    return out


def emails_in(text: str | None) -> set[str]:
    """Every e-mail address written in a text, lower-cased."""
    return set(m.group(0) for m in _EMAIL.finditer(text.lower())) if text else set()


def _hash_sql(kind: str, expr: str) -> str:
    return f"sha256(getvariable('cx_erase_salt') || ':{kind}:' || {expr})"


def _normalised_sql(kind: str, column: str) -> str:
    col = f"cast({quoted(column)} as varchar)"
    if kind == "email":
        return f"lower(trim({col}))"
    if kind == "phone":
        return f"regexp_replace({col}, '[^0-9]', '', 'g')"
    return f"trim({col})"


def row_match_sql(table: str, columns: Iterable[str], hashes: str = "_erasure_hashes") -> str:
    """A boolean SQL expression: the row of raw `table` (`<source>__<entity>`) is an erased
    person's. `columns`: the relation's columns; `hashes`: a relation with `identifier_hash`.

    The session variable `cx_erase_salt` must hold the salt (`set_salt`).
    """
    present = {c.lower(): c for c in columns}
    terms = [
        f"{_hash_sql(kind, _normalised_sql(kind, present[col]))} in "
        f"(select identifier_hash from {hashes})"
        for col, kind in PERSON_COLUMNS.get(table, {}).items()
        if col in present
    ]
    texts = [c for c in present.values() if not c.startswith("_")]
    if texts:
        found = " || ' ' || ".join(f"coalesce(cast({quoted(c)} as varchar), '')" for c in texts)
        terms.append(
            f"list_has_any(list_transform(regexp_extract_all(lower({found}), '{EMAIL_RE}'), "
            f"lambda x: {_hash_sql('email', 'x')}), "
            f"(select coalesce(list(identifier_hash), []) from {hashes}))"
        )
    return "coalesce(" + " or ".join(terms) + ", false)" if terms else "false"


def set_salt(con: object, salt: str) -> None:
    """Give a DuckDB connection the salt `row_match_sql` hashes with."""
    con.execute("set variable cx_erase_salt = ?", [salt])  # type: ignore[attr-defined]
