"""Bring your own table: train the churn pipeline on any one-row-per-account table with a label.

Columns are sorted into numeric and categorical by their values, not their declared types: text
columns whose values are nearly all numbers become numeric (the rest become missing and are
counted), low-cardinality text becomes categorical, and everything else is left out with the
reason. Without a time column the split is stratified; with one it is by time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxloop.models.features import (
    FeatureDataError,
    FeatureSpec,
    coerce_dates,
    coerce_features,
    coerce_label,
    coerce_numeric,
    require_columns,
)
from cxloop.models.train import (
    RANDOM_STATE,
    TEST_FRACTION,
    LabelledData,
    TrainingDataError,
    TrainResult,
    fit_and_select,
    stratified_windows,
    time_windows,
)

MIN_ROWS = 50
MAX_CATEGORIES = 50
NUMERIC_SHARE = 0.9  # a text column is numeric when this share of its non-blank values parse


@dataclass
class Preparation:
    """What was inferred and fixed in the table, for the user to check."""

    rows: int = 0
    labelled_rows: int = 0
    unlabelled_rows_dropped: int = 0
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    numbers_stored_as_text: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    blank: dict[str, int] = field(default_factory=dict)
    unparseable: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, zero counts left out."""
        out = dict(self.__dict__)
        out["blank"] = {k: v for k, v in self.blank.items() if v}
        out["unparseable"] = {k: v for k, v in self.unparseable.items() if v}
        return out


def classify_column(series: pd.Series) -> tuple[str, str]:
    """('numeric' | 'numeric_text' | 'categorical' | 'ignored', reason) from the values."""
    if pd.api.types.is_bool_dtype(series):
        return "categorical", ""
    if pd.api.types.is_numeric_dtype(series):
        return ("numeric", "") if series.notna().any() else ("ignored", "every value is blank")
    values, blanks, bad = coerce_numeric(series)
    filled = len(series) - blanks
    if filled == 0:
        return "ignored", "every value is blank"
    if bad <= (1 - NUMERIC_SHARE) * filled:
        return "numeric_text", ""
    distinct = series.astype(object).where(series.notna(), None).dropna().nunique()
    if distinct <= MAX_CATEGORIES:
        return "categorical", ""
    return "ignored", f"text with {distinct} distinct values (more than {MAX_CATEGORIES})"


def check_id(frame: pd.DataFrame, id_column: str, source: str) -> None:
    """Refuse blank or repeated ids: the table must have one row per account."""
    ids = frame[id_column].astype(object)
    blank = ids.isna() | ids.map(lambda v: isinstance(v, str) and not v.strip())
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0]) + 2  # 1-based, after the header
        raise FeatureDataError(
            f"{source}, row {row}, field '{id_column}': blank id "
            f"({int(blank.sum())} row(s); expected one id per row)"
        )
    repeated = ids.astype(str).str.strip().duplicated(keep=False)
    if repeated.any():
        examples = sorted(ids[repeated].astype(str).unique())[:3]
        raise FeatureDataError(
            f"{source}, field '{id_column}': {int(repeated.sum())} rows share an id, e.g. "
            f"{', '.join(map(repr, examples))} (expected one row per account: a unique id)"
        )


def infer_table_spec(
    frame: pd.DataFrame, *, label: str, id_column: str, time_column: str | None, source: str
) -> tuple[FeatureSpec, Preparation]:
    """The spec for a user's table and the report of how each column was read."""
    prep = Preparation(rows=len(frame))
    reserved = {label, id_column, time_column}
    for col in frame.columns:
        if col in reserved:
            continue
        kind, reason = classify_column(frame[col])
        if kind == "ignored":
            prep.ignored[str(col)] = reason
        elif kind == "categorical":
            prep.categorical.append(str(col))
        else:
            prep.numeric.append(str(col))
            if kind == "numeric_text":
                prep.numbers_stored_as_text.append(str(col))
    if not prep.numeric and not prep.categorical:
        raise FeatureDataError(
            f"{source}: no usable feature columns besides '{label}' and '{id_column}' "
            f"(expected numbers or text with at most {MAX_CATEGORIES} values; {prep.ignored})"
        )
    spec = FeatureSpec(
        numeric=tuple(prep.numeric),
        categorical=tuple(prep.categorical),
        label=label,
        id_column=id_column,
        entity_column=id_column,
        time_column=time_column or "",
        source=source,
    )
    return spec, prep


def labelled_table(
    frame: pd.DataFrame, spec: FeatureSpec, prep: Preparation, time_column: str | None
) -> tuple[pd.DataFrame, LabelledData]:
    """The labelled rows in id order, coerced, with counts added to `prep`; one class refused."""
    labels = coerce_label(frame, spec)
    order = np.argsort(frame[spec.id_column].astype(str).to_numpy(), kind="stable")
    frame, labels = frame.iloc[order], labels.iloc[order]
    known = frame.loc[labels.notna()]
    prep.labelled_rows = len(known)
    prep.unlabelled_rows_dropped = len(frame) - len(known)
    classes = sorted(set(labels.dropna().astype(int)))
    if len(classes) < 2:
        raise TrainingDataError(
            f"{spec.source}, field '{spec.label}': every labelled row is "
            f"{'churned' if classes == [1] else 'retained' if classes else 'blank'} "
            "(expected both classes: yes/no, true/false or 1/0)"
        )
    features, report = coerce_features(known, spec)
    prep.blank, prep.unparseable = report.blank, report.unparseable
    dates = (
        coerce_dates(known, spec).reset_index(drop=True)
        if time_column
        else pd.Series(pd.NaT, index=range(len(known)), dtype="datetime64[us]")
    )
    data = LabelledData(
        features=features.reset_index(drop=True),
        labels=labels[labels.notna()].to_numpy(dtype=int),
        dates=dates,
    )
    return known, data


def train_table(
    frame: pd.DataFrame,
    *,
    label: str,
    id_column: str,
    time_column: str | None = None,
    source: str = "table",
    random_state: int = RANDOM_STATE,
) -> tuple[TrainResult, Preparation]:
    """Infer the spec, check the table, and train both candidates; the better one is kept."""
    require_columns(frame, [c for c in (label, id_column, time_column) if c], source)
    check_id(frame, id_column, source)
    spec, prep = infer_table_spec(
        frame, label=label, id_column=id_column, time_column=time_column, source=source
    )
    known, data = labelled_table(frame, spec, prep, time_column)
    if time_column:
        masks, window = time_windows(
            data, spec, horizon_days=0, test_fraction=TEST_FRACTION, min_rows=MIN_ROWS
        )
        window["split"] = "time"
    else:
        masks, window = stratified_windows(
            data, spec, test_fraction=TEST_FRACTION, random_state=random_state, min_rows=MIN_ROWS
        )
    result = fit_and_select(known, data, masks, window, spec, 0, random_state)
    return result, prep
