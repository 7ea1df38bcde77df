"""The `train` flow: read ml.account_snapshots, train the churn model, register, promote."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cxloop.churn.training import (
    fit_model,
    promote_model,
    read_snapshots,
    register_model,
    resolve_paths,
    summarize,
)
from cxloop.flows.orchestration import warehouse_slot
from cxloop.settings import Settings

read_snapshots_task = task(read_snapshots, name="read-snapshots", cache_policy=NO_CACHE)
fit_model_task = task(fit_model, name="fit-churn-model", cache_policy=NO_CACHE)
register_model_task = task(register_model, name="register-model", cache_policy=NO_CACHE)
promote_model_task = task(promote_model, name="promote-model", cache_policy=NO_CACHE)


@flow(name="train")
def train(
    warehouse: str | None = None, models_dir: str | None = None, horizon_days: int = 90
) -> dict[str, Any]:
    """Train the churn model on labelled snapshots; it becomes current only when better."""
    warehouse_path, models_path = resolve_paths(Settings().paths, warehouse, models_dir)
    with warehouse_slot():
        frame = read_snapshots_task(warehouse_path)
    result = fit_model_task(frame, horizon_days)
    version = register_model_task(result, models_path)
    promotion = promote_model_task(version, models_path)
    return summarize(result, version, promotion)
