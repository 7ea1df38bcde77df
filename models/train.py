"""Fit the churn model: time split, two calibrated candidates, the better one kept.

Split (distinct labelled snapshot dates, oldest first):
  [ fit | calibration ] gap [ test ]
The test window is the last `test_fraction` of dates. The gap drops training dates whose label
horizon reaches into the test window (their outcome was not known when the test window began).
Each candidate pipeline is fit on the fit window and Platt-calibrated on the calibration window;
the candidate with the better test PR-AUC is kept. We score with that same model (no refit on
all data), so the metrics describe the model that scores and later versions can be compared
with it on their own test window without it having seen that window.

Over 400 lines on purpose: the split, both candidates, calibration and evaluation are one
fitting procedure whose steps share the same window arithmetic.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from cxloop.models.evaluate import classification_metrics
from cxloop.models.features import (
    CHURN_SPEC,
    FeatureDataError,
    FeatureSpec,
    coerce_dates,
    coerce_features,
    coerce_label,
    require_columns,
)

RANDOM_STATE = 0
TEST_FRACTION = 0.25
CALIBRATION_FRACTION = 0.2
MIN_LABELLED_ROWS = 200
MIN_ROWS_PER_CLASS = 10
SELECTION_METRIC = "pr_auc"
CANDIDATES = ("hist_gradient_boosting", "logistic_regression")
SINGLE_THREAD_BELOW_ROWS = 100_000


class TrainingDataError(FeatureDataError):
    """The labelled data cannot give an honest model (too few rows, dates or one class)."""


@dataclass
class ChurnModel:
    """A fitted, calibrated pipeline and what scoring needs beside it."""

    estimator: CalibratedClassifierCV
    spec: FeatureSpec
    estimator_name: str
    reference_values: dict[str, Any]
    known_categories: dict[str, list[str]]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Churn probability per row of already coerced feature columns."""
        return self.estimator.predict_proba(features[list(self.spec.features)])[:, 1]


@dataclass
class TrainResult:
    """A trained model, its test metrics, its data window and its test set (for comparisons)."""

    model: ChurnModel
    metrics: dict[str, Any]
    window: dict[str, Any]
    test_features: pd.DataFrame
    test_labels: np.ndarray
    data_sha256: str
    horizon_days: int
    random_state: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class LabelledData:
    """Coerced features, labels and dates of the rows whose outcome is known."""

    features: pd.DataFrame
    labels: np.ndarray
    dates: pd.Series


