"""Synthetic churn snapshots: every feature column of ml.account_snapshots, demo-like blanks, a
label a model can learn. For benchmarks and tests of the churn model at sizes the demo lacks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxloop.models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from cxloop.warehouse import writer

# Columns dbt types BIGINT in ml.account_snapshots (DuckDB hands them back as nullable Int64).
INTEGER_FEATURES = (
    "tenure_days",
    "seats",
    "days_to_renewal",
    "tickets_90d",
    "tickets_high_priority_90d",
    "reopens_90d",
    "bad_ratings_180d",
    "csat_responses_180d",
    "last_nps",
    "nps_change",
    "survey_responses_365d",
    "days_since_last_touch",
)
# Share of missing values per column in the scale-1 demo's snapshots (no survey, no rating yet).
MISSING_SHARE = {
    "last_nps": 0.43,
    "nps_change": 0.55,
    "csat_avg_180d": 0.65,
    "days_since_last_touch": 0.31,
}


def synthetic_snapshots(n_rows: int, n_months: int = 36, seed: int = 0) -> pd.DataFrame:
    """Month-end snapshot rows with every feature column, demo-like blanks, a learnable label."""
    rng = np.random.default_rng(seed)
    n_accounts = max(1, n_rows // n_months)
    dates = pd.date_range("2022-01-31", periods=n_months, freq="ME")
    accounts = np.array([f"001B{i:09d}" for i in range(n_accounts)], dtype=object)
    frame = pd.DataFrame(
        {
            "account_id": np.tile(accounts, n_months)[:n_rows],
            "snapshot_date": np.repeat(dates, n_accounts)[:n_rows],
        }
    )
    frame["snapshot_id"] = frame["account_id"] + "-" + frame["snapshot_date"].dt.strftime("%F")
    for col in NUMERIC_FEATURES:
        frame[col] = rng.normal(50, 15, len(frame)).round(1)
    for col, values in zip(
        CATEGORICAL_FEATURES,
        (
            ["Starter", "Growth", "Enterprise"],
            ["NA", "EMEA", "APAC"],
            ["Tech", "Retail", "Health", "Finance"],
        ),
        strict=True,
    ):
        frame[col] = rng.choice(values, len(frame))
    for col, share in MISSING_SHARE.items():
        frame.loc[rng.random(len(frame)) < share, col] = np.nan
    renewal = rng.integers(0, 365, len(frame)).astype(float)
    frame["days_to_renewal"] = renewal
    reply, nps = frame["avg_first_reply_minutes_90d"], frame["last_nps"]
    logit = (  # thresholds and an interaction, as in the demo, where gradient boosting wins
        -3.0
        + np.where(reply > 65, 1.2, 0.0)
        + np.where(nps < 35, 1.0, np.where(nps.isna(), 0.3, 0.0))
        + np.where((frame["plan"] == "Starter") & (frame["tickets_90d"] > 60), 1.0, 0.0)
        + np.where(renewal < 90, 1.5, -2.0)
    )
    label = pd.Series(rng.random(len(frame)) < 1 / (1 + np.exp(-logit)), dtype="boolean")
    if n_months > 3:  # the newest three months have no outcome yet
        label[frame["snapshot_date"] > dates[-4]] = pd.NA
    frame["churned_within_horizon"] = label
    return frame


def write_snapshots(warehouse: Path, frame: pd.DataFrame) -> None:
    """ml.account_snapshots with the column types dbt gives it (BIGINT counts, DATE)."""
    casts = ", ".join(
        [f"cast(round({c}) as bigint) as {c}" for c in INTEGER_FEATURES]
        + ["cast(snapshot_date as date) as snapshot_date"]
    )
    with writer(warehouse) as con:
        con.execute("create schema if not exists ml")
        con.register("snapshots_df", frame)
        con.execute(
            f"create or replace table ml.account_snapshots as "
            f"select * replace ({casts}) from snapshots_df"
        )
        con.unregister("snapshots_df")
