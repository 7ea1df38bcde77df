"""Field normalization for identity resolution: names to a Latin key, phones to E.164, and
the comparison columns of each person record (`prepare`) that every later stage reads.

The name key is a small, documented romanization (docs/identity.md): Arabic/Persian script
is mapped letter by letter to Latin consonants, Latin spellings are folded the same way
(article "al-"/"el-" stripped, vowels and doubled letters collapsed, a few digraph
equivalences), so "Mohammed", "Muhammad" and "محمد" all give "mhmd".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import pandas as pd
import phonenumbers

T = TypeVar("T")

# Arabic and Persian letters -> Latin consonant (empty: a vowel, weak letter, ayn or hamza).
_SCRIPT = {
    "ا": "", "أ": "", "إ": "", "آ": "", "ى": "", "ي": "", "ی": "", "و": "", "ؤ": "",
    "ئ": "", "ع": "", "ء": "", "ة": "", "ب": "b", "ت": "t", "ث": "t", "ج": "j", "ح": "h",
    "خ": "k", "د": "d", "ذ": "z", "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s",
    "ض": "z", "ط": "t", "ظ": "z", "غ": "k", "ف": "f", "ق": "k", "ك": "k", "ک": "k",
    "گ": "g", "ل": "l", "م": "m", "ن": "n", "ه": "h", "پ": "p", "چ": "sh", "ژ": "z",
}  # fmt: skip
# Latin spelling variants folded before vowels are dropped (order matters).
_DIGRAPHS = (("kh", "k"), ("gh", "k"), ("ch", "sh"), ("ph", "f"), ("th", "t"), ("zh", "z"),
             ("dh", "d"), ("q", "k"), ("c", "k"))  # fmt: skip
_VOWELS = re.compile(r"[aeiouyw]")
_ARTICLE = re.compile(r"^(?:al|el)[-\s'’]+|^(?:al|el)(?=[^aeiouy\W][a-z]{3,})")
_ARABIC_ARTICLE = "ال"
_HAS_SCRIPT = re.compile(r"[\u0600-\u06ff]")


def _text(value: object) -> str | None:
    """Stripped text, or None for None/NaN/blank (pandas hands over NaN for missing)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _ascii_fold(text: str) -> str:
    """Lower case without diacritics (é -> e)."""
    if text.isascii():  # NFKD leaves ASCII as it is and it has no combining marks
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _romanize_script(token: str) -> str:
    """An Arabic/Persian-script token as Latin consonants; the article ال is dropped."""
    if token.startswith(_ARABIC_ARTICLE) and len(token) > 3:
        token = token[len(_ARABIC_ARTICLE) :]
    return "".join(_SCRIPT.get(ch, "") for ch in token)


def _fold_latin(token: str) -> str:
    """A Latin token as its consonant skeleton: article, digraphs, final -h, vowels, doubles."""
    token = _ARTICLE.sub("", token)
    token = re.sub(r"[^a-z]", "", token)
    for old, new in _DIGRAPHS:
        token = token.replace(old, new)
    token = re.sub(r"(?<=[aeiouy])h$", "", token)  # Fatemeh/Fateme, Saleh/Salih
    return _VOWELS.sub("", token)


def name_key(name: object) -> str | None:
    """The transliteration-insensitive key of a (first or last) name; None when empty."""
    text = _text(name)
    if text is None:
        return None
    parts = []
    for token in re.split(r"\s+", text):
        if _HAS_SCRIPT.search(token):
            # a final ه/ح is dropped as Latin drops a final vowel + h (فاطمه Fatemeh, صالح Saleh)
            latin = _romanize_script(token[:-1] if token[-1] in "هح" else token)
        else:
            latin = _fold_latin(_ascii_fold(token))
        parts.append(latin)
    key = re.sub(r"(.)\1+", r"\1", "".join(parts))
    return key or None


def name_latin(name: object) -> str | None:
    """A readable Latin form: script letters romanized, Latin kept as typed (for display)."""
    text = _text(name)
    if text is None:
        return None
    if not _HAS_SCRIPT.search(text):
        return text
    return " ".join(_romanize_script(t) or t for t in text.split()).strip() or None


def email_local_key(email: object) -> str | None:
    """Letters of an e-mail's local part (`Ali.Khan+x7@` -> `alikhan`): personal vs work."""
    email = _text(email)
    if email is None or "@" not in email:
        return None
    local = email.split("@", 1)[0].split("+", 1)[0]
    key = re.sub(r"[^a-z]", "", _ascii_fold(local))
    return key if len(key) >= 4 else None


