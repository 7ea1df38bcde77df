"""Field normalization for identity resolution: names to a Latin key, phones to E.164.

The name key is a small, documented romanization (docs/identity.md): Arabic/Persian script
is mapped letter by letter to Latin consonants, Latin spellings are folded the same way
(article "al-"/"el-" stripped, vowels and doubled letters collapsed, a few digraph
equivalences), so "Mohammed", "Muhammad" and "محمد" all give "mhmd".
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

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
