"""The `train` flow: read ml.account_snapshots, train the churn model, register, promote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cxloop.errors import CxloopError
from cxloop.flows.orchestration import warehouse_slot
from cxloop.models.features import CHURN_SPEC, FeatureDataError
from cxloop.models.registry import ModelVersion, Promotion, promote_if_better, register
from cxloop.models.train import TrainResult, train_churn_model
from cxloop.settings import Settings
from cxloop.warehouse import reader, table_exists

SNAPSHOTS = ("ml", "account_snapshots")


class ChurnModelError(CxloopError):
    """The churn model cannot be trained or used on this data (the message says why)."""


def resolve_paths(warehouse: str | Path | None, models_dir: str | Path | None) -> tuple[Path, Path]:
    """The warehouse file and models folder: as given, else from Settings().paths."""
    paths = Settings().paths
    return (
        Path(warehouse) if warehouse else paths.warehouse,
        Path(models_dir) if models_dir else paths.models,
    )


def read_table(warehouse: Path, sql: str) -> pd.DataFrame:
    """Run one query against ml.account_snapshots; a missing file or table is a clear error."""
    if not Path(warehouse).is_file():
        raise ChurnModelError(f"{warehouse}: no warehouse file (run `cxloop build` first)")
    with reader(warehouse) as con:
        if not table_exists(con, *SNAPSHOTS):
            raise ChurnModelError(
                f"{warehouse}: no table {'.'.join(SNAPSHOTS)} (expected the dbt model; "
                "run `cxloop build` first)"
            )
        return con.execute(sql).df()


def read_snapshots(warehouse: Path) -> pd.DataFrame:
    """Every snapshot row: the labelled ones train, the rest are ignored here."""
    return read_table(warehouse, "select * from ml.account_snapshots order by snapshot_id")


def fit_model(frame: pd.DataFrame, horizon_days: int) -> TrainResult:
    """Train the churn model; data that cannot give an honest model is refused by name."""
    try:
        return train_churn_model(frame, CHURN_SPEC, horizon_days=horizon_days)
    except FeatureDataError as exc:
        raise ChurnModelError(f"cannot train the churn model: {exc}") from exc


def register_model(result: TrainResult, models_dir: Path) -> ModelVersion:
    """Write the trained model as a new version under models_dir."""
    return register(result, models_dir)


def promote_model(version: ModelVersion, models_dir: Path) -> Promotion:
    """Make the new version current when it beats the current one on the same test window."""
    return promote_if_better(version, models_dir)


def summarize(result: TrainResult, version: ModelVersion, promotion: Promotion) -> dict[str, Any]:
    """What a person (and the pipeline report) needs from a training run."""
    return {
        "version": version.version,
        "promoted": promotion.promoted,
        "promotion": promotion.as_dict(),
        "estimator": result.model.estimator_name,
        "metrics": result.metrics,
        "data_window": result.window,
        "path": str(version.path),
    }


def train_from_warehouse(
    warehouse: str | Path | None = None,
    models_dir: str | Path | None = None,
    horizon_days: int = 90,
) -> dict[str, Any]:
    """Train, register and promote from the warehouse, without Prefect."""
    warehouse_path, models_path = resolve_paths(warehouse, models_dir)
    result = fit_model(read_snapshots(warehouse_path), horizon_days)
    version = register_model(result, models_path)
    return summarize(result, version, promote_model(version, models_path))


read_snapshots_task = task(read_snapshots, name="read-snapshots", cache_policy=NO_CACHE)
fit_model_task = task(fit_model, name="fit-churn-model", cache_policy=NO_CACHE)
register_model_task = task(register_model, name="register-model", cache_policy=NO_CACHE)
promote_model_task = task(promote_model, name="promote-model", cache_policy=NO_CACHE)


@flow(name="train")
def train(
    warehouse: str | None = None, models_dir: str | None = None, horizon_days: int = 90
) -> dict[str, Any]:
    """Train the churn model on labelled snapshots; it becomes current only when better."""
    warehouse_path, models_path = resolve_paths(warehouse, models_dir)
    with warehouse_slot():
        frame = read_snapshots_task(warehouse_path)
    result = fit_model_task(frame, horizon_days)
    version = register_model_task(result, models_path)
    promotion = promote_model_task(version, models_path)
    return summarize(result, version, promotion)
