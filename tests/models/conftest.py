"""Churn model fixtures: synthetic account snapshots with a known signal, one trained model."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from cxloop.models.features import NUMERIC_FEATURES
from cxloop.models.train import TrainResult, train_churn_model

SIGNAL_FEATURES = ("avg_first_reply_minutes_90d", "last_nps", "tickets_high_priority_90d")


def make_snapshots(
    n_accounts: int = 300, n_months: int = 24, seed: int = 7, strength: float = 1.0
) -> pd.DataFrame:
    """Month-end snapshots; churn risk rises with slow replies, low NPS and urgent tickets.

    The last three months have no label yet (their horizon has not passed).
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-31", periods=n_months, freq="ME")
    account_ids = [f"001A{i:06d}" for i in range(n_accounts)]
    plan = rng.choice(["starter", "growth", "enterprise"], n_accounts, p=[0.5, 0.35, 0.15])
    region = rng.choice(["emea", "amer", "apac"], n_accounts)
    industry = rng.choice(["software", "retail", "health", "finance"], n_accounts)
    n = n_accounts * n_months
    frame = pd.DataFrame(
        {
            "account_id": np.tile(account_ids, n_months),
            "snapshot_date": np.repeat(dates, n_accounts),
            "plan": np.tile(plan, n_months),
            "region": np.tile(region, n_months),
            "industry": np.tile(industry, n_months),
        }
    )
    frame.insert(
        0, "snapshot_id", frame["account_id"] + "-" + frame["snapshot_date"].dt.strftime("%Y%m%d")
    )
    for col in NUMERIC_FEATURES:
        frame[col] = rng.normal(50, 15, n).round(1)
    reply = rng.lognormal(np.log(120), 0.6, n)
    nps = rng.integers(0, 11, n).astype(float)
    urgent = rng.poisson(1.0, n).astype(float)
    frame["avg_first_reply_minutes_90d"] = reply.round(1)
    frame["last_nps"] = nps
    frame["tickets_high_priority_90d"] = urgent
    logit = -2.0 + strength * (
        1.4 * (np.log(reply) - np.log(120)) / 0.6 - 1.1 * (nps - 5) / 3.2 + 0.6 * (urgent - 1.0)
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    label = pd.Series(churned, dtype="boolean")
    label[frame["snapshot_date"] > dates[-4]] = pd.NA
    frame["churned_within_horizon"] = label
    blanks = rng.random(n) < 0.08
    frame.loc[blanks, "csat_avg_180d"] = np.nan
    frame.loc[rng.random(n) < 0.05, "days_since_last_touch"] = np.nan
    frame.loc[rng.random(n) < 0.03, "industry"] = None
    return frame


@pytest.fixture(scope="session")
def snapshot_factory() -> Callable[..., pd.DataFrame]:
    """The generator itself, for tests that need other sizes or seeds."""
    return make_snapshots


@pytest.fixture(scope="session")
def signal_features() -> tuple[str, ...]:
    """The features that drive churn in the synthetic data (the rest are noise)."""
    return SIGNAL_FEATURES


@pytest.fixture(scope="session")
def snapshots() -> pd.DataFrame:
    """300 accounts x 24 months (7,200 rows), the last 3 months unlabelled."""
    return make_snapshots()


@pytest.fixture(scope="session")
def trained(snapshots: pd.DataFrame) -> TrainResult:
    """One model trained on `snapshots` (shared: training takes about a second)."""
    return train_churn_model(snapshots)
