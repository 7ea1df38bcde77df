"""Guess a text file's encoding: UTF-8 when it decodes, else the Windows code page whose
reading gives plausible words (Excel-saved exports: Arabic in windows-1256, Western European in
windows-1252, Cyrillic in windows-1251)."""

from __future__ import annotations

import re
import unicodedata

LEGACY = ("windows-1252", "windows-1256", "windows-1251")  # ties go to the first
_WORD = re.compile(r"[^\W\d_]+")


def guess_encoding(data: bytes) -> str:
    """`utf-8` (a BOM allowed) when the bytes decode as UTF-8, else the likeliest code page."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return max(LEGACY, key=lambda enc: (plausibility(data.decode(enc, errors="replace")),))
    return "utf-8"


def not_utf8_at(data: bytes) -> tuple[int, int] | None:
    """(line, byte) of the first byte that is not UTF-8, or None when the file is UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, data[exc.start]
    return None


def plausibility(text: str) -> int:
    """Letters in plausible non-ASCII words minus letters in implausible ones.

    A word misread from another code page mixes scripts, changes case inside the word
    (`ÇáÎÏãÉ`), or is Latin made mostly of accented letters.
    """
    score = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        score += len(word) if _plausible(word) else -len(word)
    return score


def _plausible(word: str) -> bool:
    scripts = {unicodedata.name(c, "UNKNOWN").split()[0] for c in word}
    if len(scripts) != 1:
        return False
    if any(a.islower() and b.isupper() for a, b in zip(word, word[1:], strict=False)):
        return False
    if scripts == {"LATIN"}:
        return sum(not c.isascii() for c in word) * 2 <= len(word)
    return True
