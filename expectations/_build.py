"""Small builders for expectations that always carry a severity, and derived row checks.

Severity is kept twice on purpose: in GE's own `severity` field (rendered in Data Docs) and in
`meta["severity"]` (what cxloop's runner and ops.quality_results read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import great_expectations as gx
import pandas as pd
from great_expectations.expectations import Expectation

Severity = Literal["critical", "warning"]
CRITICAL: Severity = "critical"
WARNING: Severity = "warning"

DERIVED_PREFIX = "_check__"

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
ISO_DATETIME = ISO_DATE + r"[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
BOOLEAN_TEXT = r"(?i:true|false)"
DECIMAL = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
DIGITS = r"\d+"
JSON_ARRAY = r"\[.*\]"
JSON_OBJECT = r"\{.*\}"
SHA256_HEX = r"[0-9a-f]{64}"


def _meta(severity: Severity, description: str | None) -> dict:
    return {"severity": severity, "meta": {"severity": severity}, "description": description}


def table_has_columns(columns: Iterable[str], severity: Severity = CRITICAL) -> Expectation:
    """The contract's columns are all present (extra columns are allowed)."""
    cols = list(columns)
    return gx.expectations.ExpectTableColumnsToMatchSet(
        column_set=cols, exact_match=False, **_meta(severity, "contract columns present")
    )


def not_null(column: str, severity: Severity = CRITICAL) -> Expectation:
    """Every row has a value in `column`."""
    return gx.expectations.ExpectColumnValuesToNotBeNull(
        column=column, **_meta(severity, f"{column} is never null")
    )


def unique(column: str, severity: Severity = CRITICAL) -> Expectation:
    """No two rows share a value of `column`."""
    return gx.expectations.ExpectColumnValuesToBeUnique(
        column=column, **_meta(severity, f"{column} is unique")
    )


def unique_together(columns: Sequence[str], severity: Severity = CRITICAL) -> Expectation:
    """No two rows share the same combination of `columns` (a compound key)."""
    return gx.expectations.ExpectCompoundColumnsToBeUnique(
        column_list=list(columns), **_meta(severity, f"({', '.join(columns)}) is unique")
    )


def matches(
    column: str, pattern: str, severity: Severity = WARNING, *, allow_empty: bool = False
) -> Expectation:
    """Every non-null value of `column` matches `pattern` in full (optionally or is empty text)."""
    body = f"(?:{pattern})" + ("?" if allow_empty else "")
    return gx.expectations.ExpectColumnValuesToMatchRegex(
        column=column, regex=f"^{body}$", **_meta(severity, f"{column} matches {pattern}")
    )


def in_set(column: str, values: Iterable[object], severity: Severity = WARNING) -> Expectation:
    """Every non-null value of `column` is one of `values`."""
    value_set = list(values)
    return gx.expectations.ExpectColumnValuesToBeInSet(
        column=column, value_set=value_set, **_meta(severity, f"{column} in {value_set}")
    )


def between(
    column: str,
    min_value: float | None = None,
    max_value: float | None = None,
    severity: Severity = CRITICAL,
) -> Expectation:
    """Every non-null value of `column` lies in [min_value, max_value] (inclusive)."""
    lo = "-inf" if min_value is None else min_value
    hi = "inf" if max_value is None else max_value
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=min_value,
        max_value=max_value,
        **_meta(severity, f"{column} between {lo} and {hi}"),
    )


@dataclass(frozen=True)
class DerivedCheck:
    """A multi-column rule computed as a boolean column (True = fine or not applicable)."""

    name: str
    inputs: tuple[str, ...]
    rule: Callable[[pd.DataFrame], pd.Series]
    description: str
    severity: Severity = CRITICAL

    @property
    def column(self) -> str:
        return DERIVED_PREFIX + self.name

    def expectation(self) -> Expectation:
        """The expectation on the derived column: every row is True."""
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=self.column, value_set=[True], **_meta(self.severity, self.description)
        )


@dataclass(frozen=True)
class DatasetSpec:
    """What is checked for one dataset (a table in the warehouse)."""

    name: str
    family: str
    expectations: Callable[[], list[Expectation]]
    derived: tuple[DerivedCheck, ...] = field(default=())


def dataset_spec(
    name: str,
    family: str,
    columns: Sequence[str],
    checks: Callable[[], list[Expectation]],
    derived: tuple[DerivedCheck, ...] = (),
) -> DatasetSpec:
    """A dataset's suite: its columns present, then its own checks (built when run)."""

    def build() -> list[Expectation]:
        return [table_has_columns(columns), *checks()]

    return DatasetSpec(name=name, family=family, expectations=build, derived=derived)


def family_specs(family: str, columns: Mapping[str, Sequence[str]]) -> Callable[..., DatasetSpec]:
    """`spec(name, checks, derived=())`: dataset_spec for a family whose columns are listed per
    dataset name."""

    def spec(
        name: str,
        checks: Callable[[], list[Expectation]],
        derived: tuple[DerivedCheck, ...] = (),
    ) -> DatasetSpec:
        return dataset_spec(name, family, columns[name], checks, derived)

    return spec


def ok_where(condition: pd.Series, applicable: pd.Series) -> pd.Series:
    """True where the rule holds or does not apply (nulls in inputs count as not applicable)."""
    holds = condition.fillna(False).astype(bool)
    return (holds | ~applicable.fillna(False).astype(bool)).astype(bool)


def numeric(df: pd.DataFrame, column: str) -> pd.Series:
    """A column as numbers (anything else null), for derived checks."""
    return pd.to_numeric(df[column], errors="coerce")


def all_present(df: pd.DataFrame, *columns: str) -> pd.Series:
    """True where none of `columns` is null (where a derived check applies)."""
    return df[list(columns)].notna().all(axis=1)


def at_most(name: str, smaller: str, larger: str) -> DerivedCheck:
    """`smaller` <= `larger` (as numbers) on every row where both are present."""

    def rule(df: pd.DataFrame) -> pd.Series:
        return ok_where(
            numeric(df, smaller) <= numeric(df, larger), all_present(df, smaller, larger)
        )

    return DerivedCheck(name, (smaller, larger), rule, f"{smaller} <= {larger}")


def key(column: str) -> list[Expectation]:
    """A primary key: never null, never repeated."""
    return [not_null(column), unique(column)]


def counts(*columns: str) -> list[Expectation]:
    """Counts and durations are never negative."""
    return [between(c, min_value=0) for c in columns]
