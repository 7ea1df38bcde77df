"""Language detection with langdetect (its language profiles ship inside the package).

Deterministic (a fixed seed), run once per distinct text. langdetect confuses short Persian
with Arabic; a text it calls Arabic that has letters only Persian uses (پ چ ژ گ, Persian yeh
or keheh) or the zero-width non-joiner of Persian orthography, and none of the letters only
Arabic uses (ة ي ك), is Persian. Text with no letters (numbers,
emoji) has no language (None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from langdetect import DetectorFactory, detector_factory
from langdetect.lang_detect_exception import LangDetectException

SEED = 0
PERSIAN_ONLY = re.compile("[پچژگیک\u200c]")
ARABIC_ONLY = re.compile("[ةيك]")
LETTER = re.compile(r"[^\W\d_]")
# langdetect names a few languages with a region; ISO 639-1 is the part before it
_ISO = {"zh-cn": "zh", "zh-tw": "zh"}


def _factory() -> DetectorFactory:
    """langdetect's profiles, loaded once per process (about a second)."""
    if detector_factory._factory is None:
        detector_factory.init_factory()
    factory = detector_factory._factory
    factory.set_seed(SEED)
    return factory


def detect_language(text: str | None) -> str | None:
    """ISO 639-1 code of the text's language, or None when it has no letters."""
    if not text or not LETTER.search(text):
        return None
    detector = _factory().create()
    detector.append(text)
    try:
        code = detector.detect()
    except LangDetectException:
        return None
    code = _ISO.get(code, code)
    if code == "ar" and PERSIAN_ONLY.search(text) and not ARABIC_ONLY.search(text):
        return "fa"
    return code


def detect_languages(texts: Iterable[str | None]) -> list[str | None]:
    """detect_language for each text, each distinct text detected once."""
    values = list(texts)
    known: dict[str | None, str | None] = {}
    for text in dict.fromkeys(values):
        known[text] = detect_language(text)
    return [known[text] for text in values]
