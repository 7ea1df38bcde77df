"""Churn model benchmarks (measured, not tests): scoring speed, training speed, demo quality.

Usage:
  python -m benchmarks.churn --score [--rows 1000000]     scoring 1M synthetic snapshot rows
  python -m benchmarks.churn --train [--rows 360000]      training at scale-10-like volume
  python -m benchmarks.churn --quality --home DIR         our test-window AUC beside the truth's
  (--quality needs a built demo: `CXLOOP_HOME=DIR cxloop demo --scale 1 --fresh`.)
Goals (issue 5): scoring 1,000,000 accounts < 30 s, training at scale 10 < 2 min on 2 cores;
on the scale-1 demo ROC-AUC >= 0.80 and top-decile lift >= 3.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.evaluate import classification_metrics
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from models.score import score_frame
from models.train import train_churn_model


def synthetic_snapshots(n_rows: int, n_months: int = 36, seed: int = 0) -> pd.DataFrame:
    """Month-end snapshot rows with every feature column and a learnable label."""
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
    frame.loc[rng.random(len(frame)) < 0.1, "last_nps"] = np.nan
    renewal = rng.integers(0, 365, len(frame)).astype(float)
    frame["days_to_renewal"] = renewal
    logit = (
        -3.0
        + 0.04 * (frame["avg_first_reply_minutes_90d"] - 50)
        - 0.03 * (frame["last_nps"].fillna(50) - 50)
        + np.where(renewal < 90, 1.5, -2.0)
    )
    label = pd.Series(rng.random(len(frame)) < 1 / (1 + np.exp(-logit)), dtype="boolean")
    if n_months > 3:  # the newest three months have no outcome yet
        label[frame["snapshot_date"] > dates[-4]] = pd.NA
    frame["churned_within_horizon"] = label
    return frame


def bench_score(n_rows: int) -> dict[str, Any]:
    """Train a model on a small frame, then time scoring `n_rows` accounts (drivers included)."""
    model = train_churn_model(synthetic_snapshots(20_000, seed=1)).model
    frame = synthetic_snapshots(n_rows, n_months=1, seed=2)
    t0 = time.perf_counter()
    batch = score_frame(model, frame)
    seconds = time.perf_counter() - t0
    return {
        "benchmark": "churn_score",
        "rows": len(batch.scores),
        "seconds": round(seconds, 1),
        "rows_per_second": round(len(batch.scores) / seconds),
        "goal_seconds": 30,
    }


def bench_train(n_rows: int) -> dict[str, Any]:
    """Time training (both candidates, calibration, evaluation) on `n_rows` snapshot rows."""
    frame = synthetic_snapshots(n_rows, seed=3)
    t0 = time.perf_counter()
    result = train_churn_model(frame)
    seconds = time.perf_counter() - t0
    return {
        "benchmark": "churn_train",
        "rows": len(frame),
        "seconds": round(seconds, 1),
        "roc_auc": round(result.metrics["roc_auc"], 4),
        "goal_seconds": 120,
    }


def truth_probability(snapshots: pd.DataFrame, truth: pd.DataFrame, horizon_days: int) -> pd.Series:
    """The generator's propensity where its renewal decision falls in the snapshot's horizon.

    Churn happens only at renewal decisions, so a snapshot with no decision in its horizon has
    a true probability of 0; one whose horizon holds a decision the truth file does not list
    (an earlier, renewed term) is NaN and left out.
    """
    joined = snapshots[["account_id", "snapshot_date", "days_to_renewal"]].merge(
        truth, on="account_id", how="left"
    )
    start = pd.to_datetime(joined["snapshot_date"])
    end = start + timedelta(days=horizon_days)
    decision = pd.to_datetime(joined["decision_date"])
    in_horizon = (decision > start) & (decision <= end)
    renewal_in_horizon = joined["days_to_renewal"].fillna(10**6) < horizon_days
    probability = np.where(in_horizon, joined["churn_propensity"], np.nan)
    probability = np.where(~in_horizon & ~renewal_in_horizon, 0.0, probability)
    return pd.Series(probability, index=snapshots.index)


def demo_quality(home: Path) -> dict[str, Any]:
    """Our current model's test-window metrics beside the true propensity's AUC on the same rows."""
    from flows.train import read_snapshots
    from models.registry import load_current

    version = load_current(home / "models")
    if version is None:
        raise SystemExit(f"{home}/models: no current churn model (run `cxloop train` first)")
    meta = version.metadata
    start, end = meta["data_window"]["test"]["start"], meta["data_window"]["test"]["end"]
    snapshots = read_snapshots(home / "warehouse" / "cx.duckdb")
    dates = pd.to_datetime(snapshots["snapshot_date"])
    test = snapshots[
        (dates >= start) & (dates <= end) & snapshots["churned_within_horizon"].notna()
    ].reset_index(drop=True)
    labels = test["churned_within_horizon"].astype(bool).to_numpy(dtype=int)
    ours = score_frame(version.model, test).scores["churn_probability"].to_numpy()
    truth = pd.read_csv(home / "demo" / "sources" / "_truth" / "accounts.csv")
    true_p = truth_probability(test, truth, int(meta["horizon_days"])).to_numpy()
    known = ~np.isnan(true_p)
    decided = truth[truth["decision_date"].notna()]
    return {
        "benchmark": "churn_demo_quality",
        "model_version": version.version,
        "test_window": f"{start}..{end}",
        "ours": {k: round(v, 4) for k, v in classification_metrics(labels, ours).items()},
        "rows_with_truth": int(known.sum()),
        "rows_without_truth": int((~known).sum()),
        "ours_roc_auc_same_rows": round(float(roc_auc_score(labels[known], ours[known])), 4),
        "truth_roc_auc_same_rows": round(float(roc_auc_score(labels[known], true_p[known])), 4),
        "truth_top_decile_lift_same_rows": round(
            classification_metrics(labels[known], true_p[known])["top_decile_lift"], 2
        ),
        "truth_roc_auc_accounts_at_last_decision": round(
            float(roc_auc_score(decided["churned"].astype(bool), decided["churn_propensity"])), 4
        ),
    }


def main() -> None:
    """Run the chosen benchmarks and print one JSON line each."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--score", action="store_true", help="time scoring --rows accounts")
    parser.add_argument("--train", action="store_true", help="time training on --train-rows")
    parser.add_argument("--quality", action="store_true", help="demo AUC beside the truth's")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=360_000)
    parser.add_argument("--home", type=Path, help="CXLOOP_HOME of a built demo (--quality)")
    args = parser.parse_args()
    if args.score:
        print(json.dumps(bench_score(args.rows)))
    if args.train:
        print(json.dumps(bench_train(args.train_rows)))
    if args.quality:
        if args.home is None:
            parser.error("--quality needs --home (the CXLOOP_HOME of a built demo)")
        print(json.dumps(demo_quality(args.home)))


if __name__ == "__main__":
    main()
