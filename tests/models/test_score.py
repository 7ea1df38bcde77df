"""Scoring: probabilities, bands, drivers that point at the signal, and messy input survived."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxloop.models.score import risk_bands, score_frame
from cxloop.models.train import TrainResult


def latest(snapshots: pd.DataFrame) -> pd.DataFrame:
    return snapshots[snapshots["snapshot_date"] == snapshots["snapshot_date"].max()].copy()


def test_top_drivers_point_at_the_features_that_carry_the_signal(
    snapshots: pd.DataFrame, trained: TrainResult, signal_features: tuple[str, ...]
) -> None:
    batch = score_frame(trained.model, latest(snapshots))
    drivers = [json.loads(text) for text in batch.scores["top_drivers"]]
    at_risk = batch.scores["risk_band"].to_numpy() != "low"
    first = [d[0]["feature"] for d, risky in zip(drivers, at_risk, strict=True) if risky and d]
    assert len(first) >= 30
    assert np.mean([f in signal_features for f in first]) >= 0.9
    for row_drivers in drivers:
        assert len(row_drivers) <= 3
        contributions = [d["contribution"] for d in row_drivers]
        assert all(c > 0 for c in contributions) and contributions == sorted(contributions)[::-1]


def test_driver_values_are_the_accounts_own_values(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    frame = latest(snapshots).reset_index(drop=True)
    frame.loc[0, ["avg_first_reply_minutes_90d", "last_nps", "tickets_high_priority_90d"]] = [
        250.0,
        2.0,
        3.0,
    ]
    batch = score_frame(trained.model, frame)
    drivers = {d["feature"]: d["value"] for d in json.loads(batch.scores.loc[0, "top_drivers"])}
    assert drivers == {
        "avg_first_reply_minutes_90d": 250,
        "last_nps": 2,
        "tickets_high_priority_90d": 3,
    }
    assert batch.scores.loc[0, "risk_band"] == "high"


def test_blanks_mixed_types_and_unseen_categories_are_scored_and_counted(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    frame = latest(snapshots).reset_index(drop=True)
    frame["seats"] = frame["seats"].astype(object)
    frame.loc[0:2, "seats"] = ["n/a", "", "  "]
    frame.loc[3, "seats"] = "42"
    frame["tenure_days"] = frame["tenure_days"].astype(object)
    frame.loc[4, "tenure_days"] = "inf"
    frame["plan"] = frame["plan"].astype(object)
    frame.loc[5:8, "plan"] = ["platinum", "platinum", 7, None]
    frame.loc[9, "region"] = "   "
    frame.loc[10, "csat_avg_180d"] = None
    batch = score_frame(trained.model, frame)
    scores = batch.scores
    assert len(scores) == len(frame)
    assert scores["churn_probability"].between(0, 1).all()
    issues = batch.issues
    assert issues.unparseable["seats"] == 1 and issues.unparseable["tenure_days"] == 1
    assert issues.blank["seats"] == 2 and issues.blank["region"] == 1
    assert issues.unseen_category["plan"] == 3  # two 'platinum' and one '7'
    assert issues.blank["plan"] == 1
    summary = issues.as_dict()
    assert summary["unseen_category_total"] == 3 and summary["unparseable_total"] == 2


def test_an_unseen_category_scores_like_an_unknown_one(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    frame = latest(snapshots).reset_index(drop=True).head(20)
    unseen, unknown = frame.copy(), frame.copy()
    unseen["plan"] = "platinum"
    unknown["plan"] = "another-new-plan"
    a = score_frame(trained.model, unseen).scores["churn_probability"]
    b = score_frame(trained.model, unknown).scores["churn_probability"]
    np.testing.assert_allclose(a, b)


def test_risk_bands_follow_the_thresholds() -> None:
    p = np.array([0.9, 0.5, 0.49, 0.25, 0.2499, 0.0])
    assert list(risk_bands(p)) == ["high", "high", "medium", "medium", "low", "low"]
    assert list(risk_bands(p, high=0.8, medium=0.1)) == [
        "high",
        "medium",
        "medium",
        "medium",
        "medium",
        "low",
    ]
    with pytest.raises(ValueError, match="medium <= high"):
        risk_bands(p, high=0.2, medium=0.3)


def test_band_counts_cover_every_band(snapshots: pd.DataFrame, trained: TrainResult) -> None:
    batch = score_frame(trained.model, latest(snapshots), high=0.99, medium=0.98)
    counts = batch.band_counts()
    assert set(counts) == {"high", "medium", "low"}
    assert sum(counts.values()) == len(batch.scores)
    assert counts["low"] > 0
