"""Churn model benchmarks (measured, not tests): scoring speed, training speed, demo quality.

Usage:
  python -m benchmarks.churn --score [--rows 1000000] [--workdir DIR]   nightly scoring of 1M
  python -m benchmarks.churn --train [--train-rows 360000]              training at scale 10
  python -m benchmarks.churn --quality --home DIR         our test-window AUC beside the truth's
  (--quality needs a built demo: `CXLOOP_HOME=DIR cxloop demo --scale 1 --fresh`.)
Goals (issue 5): scoring 1,000,000 accounts < 30 s, training at scale 10 < 2 min on 2 cores;
on the scale-1 demo ROC-AUC >= 0.80 and top-decile lift >= 3.

--score times what the nightly `score` flow runs (`cxloop.churn.scoring`, no Prefect): load the
current model from the registry, read the newest snapshot of every account from a real DuckDB
`ml.account_snapshots` (which also holds an older month), coerce, predict, drivers, JSON, and
replace the run's rows in `ml.churn_scores`; stage times come from wrapping those functions.
--train: demo scale 10 is 20,000 accounts; the scale-1 demo's ml.account_snapshots holds 34,298
rows (2,000 accounts over 36 month ends), so scale 10 is about 343,000 rows. The default 360,000
rows (10,000 accounts x 36 month ends) is a little more than that.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

import cxloop.churn.scoring as scoring
import cxloop.models.score
from cxloop.demo.snapshots import synthetic_snapshots, write_snapshots
from cxloop.models.evaluate import classification_metrics
from cxloop.models.registry import promote_if_better, register
from cxloop.models.score import score_frame
from cxloop.models.train import train_churn_model
from cxloop.warehouse import reader

SCALE1_SNAPSHOT_ROWS = 34_298  # ml.account_snapshots of the scale-1 demo (seed 42), measured


@contextmanager
def stage_timer(seconds: dict[str, float]) -> Iterator[None]:
    """Time the functions the score path calls, by wrapping them where they are looked up."""
    targets = [
        (scoring, "load_model"),
        (scoring, "read_latest_snapshots"),
        (scoring, "score_snapshots"),
        (cxloop.models.score, "coerce_features"),
        (cxloop.models.score, "predict_with_drivers"),
        (cxloop.models.score, "top_drivers"),
        (scoring, "score_rows"),
        (scoring, "write_scores"),
    ]
    originals = [(module, name, getattr(module, name)) for module, name in targets]

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - t0, 2)

        return wrapper

    for module, name, function in originals:
        setattr(module, name, timed(name, function))
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def score_path(warehouse: Path, models_dir: Path) -> dict[str, Any]:
    """The score flow's steps (cxloop.churn.scoring) without Prefect, looked up at call time."""
    version = scoring.load_model(models_dir)
    risk = scoring.risk_settings(None)
    batch = scoring.score_snapshots(version, scoring.read_latest_snapshots(warehouse), risk)
    rows = scoring.score_rows(batch, version.version)
    scoring.write_scores(warehouse, rows)
    return scoring.summarize(version, batch, rows)


def bench_score(n_rows: int, workdir: Path | None = None) -> dict[str, Any]:
    """Time the nightly score path for `n_rows` accounts: snapshots table in, scores table out."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="churn-score-"))
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse, models_dir = workdir / "cx.duckdb", workdir / "models"
    warehouse.unlink(missing_ok=True)
    version = register(train_churn_model(synthetic_snapshots(20_000, seed=1)), models_dir)
    promote_if_better(version, models_dir)
    # The newest month (scored) and the month before it, one row per account in each.
    write_snapshots(warehouse, synthetic_snapshots(2 * n_rows, n_months=2, seed=2))
    stages: dict[str, float] = {}
    with stage_timer(stages):
        t0 = time.perf_counter()
        summary = score_path(warehouse, models_dir)
        seconds = time.perf_counter() - t0
    with reader(warehouse) as con:
        (written,) = con.execute(
            "select count(*) from ml.churn_scores where snapshot_date = ?",
            [summary["snapshot_date"]],
        ).fetchone()
    return {
        "benchmark": "churn_score",
        "rows": summary["accounts_scored"],
        "rows_written": int(written),
        "seconds": round(seconds, 1),
        "rows_per_second": round(summary["accounts_scored"] / seconds),
        "stages": stages,
        "risk_bands": summary["risk_bands"],
        "drivers": summary["drivers"],
        "model": version.metadata["estimator"],
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
        "demo_scale_equivalent": round(len(frame) / SCALE1_SNAPSHOT_ROWS, 1),
        "seconds": round(seconds, 1),
        "roc_auc": round(result.metrics["roc_auc"], 4),
        "selected": result.metrics["selected_estimator"],
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
    from cxloop.churn.training import read_snapshots
    from cxloop.models.registry import load_current

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
    parser.add_argument("--workdir", type=Path, help="folder for --score's warehouse and models")
    args = parser.parse_args()
    if args.score:
        print(json.dumps(bench_score(args.rows, args.workdir)))
    if args.train:
        print(json.dumps(bench_train(args.train_rows)))
    if args.quality:
        if args.home is None:
            parser.error("--quality needs --home (the CXLOOP_HOME of a built demo)")
        print(json.dumps(demo_quality(args.home)))


if __name__ == "__main__":
    main()