def idle_cores() -> int:
    """Cores the last minute's load average left idle (at least 1, at most all of them)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return cores
    return max(1, min(cores, round(cores - load)))


def thread_limit(n_rows: int) -> threadpool_limits:
    """Threads for OpenMP (gradient boosting) and BLAS while fitting or scoring `n_rows` rows.

    One thread of each for small batches: on 2 cores, thread start-up costs more (10x). Above
    that, OpenMP gets only the cores the load average leaves idle: its threads spin while they
    wait for each other, and one descheduled by another process made fitting at scale 10 take
    3x the CPU (23 s instead of 7 s at load 5-7; 58 s instead of 13 s at load 1.9 on 2 cores).
    Gradient boosting grows the same trees on any number of threads; BLAS keeps its threads, so
    the linear model's numbers do not depend on the machine's load.
    """
    if n_rows < SINGLE_THREAD_BELOW_ROWS:
        return threadpool_limits(limits=1)
    idle = idle_cores()
    if idle < (os.cpu_count() or 1):
        return threadpool_limits(limits=idle, user_api="openmp")
    return threadpool_limits(limits=None)


def build_preprocessor(spec: FeatureSpec, *, scale: bool) -> ColumnTransformer:
    """Median impute (+ missing flags) numbers, 'unknown' impute and one-hot categories."""
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="unknown")),
            (
                "onehot",
                OneHotEncoder(handle_unknown="ignore", min_frequency=20),
            ),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), list(spec.numeric)),
            ("categorical", categorical, list(spec.categorical)),
        ],
        sparse_threshold=0.0,
    )


def build_pipeline(name: str, spec: FeatureSpec, random_state: int = RANDOM_STATE) -> Pipeline:
    """One candidate: the preprocessor and its estimator, in one Pipeline."""
    if name == "hist_gradient_boosting":
        estimator: Any = HistGradientBoostingClassifier(
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=random_state,
        )
        return Pipeline([("features", build_preprocessor(spec, scale=False)), ("model", estimator)])
    if name == "logistic_regression":
        estimator = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
        return Pipeline([("features", build_preprocessor(spec, scale=True)), ("model", estimator)])
    raise ValueError(f"unknown candidate {name!r} (expected one of {', '.join(CANDIDATES)})")


def labelled_data(frame: pd.DataFrame, spec: FeatureSpec) -> LabelledData:
    """The rows with a known outcome in key order, coerced; duplicate keys, bad labels refused."""
    require_columns(frame, (*spec.key_columns, spec.label), spec.source)
    duplicated = frame[spec.id_column].duplicated()
    if duplicated.any():
        first = frame.loc[duplicated, spec.id_column].iloc[0]
        raise TrainingDataError(
            f"{spec.source}, field '{spec.id_column}': {int(duplicated.sum())} duplicate key(s), "
            f"e.g. {first!r} (expected one row per snapshot)"
        )
    labels = coerce_label(frame, spec)  # before sorting, so errors name the input row
    order = np.argsort(frame[spec.id_column].astype(str).to_numpy(), kind="stable")
    frame, labels = frame.iloc[order], labels.iloc[order]
    known = frame.loc[labels.notna()]
    features, _ = coerce_features(known, spec)
    return LabelledData(
        features=features.reset_index(drop=True),
        labels=labels[labels.notna()].to_numpy(dtype=int),
        dates=coerce_dates(known, spec).reset_index(drop=True),
    )


def split_dates(
    dates: list[pd.Timestamp], holdout_fraction: float, gap_days: int
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """(earlier, holdout) distinct dates; earlier ones within gap_days of the holdout dropped."""
    unique = sorted(set(dates))
    if len(unique) < 2:
        return [], unique
    n_holdout = max(1, math.ceil(len(unique) * holdout_fraction))
    holdout = unique[-n_holdout:]
    cutoff = holdout[0] - timedelta(days=gap_days)
    earlier = [d for d in unique[:-n_holdout] if d <= cutoff]
    return earlier, holdout


def _window(data: LabelledData, mask: np.ndarray, name: str, spec: FeatureSpec) -> dict[str, Any]:
    """Describe one window and refuse it when it cannot train or judge a model."""
    labels = data.labels[mask]
    positives = int(labels.sum())
    if min(positives, len(labels) - positives) < MIN_ROWS_PER_CLASS:
        raise TrainingDataError(
            f"{spec.source}: the {name} window has {positives} churned and "
            f"{len(labels) - positives} retained labelled rows "
            f"(expected at least {MIN_ROWS_PER_CLASS} of each)"
        )
    dates = data.dates[mask]
    return {
        "start": dates.min().date().isoformat(),
        "end": dates.max().date().isoformat(),
        "n_dates": int(dates.nunique()),
        "n_rows": int(mask.sum()),
        "n_positive": positives,
    }


def require_rows(n_rows: int, spec: FeatureSpec, minimum: int) -> None:
    """Refuse fewer labelled rows than `minimum`."""
    if n_rows < minimum:
        raise TrainingDataError(
            f"{spec.source}: {n_rows} labelled rows "
            f"(expected at least {minimum} with a known '{spec.label}')"
        )


def time_windows(
    data: LabelledData,
    spec: FeatureSpec,
    *,
    horizon_days: int,
    test_fraction: float,
    min_rows: int = MIN_LABELLED_ROWS,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Row masks and descriptions of the fit, calibration and test windows."""
    require_rows(len(data.labels), spec, min_rows)
    train_dates, test_dates = split_dates(
        list(data.dates.drop_duplicates()), test_fraction, horizon_days
    )
    fit_dates, calibration_dates = split_dates(train_dates, CALIBRATION_FRACTION, 0)
    if not fit_dates:
        raise TrainingDataError(
            f"{spec.source}: {data.dates.nunique()} labelled snapshot dates are too few for a "
            f"test window, a {horizon_days}-day gap, a calibration window and a fit window "
            "(expected more months of history)"
        )
    masks = {
        "fit": data.dates.isin(fit_dates).to_numpy(),
        "calibration": data.dates.isin(calibration_dates).to_numpy(),
        "test": data.dates.isin(test_dates).to_numpy(),
    }
    window = {name: _window(data, mask, name, spec) for name, mask in masks.items()}
    window["gap_days"] = horizon_days
    return masks, window


def fit_calibrated(
    name: str, data: LabelledData, masks: dict[str, np.ndarray], spec: FeatureSpec, seed: int
) -> CalibratedClassifierCV:
    """Fit one candidate on the fit window, then Platt-calibrate it on the calibration window."""
    pipeline = build_pipeline(name, spec, seed)
    pipeline.fit(data.features[masks["fit"]], data.labels[masks["fit"]])
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
    calibrated.fit(data.features[masks["calibration"]], data.labels[masks["calibration"]])
    return calibrated


