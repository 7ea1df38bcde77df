"""Training: it learns the known signal, honestly (time split, gap), and the same way twice."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from cxloop.models.features import CATEGORICAL_FEATURES, CHURN_SPEC, NUMERIC_FEATURES, infer_spec
from cxloop.models.train import (
    CANDIDATES,
    TrainingDataError,
    TrainResult,
    labelled_data,
    time_windows,
    train_churn_model,
)


def test_model_beats_chance_on_the_later_window(trained: TrainResult) -> None:
    metrics = trained.metrics
    assert metrics["roc_auc"] > 0.75
    assert metrics["pr_auc"] > 2 * metrics["base_rate"]
    assert metrics["top_decile_lift"] > 2.0
    assert set(metrics["candidates"]) == set(CANDIDATES)
    best = max(metrics["candidates"].values(), key=lambda m: m["pr_auc"])
    assert metrics["pr_auc"] == best["pr_auc"]
    assert metrics["selected_estimator"] == trained.model.estimator_name
    assert metrics["selection_metric"] == "pr_auc"


def test_calibrated_probabilities_track_the_base_rate(trained: TrainResult) -> None:
    metrics = trained.metrics
    assert abs(metrics["mean_probability"] - metrics["base_rate"]) < 0.05
    assert metrics["brier"] < metrics["base_rate"] * (1 - metrics["base_rate"])


def test_same_data_and_seed_give_the_same_metrics(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    again = train_churn_model(snapshots.sample(frac=1.0, random_state=3))
    assert again.metrics == trained.metrics
    assert again.data_sha256 == trained.data_sha256
    assert again.window == trained.window


@pytest.mark.parametrize(("n_months", "horizon_days"), [(12, 90), (24, 90), (36, 180), (24, 0)])
def test_time_split_never_trains_on_test_dates(
    snapshot_factory, n_months: int, horizon_days: int
) -> None:
    data = labelled_data(snapshot_factory(n_accounts=200, n_months=n_months), CHURN_SPEC)
    masks, window = time_windows(data, CHURN_SPEC, horizon_days=horizon_days, test_fraction=0.25)
    train_dates = set(data.dates[masks["fit"] | masks["calibration"]])
    test_dates = set(data.dates[masks["test"]])
    assert train_dates and test_dates and not train_dates & test_dates
    assert max(train_dates) <= min(test_dates) - timedelta(days=horizon_days)
    assert max(data.dates[masks["fit"]]) < min(data.dates[masks["calibration"]])
    assert not (masks["fit"] & masks["calibration"]).any()
    assert window["test"]["end"] == max(data.dates).date().isoformat()


def test_unlabelled_rows_are_left_out_of_training(snapshots: pd.DataFrame) -> None:
    data = labelled_data(snapshots, CHURN_SPEC)
    assert len(data.labels) == snapshots["churned_within_horizon"].notna().sum()
    assert data.dates.max() < snapshots["snapshot_date"].max()


def test_too_few_labelled_rows_are_refused(snapshots: pd.DataFrame) -> None:
    with pytest.raises(TrainingDataError, match="labelled rows"):
        train_churn_model(snapshots.head(150))


def test_a_single_class_is_refused(snapshots: pd.DataFrame) -> None:
    frame = snapshots.copy()
    frame.loc[frame["churned_within_horizon"].notna(), "churned_within_horizon"] = False
    with pytest.raises(TrainingDataError, match=r"0 churned .* at least 10 of each"):
        train_churn_model(frame)


def test_too_short_a_history_is_refused(snapshot_factory) -> None:
    with pytest.raises(TrainingDataError, match="too few"):
        train_churn_model(snapshot_factory(n_accounts=400, n_months=6))


def test_a_bad_label_names_its_row_and_field(snapshots: pd.DataFrame) -> None:
    frame = snapshots.copy()
    frame["churned_within_horizon"] = frame["churned_within_horizon"].astype(object)
    frame.loc[5, "churned_within_horizon"] = "maybe"
    bad_id = frame.loc[5, "snapshot_id"]
    with pytest.raises(ValueError) as err:
        train_churn_model(frame)
    message = str(err.value)
    assert "row 6" in message and bad_id in message
    assert "'churned_within_horizon'" in message and "'maybe'" in message
    assert "expected true, false or null" in message


def test_text_labels_are_read(snapshots: pd.DataFrame, trained: TrainResult) -> None:
    frame = snapshots.copy()
    label = frame["churned_within_horizon"]
    frame["churned_within_horizon"] = np.where(
        label.isna(), "", np.where(label.fillna(False), "true", "f")
    )
    assert train_churn_model(frame).metrics["roc_auc"] == trained.metrics["roc_auc"]


def test_duplicate_snapshot_ids_are_refused(snapshots: pd.DataFrame) -> None:
    frame = pd.concat([snapshots, snapshots.head(2)], ignore_index=True)
    with pytest.raises(TrainingDataError, match="2 duplicate key"):
        train_churn_model(frame)


def test_missing_columns_are_named(snapshots: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="missing column.*tenure_days"):
        train_churn_model(snapshots.drop(columns=["tenure_days"]))


def test_infer_spec_finds_the_numbers_and_the_categories(snapshots: pd.DataFrame) -> None:
    frame = snapshots.copy()
    frame["seats"] = frame["seats"].astype(str)
    frame["free_text"] = [f"note {i}" for i in range(len(frame))]
    spec = infer_spec(
        frame,
        label="churned_within_horizon",
        time_column="snapshot_date",
        entity_column="account_id",
        id_column="snapshot_id",
    )
    assert set(spec.numeric) == set(NUMERIC_FEATURES)
    assert set(spec.categorical) == set(CATEGORICAL_FEATURES)


def test_threads_one_for_small_batches_and_openmp_only_on_idle_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from threadpoolctl import threadpool_info

    import cxloop.models.train

    def openmp_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"}

    outside = openmp_threads()
    assert outside, "scikit-learn's OpenMP runtime is loaded"
    with cxloop.models.train.thread_limit(10):
        assert openmp_threads() == {1}
    cores = os.cpu_count() or 1
    monkeypatch.setattr(cxloop.models.train.os, "getloadavg", lambda: (cores - 0.1, 0.0, 0.0))
    assert cxloop.models.train.idle_cores() == 1
    with cxloop.models.train.thread_limit(10**6):
        assert openmp_threads() == {1}
    monkeypatch.setattr(cxloop.models.train.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert cxloop.models.train.idle_cores() == cores
    with cxloop.models.train.thread_limit(10**6):
        assert openmp_threads() == outside
