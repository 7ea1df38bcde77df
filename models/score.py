"""Score snapshots with a fitted churn model: probability, risk band and top drivers.

Drivers: for each feature, the drop in predicted probability when that feature alone is set to
its training median (numbers) or most common value (categories). One pass over the batch per
feature, not per row. A positive contribution means the account's actual value raises its risk
compared with a typical account; the top three positive ones are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.features import CoercionReport, coerce_features, require_columns
from models.train import ChurnModel, thread_limit

RISK_BANDS = ("high", "medium", "low")
MIN_CONTRIBUTION = 0.01  # one percentage point: below that a "driver" is noise


@dataclass
class ScoredBatch:
    """One row per input row (key columns, probability, band, drivers JSON) and the fixes made."""

    scores: pd.DataFrame
    issues: CoercionReport

    def band_counts(self) -> dict[str, int]:
        """How many rows fell in each risk band (every band listed)."""
        counts = self.scores["risk_band"].value_counts()
        return {band: int(counts.get(band, 0)) for band in RISK_BANDS}


def risk_bands(probability: np.ndarray, high: float = 0.5, medium: float = 0.25) -> np.ndarray:
    """'high' at or above `high`, 'medium' at or above `medium`, else 'low'."""
    if not 0 <= medium <= high <= 1:
        raise ValueError(
            f"risk thresholds must satisfy 0 <= medium <= high <= 1, got {medium}, {high}"
        )
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


def driver_contributions(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """Per row and feature: probability minus probability with that feature set to typical."""
    base = model.predict_proba(features)
    contributions = {}
    for col in model.spec.features:
        typical = model.reference_values.get(col)
        replaced = features.copy()
        replaced[col] = np.nan if typical is None else typical
        if col in model.spec.categorical:
            replaced[col] = replaced[col].astype(object)
        contributions[col] = base - model.predict_proba(replaced)
    return pd.DataFrame(contributions, index=features.index)


def _plain(value: Any) -> Any:
    """A JSON value a person can read: whole floats as ints, NaN as null."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else round(float(value), 4)
    return str(value)


def top_drivers(contributions: pd.DataFrame, features: pd.DataFrame, top_n: int = 3) -> list[str]:
    """JSON text per row: up to `top_n` {feature, value, contribution} that raise risk most."""
    matrix = contributions.to_numpy()
    columns = list(contributions.columns)
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top_n]
    values = {col: features[col].to_numpy(dtype=object) for col in columns}
    out = []
    for row, picks in enumerate(order):
        drivers = [
            {
                "feature": columns[j],
                "value": _plain(values[columns[j]][row]),
                "contribution": round(float(matrix[row, j]), 4),
            }
            for j in picks
            if matrix[row, j] >= MIN_CONTRIBUTION
        ]
        out.append(json.dumps(drivers, ensure_ascii=False))
    return out


def score_frame(
    model: ChurnModel,
    frame: pd.DataFrame,
    *,
    high: float = 0.5,
    medium: float = 0.25,
    top_n: int = 3,
) -> ScoredBatch:
    """Score every row; blanks, text in number columns and unseen categories are counted."""
    spec = model.spec
    keys = [c for c in (spec.id_column, spec.entity_column, spec.time_column) if c in frame]
    require_columns(frame, [spec.entity_column], spec.source)
    features, issues = coerce_features(frame, spec, model.known_categories)
    with thread_limit(len(features) * (len(spec.features) + 1)):
        probability = model.predict_proba(features)
        contributions = driver_contributions(model, features)
    scores = frame[keys].reset_index(drop=True).copy()
    scores["churn_probability"] = probability
    scores["risk_band"] = risk_bands(probability, high, medium)
    scores["top_drivers"] = top_drivers(contributions, features, top_n)
    return ScoredBatch(scores=scores, issues=issues)