def reference_values(features: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """The training median of each number and the mode of each category (for drivers)."""
    values: dict[str, Any] = {}
    for col in spec.numeric:
        median = features[col].median()
        values[col] = None if pd.isna(median) else float(median)
    for col in spec.categorical:
        counts = features[col].value_counts(dropna=True)
        values[col] = str(counts.index[0]) if len(counts) else None
    return values


def data_fingerprint(frame: pd.DataFrame, spec: FeatureSpec) -> str:
    """sha256 of the training rows, independent of row and column order."""
    ordered = frame.sort_values(spec.id_column, kind="stable")[sorted(map(str, frame.columns))]
    hashes = pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy()
    digest = hashlib.sha256(hashes.tobytes())
    digest.update("|".join(ordered.columns).encode())
    return digest.hexdigest()


def choose(candidates: dict[str, dict[str, float]]) -> str:
    """The candidate with the best test PR-AUC (then ROC-AUC); ties keep the first listed."""
    return max(
        candidates, key=lambda n: (candidates[n][SELECTION_METRIC], candidates[n]["roc_auc"])
    )


def stratified_windows(
    data: LabelledData,
    spec: FeatureSpec,
    *,
    test_fraction: float,
    random_state: int,
    min_rows: int = MIN_LABELLED_ROWS,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Random fit/calibration/test masks keeping the churn rate in each (no time column)."""
    require_rows(len(data.labels), spec, min_rows)
    rows = np.arange(len(data.labels))
    rest, test = train_test_split(
        rows, test_size=test_fraction, stratify=data.labels, random_state=random_state
    )
    fit, calibration = train_test_split(
        rest,
        test_size=CALIBRATION_FRACTION,
        stratify=data.labels[rest],
        random_state=random_state,
    )
    masks = {}
    for name, picked in (("fit", fit), ("calibration", calibration), ("test", test)):
        masks[name] = np.isin(rows, picked)
    window: dict[str, Any] = {}
    for name, mask in masks.items():
        labels = data.labels[mask]
        positives = int(labels.sum())
        if min(positives, len(labels) - positives) < MIN_ROWS_PER_CLASS // 2:
            raise TrainingDataError(
                f"{spec.source}: the {name} split has {positives} positive and "
                f"{len(labels) - positives} negative rows (expected at least "
                f"{MIN_ROWS_PER_CLASS // 2} of each; more rows of the rarer class are needed)"
            )
        window[name] = {"n_rows": int(mask.sum()), "n_positive": positives}
    window["split"] = "stratified"
    return masks, window


def train_churn_model(
    frame: pd.DataFrame,
    spec: FeatureSpec = CHURN_SPEC,
    *,
    horizon_days: int = 90,
    test_fraction: float = TEST_FRACTION,
    random_state: int = RANDOM_STATE,
    min_rows: int = MIN_LABELLED_ROWS,
) -> TrainResult:
    """Train both candidates on the earlier snapshots, judge them on the later ones, keep one."""
    data = labelled_data(frame, spec)
    masks, window = time_windows(
        data, spec, horizon_days=horizon_days, test_fraction=test_fraction, min_rows=min_rows
    )
    return fit_and_select(frame, data, masks, window, spec, horizon_days, random_state)


def fit_and_select(
    frame: pd.DataFrame,
    data: LabelledData,
    masks: dict[str, np.ndarray],
    window: dict[str, Any],
    spec: FeatureSpec,
    horizon_days: int,
    random_state: int,
) -> TrainResult:
    """Fit and calibrate both candidates on the given windows; keep the better on the test."""
    test_x, test_y = data.features[masks["test"]], data.labels[masks["test"]]
    with thread_limit(len(data.labels)):
        fitted = {n: fit_calibrated(n, data, masks, spec, random_state) for n in CANDIDATES}
        scores = {
            name: classification_metrics(test_y, model.predict_proba(test_x)[:, 1])
            for name, model in fitted.items()
        }
    selected = choose(scores)
    train_mask = masks["fit"] | masks["calibration"]
    train_features = data.features[train_mask]
    model = ChurnModel(
        estimator=fitted[selected],
        spec=spec,
        estimator_name=selected,
        reference_values=reference_values(train_features, spec),
        known_categories={
            c: sorted(train_features[c].dropna().unique().tolist()) for c in spec.categorical
        },
    )
    metrics = {
        **{k: v for k, v in scores[selected].items() if k not in ("n", "n_positive")},
        "selected_estimator": selected,
        "selection_metric": SELECTION_METRIC,
        "calibration": "sigmoid",
        "n_train": window["fit"]["n_rows"],
        "n_calibration": window["calibration"]["n_rows"],
        "n_test": window["test"]["n_rows"],
        "test_window": (
            f"{window['test']['start']}..{window['test']['end']}"
            if "start" in window["test"]
            else "stratified sample"
        ),
        "candidates": scores,
    }
    return TrainResult(
        model=model,
        metrics=metrics,
        window=window,
        test_features=test_x.reset_index(drop=True),
        test_labels=test_y,
        data_sha256=data_fingerprint(frame, spec),
        horizon_days=horizon_days,
        random_state=random_state,
    )
