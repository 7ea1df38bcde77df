"""Coercion gives the same values and counts whatever the column's dtype (numbers, text, mixed).

Typed columns (what DuckDB hands back: float64, nullable Int64, pandas text) take vectorised
paths; mixed object columns take the per-value rule. Both must agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxloop.models.features import coerce_categorical, coerce_numeric


def test_typed_numbers_agree_with_the_per_value_rule() -> None:
    values = [1.0, np.nan, 3.5, np.inf, -np.inf, 0.0, -0.0, 42.0]
    per_value = pd.Series([*values, "x"], dtype=object)  # the "x" forces the per-value rule
    expected, expected_blank, expected_bad = coerce_numeric(per_value)
    for typed in (
        pd.Series(values, dtype="float64"),
        pd.Series(values, dtype="Float64"),
    ):
        got, blank, bad = coerce_numeric(typed)
        assert got.dtype == "float64"
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy()[:-1])
        assert (blank, bad) == (expected_blank, expected_bad - 1) == (1, 2)  # inf twice


def test_nullable_and_plain_integers_count_missing_values_as_blank() -> None:
    nullable = pd.Series([3, None, 7, None], dtype="Int64")  # a BIGINT column with NULLs
    got, blank, bad = coerce_numeric(nullable)
    np.testing.assert_array_equal(got.to_numpy(), [3.0, np.nan, 7.0, np.nan])
    assert (blank, bad) == (2, 0)
    got, blank, bad = coerce_numeric(pd.Series([1, 2], dtype="int64"))
    assert got.tolist() == [1.0, 2.0] and (blank, bad) == (0, 0)


def test_bools_and_text_numbers_still_take_the_per_value_rule() -> None:
    got, blank, bad = coerce_numeric(pd.Series(["42", " ", "n/a", None, "1e3"], dtype="str"))
    np.testing.assert_array_equal(got.to_numpy(), [42.0, np.nan, np.nan, np.nan, 1000.0])
    assert (blank, bad) == (2, 1)
    got, blank, bad = coerce_numeric(pd.Series([True, False]))
    assert got.tolist() == [1.0, 0.0] and (blank, bad) == (0, 0)


def test_text_categories_agree_with_the_per_value_rule() -> None:
    values = ["Growth", " Growth ", "   ", "", None, "EMEA\t", np.nan, "Starter"]
    mixed = pd.Series([*values, 7], dtype=object)  # the 7 forces the per-value rule
    expected, expected_blank = coerce_categorical(mixed)
    assert expected.iloc[-1] == "7"
    for typed in (pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
        got, blank = coerce_categorical(typed)
        assert got.dtype == object
        pd.testing.assert_series_equal(got, expected.iloc[:-1], check_names=False)
        assert blank == expected_blank == 4
    assert expected.iloc[:2].tolist() == ["Growth", "Growth"]
    assert expected.iloc[[2, 3, 4, 6]].isna().all() and expected.iloc[5] == "EMEA"
