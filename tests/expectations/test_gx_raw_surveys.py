"""The raw_surveys suites: Typeform and survey-CSV rows off our scales or times fail critically."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cxloop.expectations.runner import validate

Frames = Callable[[str], pd.DataFrame]


def test_off_scale_score_and_naive_time_fail_critically(good_frames: Frames) -> None:
    frame = good_frames("raw.typeform__responses")
    frame.loc[0, "ces"] = "8"
    frame.loc[1, "submitted_at"] = "2024-05-03 09:11:45"
    result = validate("raw.typeform__responses", frame)
    assert result.critical_failed
    assert {r.label for r in result.failures("critical")} == {
        "expect_column_values_to_match_regex(ces)",
        "expect_column_values_to_match_regex(submitted_at)",
    }


def test_a_csv_row_without_its_time_fails(good_frames: Frames) -> None:
    frame = good_frames("raw.survey_csv__responses")
    frame.loc[1, "responded_at"] = None
    result = validate("raw.survey_csv__responses", frame)
    assert "expect_column_values_to_not_be_null(responded_at)" in {
        r.label for r in result.failures()
    }
