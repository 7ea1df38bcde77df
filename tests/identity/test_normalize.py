"""Name keys, e-mail keys and phones on hand-written cases."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest

from cxloop.identity.normalize import (
    PhoneBook,
    _ascii_fold,
    anchor_key,
    email_local_key,
    name_key,
    name_latin,
    per_distinct,
    phone_e164,
    region_of,
)


@pytest.mark.parametrize(
    "spellings",
    [
        ("Mohammed", "Muhammad", "Mohamed", "Mohamad", "محمد"),
        ("Al-Hassan", "Alhassan", "El-Hassan", "Hassan", "الحسن"),
        ("Youssef", "Yusuf", "يوسف"),
        ("Khalil", "Kalil", "خليل"),
        ("Fatemeh", "Fateme", "فاطمه"),  # Persian final ه
        ("Saleh", "Salih", "صالح"),
        ("Ghorbani", "Qorbani", "قربانی"),  # Persian ی and ق
        ("Sadeghi", "Sadeqi", "صادقی"),
        ("Darwish", "Darwich", "درويش"),
        ("Parisa", "Parissa", "پریسا"),
        ("Golnaz", "Golnaaz", "گلناز"),
    ],
)
def test_transliterations_share_one_key(spellings: tuple[str, ...]) -> None:
    keys = {name_key(s) for s in spellings}
    assert len(keys) == 1, dict(zip(spellings, [name_key(s) for s in spellings], strict=True))


def test_full_arabic_name_matches_its_latin_spelling() -> None:
    assert name_key("محمد الحسن") == name_key("Mohammed Al-Hassan") == name_key("Muhammad Alhassan")


@pytest.mark.parametrize(
    ("one", "other"),
    [("Mohammed", "Ahmed"), ("Karimi", "Kazemi"), ("Ali", "Alan"), ("Smith", "Schmidt")],
)
def test_different_names_keep_different_keys(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def test_empty_names_have_no_key() -> None:
    assert name_key(None) is None
    assert name_key("  ") is None
    assert name_key("-") is None


def test_name_latin_romanizes_script_and_keeps_latin() -> None:
    assert name_latin("Mohammed") == "Mohammed"
    assert name_latin("محمد") == "mhmd"


def test_email_local_key_ignores_case_dots_digits_and_tags() -> None:
    assert email_local_key("Ali.Khan@acme.com") == email_local_key("alikhan42@gmail.com")
    assert email_local_key("a.b+news@x.org") is None  # too short to mean anything


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+966 50 266 1076", None, "+966502661076"),
        ("050 266 1076", "SA", "+966502661076"),
        ("0502661076", "SA", "+966502661076"),
        ("(020) 7622 7035", "GB", "+442076227035"),
        ("+44 20 7622 7035", "SA", "+442076227035"),
    ],
)
def test_local_and_international_phones_give_one_e164(
    raw: str, region: str | None, expected: str
) -> None:
    assert phone_e164(raw, region) == (expected, True)


def test_malformed_phones_are_flagged_not_guessed() -> None:
    assert phone_e164("call me", "SA") == (None, False)
    assert phone_e164("12345", "SA") == (None, False)
    assert phone_e164("0502661076", None) == (None, False)  # national without a country
    assert phone_e164(None, "SA") == (None, None)


def test_region_of_an_international_number() -> None:
    assert region_of("+966115840910") == "SA"
    assert region_of("0115840910") is None


PHONE_CASES = [
    ("+966 50 266 1076", None),
    ("+966 50 266 1076", "GB"),
    ("+1 416 555 0199", "CA"),  # shared country code: region from the number's ranges
    ("+14165550199", "US"),
    ("050 266 1076", "SA"),
    ("050 266 1076", "GB"),  # the same text in another region is another result
    ("050 266 1076", None),
    ("+00966502661076", "SA"),  # a + that does not parse alone falls back to the region
    ("+00966502661076", None),
    ("+999 123", "SA"),
    ("call me", "SA"),
    ("  ", "SA"),
    (None, "SA"),
]


def test_phone_book_gives_the_same_answers_as_the_plain_functions() -> None:
    book = PhoneBook()
    for _ in range(2):  # the second round answers from the caches
        for raw, region in PHONE_CASES:
            assert book.e164(raw, region) == phone_e164(raw, region), (raw, region)
            assert book.region_of(raw) == region_of(raw), raw


def test_per_distinct_computes_each_value_once() -> None:
    calls: list[object] = []

    def key(value: object) -> object:
        calls.append(value)
        return name_key(value)

    names = ["Mohammed", "Sara", "Mohammed", None, "Sara", None]
    assert per_distinct(key, names) == [name_key(n) for n in names]
    assert calls == ["Mohammed", "Sara", None]


def test_per_distinct_reads_a_pandas_text_column_with_missing_values() -> None:
    calls: list[object] = []

    def key(value: object) -> object:
        calls.append(value)
        return email_local_key(value)

    emails = pd.Series(["ali.khan@x.com", None, "Ali.Khan@x.com", "ali.khan@x.com", None])
    assert per_distinct(key, emails) == ["alikhan", None, "alikhan", "alikhan", None]
    assert calls[:2] == ["ali.khan@x.com", "Ali.Khan@x.com"] and len(calls) == 3  # one missing
    assert per_distinct(key, pd.Series([], dtype=object)) == []


def test_per_distinct_keeps_a_tuple_result_whole() -> None:
    phones = ["+4915123456789", None, "+4915123456789"]
    assert per_distinct(lambda p: phone_e164(p, None), phones) == [
        ("+4915123456789", True),
        (None, None),
        ("+4915123456789", True),
    ]


def test_ascii_text_folds_as_the_unicode_decomposition_would() -> None:
    """_ascii_fold skips NFKD for ASCII text: every ASCII character, and mixed text."""

    def by_decomposition(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.lower())
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    ascii_text = "".join(chr(i) for i in range(128))
    assert _ascii_fold(ascii_text) == by_decomposition(ascii_text)
    assert _ascii_fold("José.Ñúñez") == "jose.nunez" == by_decomposition("José.Ñúñez")


@pytest.mark.parametrize(
    ("contact_id", "expected"),
    [
        ("003000000000001AAA", "003000000000001"),
        (" 003000000000001 ", "003000000000001"),
        ("hubspot:42", "hubspot:42"),
        ("0030000001", None),
        (None, None),
        (float("nan"), None),
        (pd.NA, None),
    ],
)
def test_anchor_keys(contact_id: object, expected: str | None) -> None:
    assert anchor_key(contact_id) == expected
