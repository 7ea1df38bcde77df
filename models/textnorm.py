"""Open-text normalization shared by the text models and keyword topics.

The same folding as the dbt macro `normalize_text` (dbt_project/macros/text.sql): lower case;
Arabic and Persian letter variants folded (Arabic yeh and alef maksura -> Persian yeh, Arabic
kaf -> keheh, alef with hamza/madda/wasla -> alef, teh marbuta -> heh, waw with hamza -> waw,
zero-width non-joiner -> space); harakat, superscript alef and tatweel removed; spaces collapsed.
"""

from __future__ import annotations

import re

_FOLD = str.maketrans("يىكأإآٱةؤ\u200c", "ییکااااهو ")
_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Text folded for matching and n-grams (see the module docstring)."""
    folded = _MARKS.sub("", text.lower().translate(_FOLD))
    return _SPACES.sub(" ", folded).strip()