def region_of(phone: object) -> str | None:
    """The ISO region of an E.164-looking phone (`+966...` -> `SA`), else None."""
    text = _text(phone)
    if text is None or not text.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        return None


def phone_e164(phone: object, region: str | None) -> tuple[str | None, bool | None]:
    """(E.164, is_valid): international numbers parse alone, national ones need `region`.

    A phone that does not parse to a valid number is not guessed: (None, False).
    No phone at all gives (None, None).
    """
    text = _text(phone)
    if text is None:
        return None, None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False
    if not phonenumbers.is_valid_number(parsed):
        return None, False
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True


def per_distinct(func: Callable[[object], T], values: Iterable[object]) -> list[T]:
    """`func` of every value, computed once per distinct value (names, e-mails and phones
    repeat across a customer's records and a company's people). Values that compare equal
    (1, 1.0, True) take `func` of the first, and every missing value (None, NaN, pd.NA) `func`
    of the first missing one: `func` must treat them alike, as `_text` does (the columns it
    is given hold text or nothing).

    The distinct values are found by `pd.factorize` (hashing in C; a Python loop over a
    pandas 3 text column costs ~1 us a value, two million values a scale-10 identity run)."""
    items = values.tolist() if isinstance(values, pd.Series) else list(values)
    if not items:
        return []
    codes, uniques = pd.factorize(pd.Series(items, dtype=object))
    mapped = np.empty(len(uniques) + 1, dtype=object)  # the last slot: missing values (-1)
    mapped[:-1] = [func(value) for value in uniques]
    missing = np.flatnonzero(codes < 0)
    mapped[-1] = func(items[missing[0]]) if len(missing) else None
    return mapped[codes].tolist()


class PhoneBook:
    """`region_of` and `phone_e164` over many records, parsing each distinct phone once.

    An international number (`+...`) that parses on its own is parsed once for both its
    region and its E.164 form: a leading `+` fixes the country, so the default region does
    not change the result. Anything else is parsed once per distinct (phone, region).
    """

    def __init__(self) -> None:
        self._international: dict[str, phonenumbers.PhoneNumber | None] = {}
        self._regions: dict[str, str | None] = {}
        self._formatted: dict[str, tuple[str | None, bool]] = {}
        self._national: dict[tuple[str, str | None], tuple[str | None, bool | None]] = {}

    def _parsed(self, text: str) -> phonenumbers.PhoneNumber | None:
        """`text` (starting with +) parsed without a region, None when it does not parse."""
        if text not in self._international:
            try:
                self._international[text] = phonenumbers.parse(text, None)
            except phonenumbers.NumberParseException:
                self._international[text] = None
        return self._international[text]

    def _region(self, text: str, parsed: phonenumbers.PhoneNumber) -> str | None:
        """The region of a parsed international number (cached: it costs as much as a parse)."""
        if text not in self._regions:
            self._regions[text] = phonenumbers.region_code_for_number(parsed)
        return self._regions[text]

    def region_of(self, phone: object) -> str | None:
        """Same as `region_of(phone)`."""
        text = _text(phone)
        if text is None or not text.startswith("+"):
            return None
        parsed = self._parsed(text)
        return None if parsed is None else self._region(text, parsed)

    def e164(self, phone: object, region: str | None) -> tuple[str | None, bool | None]:
        """Same as `phone_e164(phone, region)`."""
        text = _text(phone)
        if text is None:
            return None, None
        parsed = self._parsed(text) if text.startswith("+") else None
        if parsed is not None:
            if text not in self._formatted:
                # is_valid_number(parsed) is exactly this, with the region looked up again
                valid = phonenumbers.is_valid_number_for_region(parsed, self._region(text, parsed))
                self._formatted[text] = (
                    (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True)
                    if valid
                    else (None, False)
                )
            return self._formatted[text]
        key = (text, region)
        if key not in self._national:
            self._national[key] = phone_e164(text, region)
        return self._national[key]


# --- the record frame ------------------------------------------------------------------------

# the person records' columns identity reads (int_person_records__unioned has more)
RECORD_COLUMNS = (
    "source",
    "source_record_id",
    "email_raw",
    "email_normalized",
    "is_email_valid",
    "phone_raw",
    "mobile_raw",
    "account_phone",
    "first_name",
    "last_name",
    "explicit_contact_id",
    "explicit_zendesk_user_id",
    "account_hint",
)
PHONE_INPUTS = ("phone_raw", "mobile_raw", "account_phone")  # what the phone columns come from
PHONE_OUTPUTS = ("phone_e164", "is_phone_valid", "phone_any")
# a CRM contact is one person: two never share a customer (Salesforce contacts, HubSpot contacts)
ANCHOR_SOURCES = frozenset({"salesforce", "hubspot"})
# survey responses, whichever tool collected them (int_survey_responses__unioned.source): a
# response that names its ticket belongs to the ticket's requester
SURVEY_SOURCES = frozenset({"qualtrics", "typeform", "survey_csv"})


