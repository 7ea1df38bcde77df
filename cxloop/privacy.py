"""What is personal, decided in one place: column-name patterns, and open-text redaction.

Every published column is classified by its name (`classify`): a person's identifiers and
names are replaced by a salted hash (joins still work), a staff member's name likewise unless
`publish.show_csm_names` is set, and open text has e-mails, card-like numbers and phone
numbers replaced by `[email]`, `[card]`, `[phone]` in any script (`\\d` is any Unicode digit:
Arabic-Indic and Persian digits too). A new mart column named like these is masked without
anyone listing it.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Literal

Treatment = Literal["hash", "staff_name", "redact", "keep"]

# Columns about a person published in clear on purpose, each with the reason (docs/security.md
# "Masking"). They come first in RULES, so a broader pattern added later does not change them
# without this list being edited.
KEPT_BY_DECISION: dict[str, str] = {
    "time_zone": "an IANA zone (e.g. Europe/Berlin): shared by millions, mostly inferred from "
    "country or language; BI needs it for local-hour analyses (quiet hours, send times)",
    "time_zone_source": "which source gave the zone (zendesk, contact_country, ...): no value "
    "of the person",
}

# Order matters: the first matching rule decides (lower-case column names).
RULES: tuple[tuple[Treatment, tuple[str, ...]], ...] = (
    ("keep", tuple(KEPT_BY_DECISION)),
    ("staff_name", ("csm_name", "owner_name", "assignee_name", "agent_name")),
    (
        "hash",
        (
            "*email*",
            "*phone*",
            "recipient*",
            "first_name*",
            "last_name*",
            "full_name*",
            "*_first_name",
            "*_last_name",
            "*_full_name",
            "respondent_name",
            "requester_name",
            "callback_week_id",  # a hash of the owner's e-mail and week: salted like one
            "text_sha256",  # of a customer's text: a short one ("ok") could be guessed
        ),
    ),
    ("redact", ("open_text", "*comment*", "subject", "description", "*_text", "body")),
)

EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# 13-19 digits, optionally grouped by spaces or hyphens (payment card numbers)
CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
# 7-15 digits with the separators phone numbers are written with; a leading +, 00 or (
PHONE = re.compile(r"(?<![\d+(])(?:\+|00|\()?\d(?:[ ().\-\u00a0]{0,2}\d){6,14}(?!\d)")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# SQL (RE2): the texts `redact` could change. It needs an "@" or a digit; a text of letters,
# marks, separators, punctuation, symbols and white space only, without "@", holds neither,
# so SQL returns it as it is without a call into Python. The class lists what cannot be a
# digit rather than the digits, so a digit RE2's Unicode tables do not know still goes to
# `redact` (tests/test_privacy.py checks every Nd character Python knows).
MAY_REDACT = r"@|[^\p{L}\p{M}\p{Z}\p{P}\p{S}\s]"


def redact_sql(column: str, function: str) -> str:
    """SQL redacting the text column `column` (quoted) with `function`, the `redact` UDF,
    called only on the texts it could change (MAY_REDACT)."""
    may_change = f"regexp_matches({column}, '{MAY_REDACT}')"
    return f"case when {may_change} then {function}({column}) else {column} end"


def classify(column: str) -> Treatment:
    """How a published column named `column` is treated."""
    name = column.lower()
    for treatment, patterns in RULES:
        if any(fnmatchcase(name, p) for p in patterns):
            return treatment
    return "keep"


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if ISO_DATE.fullmatch(text) else "[phone]"


def redact(text: str | None) -> str | None:
    """Open text with e-mail addresses, card-like numbers and phone numbers replaced."""
    if text is None:
        return None
    text = EMAIL.sub("[email]", text)
    text = CARD.sub("[card]", text)
    return PHONE.sub(_phone, text)
