"""The churn feature spec in one place, and the coercion that makes any frame fit it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NUMERIC_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "arr_amount",
    "arr_change_90d",
    "seats",
    "days_to_renewal",
    "tickets_90d",
    "tickets_high_priority_90d",
    "avg_first_reply_minutes_90d",
    "avg_resolution_minutes_90d",
    "reopens_90d",
    "bad_ratings_180d",
    "csat_responses_180d",
    "csat_avg_180d",
    "last_nps",
    "nps_change",
    "survey_responses_365d",
    "survey_response_rate_365d",
    "days_since_last_touch",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("plan", "region", "industry")

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


class FeatureDataError(ValueError):
    """A frame does not fit the feature spec; the message names the row and the field."""


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns are the key, the entity, the time, the label and the features."""

    numeric: tuple[str, ...] = NUMERIC_FEATURES
    categorical: tuple[str, ...] = CATEGORICAL_FEATURES
    label: str = "churned_within_horizon"
    id_column: str = "snapshot_id"
    entity_column: str = "account_id"
    time_column: str = "snapshot_date"
    source: str = "ml.account_snapshots"

    @property
    def features(self) -> tuple[str, ...]:
        """All feature columns, numeric first, in the order the pipeline sees them."""
        return self.numeric + self.categorical

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.id_column, self.entity_column, self.time_column)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for model metadata."""
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "label": self.label,
            "id_column": self.id_column,
            "entity_column": self.entity_column,
            "time_column": self.time_column,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """The inverse of to_dict."""
        return cls(
            numeric=tuple(data["numeric"]),
            categorical=tuple(data["categorical"]),
            label=data["label"],
            id_column=data["id_column"],
            entity_column=data["entity_column"],
            time_column=data["time_column"],
            source=data.get("source", "data"),
        )


CHURN_SPEC = FeatureSpec()


@dataclass
class CoercionReport:
    """What coercion found per column: blanks, values that were not numbers, unseen categories."""

    blank: dict[str, int] = field(default_factory=dict)
    unparseable: dict[str, int] = field(default_factory=dict)
    unseen_category: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Only the non-zero counts, plus totals, for run summaries."""
        parts = {
            "blank": self.blank,
            "unparseable": self.unparseable,
            "unseen_category": self.unseen_category,
        }
        out: dict[str, Any] = {k: {c: n for c, n in v.items() if n} for k, v in parts.items()}
        for k, v in parts.items():
            out[f"{k}_total"] = int(sum(v.values()))
        return out


