"""Train the churn model from the warehouse: read ml.account_snapshots, fit, register, promote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.errors import CxloopError
from cxloop.models.features import CHURN_SPEC, FeatureDataError
from cxloop.models.registry import ModelVersion, Promotion, promote_if_better, register
from cxloop.models.train import TrainResult, train_churn_model
from cxloop.settings import Paths
from cxloop.warehouse import fetch_frame, reader, require_model_table

SNAPSHOTS = ("ml", "account_snapshots")


class ChurnModelError(CxloopError):
    """The churn model cannot be trained or used on this data (the message says why)."""


def resolve_paths(
    paths: Paths, warehouse: str | Path | None, models_dir: str | Path | None
) -> tuple[Path, Path]:
    """The warehouse file and models folder: as given, else those of CXLOOP_HOME."""
    return (
        Path(warehouse) if warehouse else paths.warehouse,
        Path(models_dir) if models_dir else paths.models,
    )


def read_table(warehouse: Path, sql: str) -> pd.DataFrame:
    """Run one query against ml.account_snapshots; a missing file or table is a clear error."""
    require_model_table(warehouse, SNAPSHOTS, ChurnModelError)
    with reader(warehouse) as con:
        return fetch_frame(con, sql)


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
