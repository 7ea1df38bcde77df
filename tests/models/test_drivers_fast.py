"""The fast drivers give, bit for bit, what the whole pipeline gives on the replaced frame."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from cxloop.models.features import coerce_features
from cxloop.models.score import (
    MIN_CONTRIBUTION,
    predict_with_drivers,
    reference_contributions,
    score_frame,
)
from cxloop.models.train import (
    ChurnModel,
    TrainResult,
    build_pipeline,
    fit_calibrated,
    labelled_data,
    time_windows,
)


def candidate(snapshots: pd.DataFrame, trained: TrainResult, name: str) -> ChurnModel:
    """One calibrated candidate as a ChurnModel (the fixture's model is whichever won)."""
    spec = trained.model.spec
    data = labelled_data(snapshots, spec)
    masks, _ = time_windows(data, spec, horizon_days=90, test_fraction=0.25)
    return ChurnModel(
        estimator=fit_calibrated(name, data, masks, spec, 0),
        spec=spec,
        estimator_name=name,
        reference_values=trained.model.reference_values,
        known_categories=trained.model.known_categories,
    )


FAST = {"hist_gradient_boosting": "trees", "logistic_regression": "matrix"}


def assert_same(actual: np.ndarray, expected: np.ndarray, model: ChurnModel) -> None:
    """Bit for bit for the trees; for the linear model, a matrix product over a different set
    of rows may round differently in the last bit."""
    if model.estimator_name == "hist_gradient_boosting":
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-15)


@pytest.fixture(scope="module", params=["hist_gradient_boosting", "logistic_regression"])
def model(request: pytest.FixtureRequest, snapshots: pd.DataFrame, trained: TrainResult):
    return candidate(snapshots, trained, request.param)


@pytest.fixture(scope="module")
def features(snapshots: pd.DataFrame, trained: TrainResult) -> pd.DataFrame:
    """600 rows with blanks (the fixture has missing CSAT, touches and industries)."""
    frame, _ = coerce_features(
        snapshots.head(600), trained.model.spec, trained.model.known_categories
    )
    return frame


def test_fast_drivers_equal_the_reference(model: ChurnModel, features) -> None:
    probability, drivers = predict_with_drivers(model, features, min_probability=0.0)
    assert drivers.method == FAST[model.estimator_name]  # no fallback to the full pipeline
    np.testing.assert_array_equal(probability, model.predict_proba(features))
    risky = np.flatnonzero(probability >= MIN_CONTRIBUTION)
    assert len(risky) > 100
    np.testing.assert_array_equal(drivers.rows, risky)  # below 1 point no driver is possible
    expected = reference_contributions(model, features.iloc[risky]).to_numpy()
    assert_same(drivers.contributions, expected, model)


def test_only_rows_at_or_above_the_floor_get_contributions(model: ChurnModel, features) -> None:
    probability, all_rows = predict_with_drivers(model, features, min_probability=0.0)
    floor = float(np.quantile(probability, 0.7))
    _, some = predict_with_drivers(model, features, min_probability=floor)
    assert some.method == all_rows.method == FAST[model.estimator_name]
    np.testing.assert_array_equal(some.rows, np.flatnonzero(probability >= floor))
    keep = np.isin(all_rows.rows, some.rows)
    assert_same(some.contributions, all_rows.contributions[keep], model)
    full = some.frame(features.index)
    assert (full.to_numpy()[probability < floor] == 0).all()


def test_low_band_rows_get_no_drivers_and_the_others_the_reference_ranking(
    snapshots: pd.DataFrame, model: ChurnModel
) -> None:
    latest = snapshots[snapshots["snapshot_date"] == snapshots["snapshot_date"].max()]
    batch = score_frame(model, latest, high=0.5, medium=0.2)
    scores = batch.scores
    low = scores["risk_band"] == "low"
    assert low.any() and (~low).sum() >= 10
    assert (scores.loc[low, "top_drivers"] == "[]").all()
    assert batch.driver_rows == int((~low).sum())

    everyone = score_frame(model, latest, high=0.5, medium=0.2, drivers_min_probability=0.0)
    np.testing.assert_array_equal(everyone.scores["churn_probability"], scores["churn_probability"])
    pd.testing.assert_series_equal(
        everyone.scores.loc[~low, "top_drivers"], scores.loc[~low, "top_drivers"]
    )
    assert (everyone.scores.loc[low, "top_drivers"] != "[]").any()  # they had some to show

    features, _ = coerce_features(latest, model.spec, model.known_categories)
    reference = reference_contributions(model, features.reset_index(drop=True))
    for position in np.flatnonzero(~low.to_numpy()):
        listed = [d["feature"] for d in json.loads(scores.loc[position, "top_drivers"])]
        row = reference.iloc[position]
        ranked = row[row >= MIN_CONTRIBUTION].sort_values(ascending=False, kind="stable")
        assert listed == list(ranked.index[: len(listed)]) and len(listed) == min(3, len(ranked))


def test_a_model_the_fast_path_does_not_know_is_scored_by_the_full_pipeline(
    snapshots: pd.DataFrame, trained: TrainResult, features
) -> None:
    spec = trained.model.spec
    data = labelled_data(snapshots, spec)
    cross_fitted = CalibratedClassifierCV(build_pipeline("logistic_regression", spec), cv=2)
    cross_fitted.fit(data.features, data.labels)  # two calibrated pipelines, averaged
    model = ChurnModel(
        estimator=cross_fitted,
        spec=spec,
        estimator_name="logistic_regression",
        reference_values=trained.model.reference_values,
        known_categories=trained.model.known_categories,
    )
    probability, drivers = predict_with_drivers(model, features, min_probability=0.3)
    assert drivers.method == "full pipeline"
    np.testing.assert_array_equal(probability, model.predict_proba(features))
    np.testing.assert_array_equal(drivers.rows, np.flatnonzero(probability >= 0.3))
    expected = reference_contributions(model, features.iloc[drivers.rows]).to_numpy()
    np.testing.assert_allclose(drivers.contributions, expected, rtol=0, atol=1e-12)


def test_many_rows_are_scored_in_chunks_on_two_threads_with_the_same_result(
    model: ChurnModel, features, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cxloop.models.score

    one_chunk = predict_with_drivers(model, features, min_probability=0.2, workers=1)
    monkeypatch.setattr(cxloop.models.score, "CHUNK_ROWS", 64)  # 10 chunks over 2 worker threads
    chunked = predict_with_drivers(model, features, min_probability=0.2, workers=2)
    assert chunked[1].method == FAST[model.estimator_name]
    assert_same(chunked[0], one_chunk[0], model)
    np.testing.assert_array_equal(chunked[1].rows, one_chunk[1].rows)
    assert_same(chunked[1].contributions, one_chunk[1].contributions, model)
