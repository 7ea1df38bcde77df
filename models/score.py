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


def _feature_slices(pipeline: Any, spec: Any) -> dict[str, np.ndarray] | None:
    """Which columns of the preprocessed matrix each feature owns (None if not knowable)."""
    names = list(pipeline[:-1].get_feature_names_out())
    slices: dict[str, np.ndarray] = {}
    for col in spec.numeric:
        own = [f"numeric__{col}", f"numeric__missingindicator_{col}"]
        slices[col] = np.array([names.index(n) for n in own if n in names], dtype=int)
    onehot = pipeline[0].named_transformers_["categorical"].named_steps["onehot"]
    categorical = [i for i, n in enumerate(names) if n.startswith("categorical__")]
    start = categorical[0] if categorical else len(names)
    for i, col in enumerate(spec.categorical):
        infrequent = (onehot.infrequent_categories_ or [None] * len(spec.categorical))[i]
        width = len(onehot.categories_[i]) - (len(infrequent) - 1 if infrequent is not None else 0)
        slices[col] = np.arange(start, start + width)
        start += width
    if start != len(names):
        return None
    return slices


def _calibrated_from_matrix(model: ChurnModel, matrix: np.ndarray) -> np.ndarray:
    """The calibrated probability from an already preprocessed matrix (skips the transform)."""
    probabilities = []
    for calibrated in model.estimator.calibrated_classifiers_:
        final = calibrated.estimator.estimator[-1]  # FrozenEstimator -> Pipeline -> estimator
        raw = final.decision_function(matrix)
        probabilities.append(calibrated.calibrators[0].predict(raw))
    return np.clip(np.mean(probabilities, axis=0), 0.0, 1.0)


def fast_contributions(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame | None:
    """Drivers from one preprocessing pass; None when the shortcut does not reproduce scores."""
    try:
        pipeline = model.estimator.calibrated_classifiers_[0].estimator.estimator
        slices = _feature_slices(pipeline, model.spec)
    except (AttributeError, IndexError, KeyError, ValueError, StopIteration):
        return None
    if slices is None:
        return None
    matrix = np.asarray(pipeline[:-1].transform(features), dtype=np.float64)
    base = _calibrated_from_matrix(model, matrix)
    check = model.predict_proba(features.head(200))
    if not np.allclose(check, base[:200], atol=1e-9):
        return None
    reference = pd.DataFrame([{c: model.reference_values.get(c) for c in model.spec.features}])
    for col in model.spec.categorical:
        reference[col] = reference[col].astype(object)
    reference_row = np.asarray(pipeline[:-1].transform(reference), dtype=np.float64)[0]
    # A contribution is at most the probability itself: below MIN_CONTRIBUTION, no driver.
    rows = np.flatnonzero(base >= MIN_CONTRIBUTION)
    matrix, base_rows = matrix[rows], base[rows]
    contributions = {}
    for col in model.spec.features:
        idx = slices[col]
        saved = matrix[:, idx].copy()
        matrix[:, idx] = reference_row[idx]
        values = np.zeros(len(base))
        values[rows] = base_rows - _calibrated_from_matrix(model, matrix)
        contributions[col] = values
        matrix[:, idx] = saved
    return pd.DataFrame(contributions, index=features.index)


def driver_contributions(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """Per row and feature: probability minus probability with that feature set to typical."""
    fast = fast_contributions(model, features)
    if fast is not None:
        return fast
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
