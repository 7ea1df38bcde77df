"""The registry: versions on disk, complete metadata, and promotion only when better."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxloop.models.registry import (
    current_version,
    list_versions,
    load_current,
    load_version,
    promote_if_better,
    register,
)
from cxloop.models.train import TrainResult, train_churn_model


def with_training_labels_shuffled(frame: pd.DataFrame, before: str) -> pd.DataFrame:
    """The same snapshots, but labels before `before` are shuffled: a model learns noise."""
    out = frame.copy()
    early = (out["snapshot_date"] < pd.Timestamp(before)) & out["churned_within_horizon"].notna()
    rng = np.random.default_rng(1)
    out.loc[early, "churned_within_horizon"] = rng.permutation(
        out.loc[early, "churned_within_horizon"].to_numpy()
    )
    return out


@pytest.fixture(scope="module")
def weak(snapshots: pd.DataFrame, trained: TrainResult) -> TrainResult:
    """A model trained on noise, judged on the same test window as `trained`."""
    result = train_churn_model(
        with_training_labels_shuffled(snapshots, trained.window["test"]["start"])
    )
    assert result.window["test"] == trained.window["test"]
    return result


def test_first_version_becomes_current_with_complete_metadata(
    tmp_path: Path, trained: TrainResult, snapshots: pd.DataFrame
) -> None:
    assert load_current(tmp_path) is None
    version = register(trained, tmp_path)
    assert current_version(tmp_path) is None  # registered is not yet current
    promotion = promote_if_better(version, tmp_path)
    assert promotion.promoted and promotion.reason == "first version"
    assert current_version(tmp_path) == version.version == "v0001"

    folder = tmp_path / "churn" / "v0001"
    metadata = json.loads((folder / "metadata.json").read_text())
    for key in (
        "version",
        "created_at",
        "estimator",
        "features",
        "data_window",
        "metrics",
        "libraries",
        "training_data_sha256",
        "horizon_days",
        "reference_values",
    ):
        assert metadata[key] not in (None, {}, ""), key
    assert set(metadata["libraries"]) >= {"scikit-learn", "pandas", "numpy"}
    assert set(metadata["data_window"]) >= {"fit", "calibration", "test"}
    assert metadata["data_window"]["test"]["start"] > metadata["data_window"]["fit"]["end"]
    assert metadata["features"]["numeric"] == list(trained.model.spec.numeric)
    assert len(metadata["training_data_sha256"]) == 64
    assert metadata["metrics"]["roc_auc"] == trained.metrics["roc_auc"]

    loaded = load_current(tmp_path)
    frame = trained.test_features.head(50)
    np.testing.assert_array_equal(
        loaded.model.predict_proba(frame), trained.model.predict_proba(frame)
    )
    assert not [p for p in (tmp_path / "churn").iterdir() if p.name.startswith(".")]


def test_a_worse_candidate_is_not_promoted(
    tmp_path: Path, trained: TrainResult, weak: TrainResult
) -> None:
    promote_if_better(register(trained, tmp_path), tmp_path)
    promotion = promote_if_better(register(weak, tmp_path), tmp_path)
    assert not promotion.promoted
    assert promotion.previous_score > promotion.candidate_score
    assert "does not beat v0001" in promotion.reason
    assert current_version(tmp_path) == "v0001"
    assert list_versions(tmp_path) == ["v0001", "v0002"]


def test_a_better_candidate_is_promoted(
    tmp_path: Path, trained: TrainResult, weak: TrainResult
) -> None:
    promote_if_better(register(weak, tmp_path), tmp_path)
    promotion = promote_if_better(register(trained, tmp_path), tmp_path)
    assert promotion.promoted and promotion.previous_version == "v0001"
    assert promotion.candidate_score > promotion.previous_score
    assert current_version(tmp_path) == "v0002"


def test_an_equal_candidate_is_not_promoted(tmp_path: Path, trained: TrainResult) -> None:
    promote_if_better(register(trained, tmp_path), tmp_path)
    promotion = promote_if_better(register(trained, tmp_path), tmp_path)
    assert not promotion.promoted
    assert promotion.candidate_score == pytest.approx(promotion.previous_score)


def test_promotion_needs_the_candidates_test_set(tmp_path: Path, trained: TrainResult) -> None:
    register(trained, tmp_path)
    with pytest.raises(ValueError, match="no test set"):
        promote_if_better(load_version(tmp_path, "v0001"), tmp_path)


def test_a_broken_current_pointer_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "churn").mkdir()
    (tmp_path / "churn" / "current").write_text("v0042\n")
    with pytest.raises(FileNotFoundError, match="v0042.*metadata.json"):
        load_current(tmp_path)