def contact15(contact_id: object) -> str | None:
    """A Salesforce id compared on its case-sensitive 15-character form."""
    if not isinstance(contact_id, str):  # text, the usual case, skips pd.isna's cost per value
        if contact_id is None or pd.isna(contact_id):
            return None
        contact_id = str(contact_id)
    text = contact_id.strip()
    return text[:15] if len(text) in (15, 18) else None


def anchor_key(contact_id: object) -> str | None:
    """How a CRM contact id is compared: HubSpot's `hubspot:<id>` as is, Salesforce's on 15."""
    if isinstance(contact_id, str) and (text := contact_id.strip()).startswith("hubspot:"):
        return text
    return contact15(contact_id)


def prepare(records: pd.DataFrame) -> pd.DataFrame:
    """Add comparison columns: E.164 phone and validity, name keys, e-mail local key.

    Every normalization runs once per distinct input value (`per_distinct`, `PhoneBook`):
    names repeat across records, and a customer's phone and e-mail recur in each of their
    records. Phones are the slowest (a parse each): with `phone_known` and the `known_`
    columns (`store.load_person_records`), records whose phone inputs are unchanged since the
    last run keep its phone columns.
    """
    df = records.reset_index(drop=True).astype(object)
    df = df.where(df.notna(), None)
    for col in ("mobile_raw", "account_phone", "explicit_contact_id", "explicit_zendesk_user_id"):
        if col not in df:
            df[col] = None
    df = df.astype({"source_record_id": str})
    phones = _phone_columns(df)
    for column in PHONE_OUTPUTS:
        df[column] = phones[column]
    df["first_key"] = per_distinct(name_key, df["first_name"])
    df["last_key"] = per_distinct(name_key, df["last_name"])
    df["first_name_latin"] = per_distinct(name_latin, df["first_name"])
    df["last_name_latin"] = per_distinct(name_latin, df["last_name"])
    df["email_local_key"] = per_distinct(email_local_key, df["email_normalized"])
    df["anchor"] = [
        anchor_key(r) if s in ANCHOR_SOURCES else None
        for s, r in zip(df["source"].tolist(), df["source_record_id"].tolist(), strict=True)
    ]
    # the ids a record states for another: a CRM contact (compared as `anchor`), and for a
    # survey response its ticket's requester (a Zendesk user's source_record_id)
    df["stated_anchor"] = per_distinct(anchor_key, df["explicit_contact_id"])
    df["stated_zendesk"] = [
        str(int(uid)) if s in SURVEY_SOURCES and uid is not None and not pd.isna(uid) else None
        for s, uid in zip(
            df["source"].tolist(), df["explicit_zendesk_user_id"].tolist(), strict=True
        )
    ]
    df["record_key"] = df["source"] + ":" + df["source_record_id"]
    df["has_identifier"] = (
        df["email_normalized"].notna()
        | df["phone_e164"].notna()
        | df["explicit_contact_id"].notna()
        | df["source"].isin(ANCHOR_SOURCES)
        | (df["source"].isin(SURVEY_SOURCES) & df["explicit_zendesk_user_id"].notna())
    )
    return df


def _phone_columns(df: pd.DataFrame) -> dict[str, list[object]]:
    """E.164 phone, its validity and Splink's `phone_any` per record.

    The phone's region comes from itself or the account's phone; the mobile only stands in
    for a missing or invalid phone. Records whose `phone_known` holds (inputs unchanged since
    the last run, `store.load_person_records`) keep the last run's values; `prepare` drops
    those columns.
    """
    known = df.pop("phone_known") if "phone_known" in df else None
    last = {c: df.pop(f"known_{c}").tolist() for c in PHONE_OUTPUTS} if known is not None else {}
    n = len(df)
    out: dict[str, list[object]] = (
        last if known is not None else {c: [None] * n for c in PHONE_OUTPUTS}
    )
    todo = range(n) if known is None else [i for i, k in enumerate(known) if not k]
    book = PhoneBook()
    phone, mobile, account = (df[c].tolist() for c in PHONE_INPUTS)
    for i in todo:
        region = book.region_of(phone[i]) or book.region_of(account[i])
        e164, valid = book.e164(phone[i], region)
        out["phone_e164"][i] = e164
        out["is_phone_valid"][i] = valid
        out["phone_any"][i] = e164 if e164 is not None else book.e164(mobile[i], region)[0]
    return out
