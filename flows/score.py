"""The `score` flow: score each active account's latest snapshot into ml.churn_scores.

A run is keyed by (model_version, snapshot_date): scoring the same snapshot with the same model
again replaces that run's rows, in one transaction, so re-runs never duplicate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cxloop.churn_tables import SCORE_COLUMNS, ensure_churn_scores_table
from cxloop.config import ProjectConfig, RiskBands, project_config
from cxloop.flows.orchestration import warehouse_slot
from cxloop.flows.train import ChurnModelError, read_table, resolve_paths, train_from_warehouse
from cxloop.flows.train import train as train_flow
from cxloop.models.features import FeatureDataError
from cxloop.models.registry import ModelVersion, load_current
from cxloop.models.score import ScoredBatch, score_frame
from cxloop.warehouse import writer

LATEST_SNAPSHOTS_SQL = """
select * from ml.account_snapshots
where snapshot_date = (select max(snapshot_date) from ml.account_snapshots)
qualify row_number() over (partition by account_id order by snapshot_id) = 1
order by account_id
"""


def load_model(models_dir: Path) -> ModelVersion | None:
    """The current model version with its fitted model loaded, or None when none is current."""
    current = load_current(models_dir)
    if current is not None:
        _ = current.model
    return current


def read_latest_snapshots(warehouse: Path) -> pd.DataFrame:
    """The latest snapshot of each active account (the accounts in the newest snapshot date)."""
    frame = read_table(warehouse, LATEST_SNAPSHOTS_SQL)
    if frame.empty:
        raise ChurnModelError(f"{warehouse}: ml.account_snapshots is empty (nothing to score)")
    return frame


def score_snapshots(
    version: ModelVersion,
    frame: pd.DataFrame,
    high: float,
    medium: float,
    drivers_min_probability: float | None = None,
) -> ScoredBatch:
    """Probabilities, risk bands and drivers; bad values are counted, not fatal.

    Drivers for rows at or above `drivers_min_probability` (default `medium`: the high and
    medium bands); the other rows get an empty list.
    """
    try:
        return score_frame(
            version.model,
            frame,
            high=high,
            medium=medium,
            drivers_min_probability=drivers_min_probability,
        )
    except FeatureDataError as exc:
        raise ChurnModelError(f"cannot score with model {version.version}: {exc}") from exc


def score_rows(batch: ScoredBatch, model_version: str, scored_at: datetime) -> pd.DataFrame:
    """The rows of ml.churn_scores for one run."""
    scores = batch.scores
    rows = pd.DataFrame(
        {
            "account_id": scores["account_id"].astype(str),
            "scored_at": scored_at,
            "model_version": model_version,
            "churn_probability": scores["churn_probability"].astype(float),
            "risk_band": scores["risk_band"].astype(str),
            "top_drivers": scores["top_drivers"].astype(str),
            "snapshot_date": pd.to_datetime(scores["snapshot_date"]).dt.date,
        }
    )
    return rows[list(SCORE_COLUMNS)]


def write_scores(warehouse: Path, rows: pd.DataFrame) -> int:
    """Replace this run's rows (same model_version and snapshot_date) in one transaction."""
    runs = rows[["model_version", "snapshot_date"]].drop_duplicates().itertuples(index=False)
    with writer(warehouse) as con:
        ensure_churn_scores_table(con)
        for model_version, snapshot_date in runs:
            con.execute(
                "delete from ml.churn_scores where model_version = ? and snapshot_date = ?",
                [model_version, snapshot_date],
            )
        con.register("new_churn_scores", rows)
        columns = ", ".join(SCORE_COLUMNS)
        con.execute(
            f"insert into ml.churn_scores ({columns}) select {columns} from new_churn_scores"
        )
        con.unregister("new_churn_scores")
    return len(rows)


def summarize(version: ModelVersion, batch: ScoredBatch, rows: pd.DataFrame) -> dict[str, Any]:
    """Counts per risk band and what had to be fixed in the input."""
    return {
        "model_version": version.version,
        "snapshot_date": str(rows["snapshot_date"].iloc[0]),
        "scored_at": rows["scored_at"].iloc[0].isoformat(),
        "accounts_scored": len(rows),
        "risk_bands": batch.band_counts(),
        "drivers": {"accounts": batch.driver_rows, "method": batch.drivers_method},
        "input_issues": batch.issues.as_dict(),
    }


def utc_now() -> datetime:
    """Now in UTC, as the naive timestamp the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def score_warehouse(
    warehouse: str | Path | None = None,
    models_dir: str | Path | None = None,
    train_if_missing: bool = True,
    high_threshold: float = 0.5,
    medium_threshold: float = 0.25,
    horizon_days: int = 90,
    drivers_min_probability: float | None = None,
) -> dict[str, Any]:
    """Score the latest snapshots into ml.churn_scores, without Prefect."""
    warehouse_path, models_path = resolve_paths(warehouse, models_dir)
    version, trained = load_model(models_path), None
    if version is None:
        require_training_allowed(train_if_missing, models_path)
        trained = train_from_warehouse(warehouse_path, models_path, horizon_days)
        version = load_model(models_path)
    batch = score_snapshots(
        version,
        read_latest_snapshots(warehouse_path),
        high_threshold,
        medium_threshold,
        drivers_min_probability,
    )
    rows = score_rows(batch, version.version, utc_now())
    write_scores(warehouse_path, rows)
    return {**summarize(version, batch, rows), "trained": trained}


def require_training_allowed(train_if_missing: bool, models_dir: Path) -> None:
    """Refuse to go on without a model when training first was not allowed."""
    if not train_if_missing:
        raise ChurnModelError(
            f"{models_dir}: no current churn model (run `cxloop train` first, "
            "or allow training when none is registered)"
        )


load_model_task = task(load_model, name="load-model", cache_policy=NO_CACHE)
read_latest_task = task(read_latest_snapshots, name="read-latest-snapshots", cache_policy=NO_CACHE)
score_task = task(score_snapshots, name="score-snapshots", cache_policy=NO_CACHE)
write_scores_task = task(write_scores, name="write-scores", cache_policy=NO_CACHE)


def configured_risk(config_path: str | None) -> tuple[RiskBands, int]:
    """cxloop.yaml's risk bands and churn horizon, or their defaults without a config."""
    config = project_config(config_path)
    if config is None:
        return RiskBands(), ProjectConfig.model_fields["churn_horizon_days"].default
    return config.risk_bands, config.churn_horizon_days


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
    0.2 and above). Accounts below `drivers_min_probability` get an empty list of drivers.
    """
    bands, horizon = configured_risk(config_path)
    high_threshold = bands.high if high_threshold is None else high_threshold
    medium_threshold = bands.medium if medium_threshold is None else medium_threshold
    horizon_days = horizon if horizon_days is None else horizon_days
    if drivers_min_probability is None:
        drivers_min_probability = bands.drivers_min_probability
    warehouse_path, models_path = resolve_paths(warehouse, models_dir)
    version, trained = load_model_task(models_path), None
    if version is None:
        require_training_allowed(train_if_missing, models_path)
        trained = train_flow(str(warehouse_path), str(models_path), horizon_days)
        version = load_model_task(models_path)
    with warehouse_slot():
        latest = read_latest_task(warehouse_path)
        batch = score_task(
            version, latest, high_threshold, medium_threshold, drivers_min_probability
        )
        rows = score_rows(batch, version.version, utc_now())
        write_scores_task(warehouse_path, rows)
    return {**summarize(version, batch, rows), "trained": trained}
