"""The `score` flow: score each active account's latest snapshot into ml.churn_scores.

A run is keyed by (model_version, snapshot_date): scoring the same snapshot with the same model
again replaces that run's rows, in one transaction, so re-runs never duplicate.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cxloop.churn.scoring import (
    load_model,
    read_latest_snapshots,
    require_training_allowed,
    risk_settings,
    score_rows,
    score_snapshots,
    summarize,
    write_scores,
)
from cxloop.churn.training import resolve_paths
from cxloop.config import project_config
from cxloop.flows.orchestration import stage_run_id, warehouse_slot
from cxloop.flows.train import train as train_flow
from cxloop.quality.gate import recorded_build
from cxloop.settings import Settings
from cxloop.tables import CHURN_SCORES

load_model_task = task(load_model, name="load-model", cache_policy=NO_CACHE)
read_latest_task = task(read_latest_snapshots, name="read-latest-snapshots", cache_policy=NO_CACHE)
score_task = task(score_snapshots, name="score-snapshots", cache_policy=NO_CACHE)
write_scores_task = task(write_scores, name="write-scores", cache_policy=NO_CACHE)


@flow(name="score")
def score(
    warehouse: str | None = None,
    models_dir: str | None = None,
    train_if_missing: bool = True,
    high_threshold: float | None = None,
    medium_threshold: float | None = None,
    horizon_days: int | None = None,
    drivers_min_probability: float | None = None,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Score every active account with the current model (training one first if allowed).

    Thresholds and horizon not given come from cxloop.yaml (`config_path`, else found as usual,
    e.g. $CXLOOP_CONFIG for a deployment), else its defaults (0.5, 0.25, 90 days, drivers at
    0.2 and above); with `risk_bands.mode: relative` there, the top shares of this run's
    accounts, unless thresholds are given here. Accounts below `drivers_min_probability` get an
    empty list of drivers (relative mode: every high and medium account gets drivers).
    """
    risk = risk_settings(
        project_config(config_path),
        high_threshold,
        medium_threshold,
        horizon_days,
        drivers_min_probability,
    )
    warehouse_path, models_path = resolve_paths(Settings().paths, warehouse, models_dir)
    version, trained = load_model_task(models_path), None
    if version is None:
        require_training_allowed(train_if_missing, models_path)
        # the training's body, inline: its tasks run under this run (a subflow costs ~1 s)
        trained = train_flow.fn(str(warehouse_path), str(models_path), risk.horizon_days)
        version = load_model_task(models_path)
    run_id = stage_run_id("score")
    with warehouse_slot():
        # a scoring run changes ml.churn_scores: recorded like a build, checked before act
        with recorded_build(warehouse_path, run_id, "score") as changed:
            latest = read_latest_task(warehouse_path)
            batch = score_task(version, latest, risk)
            rows = score_rows(batch, version.version)
            write_scores_task(warehouse_path, rows)
            changed.append(CHURN_SCORES.qualified)
    return {**summarize(version, batch, rows), "trained": trained, "build_id": run_id}
