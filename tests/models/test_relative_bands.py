"""Relative risk bands: the top shares of the scored accounts, whatever the base rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cxloop.churn.scoring import risk_settings
from cxloop.config import ProjectConfig
from cxloop.models.score import relative_thresholds, score_frame
from cxloop.models.train import TrainResult


def test_thresholds_are_the_probabilities_at_the_shares() -> None:
    # 20 accounts, probabilities 0.20, 0.19, ... 0.01: top 10% = 2 rows (>= 0.19),
    # top 25% = ceil(5.0) = 5 rows (>= 0.16)
    p = np.round(np.arange(20, 0, -1) / 100, 2)
    assert relative_thresholds(p, 0.10, 0.25) == (0.19, 0.16)
    # 7 rows, 10%: ceil(0.7) = 1 row; 25%: ceil(1.75) = 2 rows
    assert relative_thresholds(np.array([0.3, 0.1, 0.2, 0.05, 0.0, 0.01, 0.02]), 0.1, 0.25) == (
        0.3,
        0.2,
    )
    # ties at the line go up: 0.5 is the 2nd highest, and both 0.5 rows are high
    assert relative_thresholds(np.array([0.9, 0.5, 0.5, 0.1]), 0.5, 0.5) == (0.5, 0.5)
    assert relative_thresholds(np.array([]), 0.1, 0.25) == (1.0, 1.0)
    with pytest.raises(ValueError, match="high_share <= medium_share"):
        relative_thresholds(np.array([0.1]), 0.3, 0.2)


def test_relative_mode_marks_the_top_share_high_and_gives_each_its_drivers(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    latest = snapshots[snapshots["snapshot_date"] == snapshots["snapshot_date"].max()]
    n = len(latest)
    batch = score_frame(
        trained.model,
        latest,
        high=0.99,  # absolute lines that would leave nobody high: replaced
        medium=0.98,
        drivers_min_probability=0.99,
        shares=(0.10, 0.25),
    )
    probability = batch.scores["churn_probability"].to_numpy()
    high_line = np.sort(probability)[::-1][int(np.ceil(0.10 * n)) - 1]
    assert batch.thresholds["high"] == pytest.approx(high_line)
    counts = batch.band_counts()
    assert counts["high"] == int(np.ceil(0.10 * n))  # continuous probabilities: no ties
    assert counts["high"] + counts["medium"] == int(np.ceil(0.25 * n))
    risky = batch.scores[batch.scores["risk_band"] != "low"]
    assert all(json.loads(text) for text in risky["top_drivers"])  # every one has drivers


def test_relative_mode_comes_from_cxloop_yaml_unless_thresholds_are_given() -> None:
    config = ProjectConfig(
        sources={}, risk_bands={"mode": "relative", "high_share": 0.05, "medium_share": 0.2}
    )
    risk = risk_settings(config)
    assert (risk.mode, risk.high_share, risk.medium_share) == ("relative", 0.05, 0.2)
    assert risk_settings(config, high=0.6).mode == "absolute"  # a flow parameter wins
    with pytest.raises(ValueError, match="medium_share"):
        ProjectConfig(sources={}, risk_bands={"high_share": 0.3, "medium_share": 0.2})
