"""The hand-written voice fixtures (tests/fixtures/voice), read once for the voice tests.

train_texts.csv: 96 survey answers written for training (16 detractors and 16 promoters in
each of en, ar and fa, one every six days from 2025-01-02). labelled_texts.csv: 36 other texts,
labelled by hand (6 negative and 6 positive per language, with the keyword topics they name),
never used for training.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "voice"


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else ("passive" if score >= 7 else "detractor")


def training_answers() -> pd.DataFrame:
    """The training fixture as voice texts: survey answers with their NPS category."""
    frame = pd.read_csv(FIXTURES / "train_texts.csv", parse_dates=["written_at"])
    frame["nps_category"] = frame["nps_score"].map(nps_category)
    return frame


def labelled_texts() -> pd.DataFrame:
    """The evaluation fixture: text_id, language, label, topics (list), text."""
    frame = pd.read_csv(FIXTURES / "labelled_texts.csv", keep_default_na=False)
    frame["topics"] = frame["topics"].map(lambda t: sorted(t.split(";")) if t else [])
    return frame