def require_columns(frame: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    """Fail with the missing column names when a frame lacks what the spec needs."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FeatureDataError(
            f"{where}: missing column(s) {', '.join(missing)} "
            f"(expected the feature spec's columns; found {', '.join(map(str, frame.columns))})"
        )


def _is_plain_number(series: pd.Series) -> bool:
    """True for int, unsigned and float columns (numpy or nullable), not bools or text."""
    return series.dtype.kind in "iuf" and not pd.api.types.is_bool_dtype(series)


def _is_all_text(series: pd.Series) -> bool:
    """True when every non-missing value is a str (pandas text dtype, or object holding str)."""
    if isinstance(series.dtype, pd.StringDtype):
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
    )


def _text_per_distinct(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(stripped text or NaN per row, blank per row) for an all-text column.

    Strips each distinct value once instead of once per row (a column of a million rows holds
    a handful of plans or regions). Same result as the per-value rule in `_is_blank`.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    stripped = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    blank_unique = stripped == ""
    text = np.where(blank_unique, np.nan, stripped).astype(object)
    return text[codes], blank_unique[codes]  # code -1 (missing) picks the trailing blank


def _is_blank(series: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace."""
    if _is_plain_number(series):
        return series.isna()
    if _is_all_text(series):
        return pd.Series(_text_per_distinct(series)[1], index=series.index)
    as_text = series.astype(object).where(series.notna(), None)
    return as_text.map(lambda v: v is None or (isinstance(v, str) and not v.strip())).astype(bool)


def coerce_numeric(series: pd.Series) -> tuple[pd.Series, int, int]:
    """Floats (NaN for blanks and non-numbers, inf included); returns (values, blanks, bad)."""
    if _is_plain_number(series):  # already numbers: only missing and infinite values to count
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        blank = np.isnan(values)
        infinite = np.isinf(values)
        values = np.where(infinite, np.nan, values)
        out = pd.Series(values, index=series.index, name=series.name, dtype="float64")
        return out, int(blank.sum()), int(infinite.sum())
    blank = _is_blank(series)
    values = pd.to_numeric(series.astype(object).where(~blank, None), errors="coerce")
    values = values.astype("float64").replace([np.inf, -np.inf], np.nan)
    unparseable = int((values.isna() & ~blank).sum())
    return values, int(blank.sum()), unparseable


def coerce_categorical(series: pd.Series) -> tuple[pd.Series, int]:
    """Stripped text as object dtype (NaN for blanks), so sklearn sees one kind of value."""
    if _is_all_text(series):
        text, blank = _text_per_distinct(series)
        return pd.Series(text, index=series.index, name=series.name, dtype=object), int(blank.sum())
    blank = _is_blank(series)
    text = series.astype(object).map(lambda v: v.strip() if isinstance(v, str) else str(v))
    text = text.where(~blank, np.nan).astype(object)
    return text, int(blank.sum())


def coerce_features(
    frame: pd.DataFrame,
    spec: FeatureSpec = CHURN_SPEC,
    known_categories: dict[str, list[str]] | None = None,
) -> tuple[pd.DataFrame, CoercionReport]:
    """The feature columns in the types the pipeline expects, and what had to be fixed."""
    require_columns(frame, spec.features, spec.source)
    report = CoercionReport()
    out = pd.DataFrame(index=frame.index)
    for col in spec.numeric:
        out[col], report.blank[col], report.unparseable[col] = coerce_numeric(frame[col])
    for col in spec.categorical:
        out[col], report.blank[col] = coerce_categorical(frame[col])
        if known_categories is not None and col in known_categories:
            seen = out[col].notna() & ~out[col].isin(known_categories[col])
            report.unseen_category[col] = int(seen.sum())
    return out, report


def coerce_label(frame: pd.DataFrame, spec: FeatureSpec = CHURN_SPEC) -> pd.Series:
    """The label as float 1.0/0.0 (NaN = outcome not yet known); bad values name their row."""
    require_columns(frame, [spec.label], spec.source)

    def parse(value: Any) -> float:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return np.nan
        if isinstance(value, bool | np.bool_):
            return float(value)
        text = str(value).strip().lower()
        if text in _TRUE or text == "1.0":
            return 1.0
        if text in _FALSE or text == "0.0":
            return 0.0
        if text == "":
            return np.nan
        raise ValueError(text)

    values = []
    for position, value in enumerate(frame[spec.label].astype(object)):
        try:
            values.append(parse(value))
        except ValueError:
            raise FeatureDataError(
                f"{spec.source}, row {_row_name(frame, spec, position)}, field '{spec.label}': "
                f"got {value!r} (expected true, false or null)"
            ) from None
    return pd.Series(values, index=frame.index, dtype="float64", name=spec.label)


def coerce_dates(frame: pd.DataFrame, spec: FeatureSpec = CHURN_SPEC) -> pd.Series:
    """The time column as normalized datetimes; a missing or bad date names its row."""
    require_columns(frame, [spec.time_column], spec.source)
    raw = frame[spec.time_column]
    dates = pd.to_datetime(raw, errors="coerce").dt.normalize()
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        position = int(bad[0])
        raise FeatureDataError(
            f"{spec.source}, row {_row_name(frame, spec, position)}, field '{spec.time_column}': "
            f"got {raw.iloc[position]!r} (expected a date; {len(bad)} row(s) affected)"
        )
    return dates.astype("datetime64[us]")


def _row_name(frame: pd.DataFrame, spec: FeatureSpec, position: int) -> str:
    """The row's key when the frame has one, else its 1-based position."""
    if spec.id_column in frame.columns:
        return f"{position + 1} ({spec.id_column}={frame[spec.id_column].iloc[position]!r})"
    return str(position + 1)


def infer_spec(
    frame: pd.DataFrame,
    *,
    label: str,
    time_column: str,
    entity_column: str,
    id_column: str | None = None,
    max_categories: int = 50,
    source: str = "data",
) -> FeatureSpec:
    """A spec for an arbitrary frame: numbers are numeric, low-cardinality text categorical."""
    reserved = {label, time_column, entity_column, id_column}
    require_columns(frame, [c for c in reserved if c], source)
    numeric: list[str] = []
    categorical: list[str] = []
    for col in frame.columns:
        if col in reserved or pd.api.types.is_datetime64_any_dtype(frame[col]):
            continue
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numeric.append(col)
            continue
        values, blanks, bad = coerce_numeric(series)
        if blanks < len(series) and bad == 0:
            numeric.append(col)
        elif series.nunique(dropna=True) <= max_categories:
            categorical.append(col)
    if not numeric and not categorical:
        raise FeatureDataError(f"{source}: no usable feature columns (expected numbers or labels)")
    return FeatureSpec(
        numeric=tuple(numeric),
        categorical=tuple(categorical),
        label=label,
        id_column=id_column or entity_column,
        entity_column=entity_column,
        time_column=time_column,
        source=source,
    )
