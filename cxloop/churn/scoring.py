"""Score the latest snapshots into ml.churn_scores (the table is defined in cxloop.tables).

A run is keyed by (model_version, snapshot_date): scoring the same snapshot with the same model
again replaces that run's rows, in one transaction, so re-runs never duplicate. The build creates
the table empty, since dbt reads it as the source `ml.churn_scores` before anything is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cxloop.churn.training import ChurnModelError, read_table
from cxloop.config import ProjectConfig, RiskBands
from cxloop.models.features import FeatureDataError
from cxloop.models.registry import ModelVersion, load_current
from cxloop.models.score import ScoredBatch, score_frame
from cxloop.tables import CHURN_SCORES, ensure_tables
from cxloop.warehouse import writer

SCORE_COLUMNS = CHURN_SCORES.column_names

LATEST_SNAPSHOTS_SQL = """
select * from ml.account_snapshots
where snapshot_date = (select max(snapshot_date) from ml.account_snapshots)
qualify row_number() over (partition by account_id order by snapshot_id) = 1
order by account_id
"""


@dataclass(frozen=True)
class RiskSettings:
    """The bands, drivers threshold and churn horizon one run uses."""

    high: float
    medium: float
    drivers_min_probability: float
    horizon_days: int
    mode: str = "absolute"  # or "relative": the shares below replace high and medium
    high_share: float = 0.10
    medium_share: float = 0.25


def risk_settings(
    config: ProjectConfig | None,
    high: float | None = None,
    medium: float | None = None,
    horizon_days: int | None = None,
    drivers_min_probability: float | None = None,
) -> RiskSettings:
    """What is given, else cxloop.yaml's risk bands and churn horizon, else their defaults."""
    bands = config.risk_bands if config else RiskBands()
    horizon = (
        config.churn_horizon_days
        if config
        else ProjectConfig.model_fields["churn_horizon_days"].default
    )
    return RiskSettings(
        high=bands.high if high is None else high,
        medium=bands.medium if medium is None else medium,
        drivers_min_probability=(
            bands.drivers_min_probability
            if drivers_min_probability is None
            else drivers_min_probability
        ),
        horizon_days=horizon if horizon_days is None else horizon_days,
        # thresholds given to the flow are absolute by nature: they override a relative config
        mode="absolute" if high is not None or medium is not None else bands.mode,
        high_share=bands.high_share,
        medium_share=bands.medium_share,
    )


def ensure_churn_scores_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ml.churn_scores (empty) if it does not exist yet."""
    ensure_tables(con, [CHURN_SCORES])


def load_model(models_dir: Path) -> ModelVersion | None:
    """The current model version with its fitted model loaded, or None when none is current."""
    current = load_current(models_dir)
    if current is not None:
        _ = current.model
    return current


def require_training_allowed(train_if_missing: bool, models_dir: Path) -> None:
    """Refuse to go on without a model when training first was not allowed."""
    if not train_if_missing:
        raise ChurnModelError(
            f"{models_dir}: no current churn model (run `cxloop train` first, "
            "or allow training when none is registered)"
        )


def read_latest_snapshots(warehouse: Path) -> pd.DataFrame:
    """The latest snapshot of each active account (the accounts in the newest snapshot date)."""
    frame = read_table(warehouse, LATEST_SNAPSHOTS_SQL)
    if frame.empty:
        raise ChurnModelError(f"{warehouse}: ml.account_snapshots is empty (nothing to score)")
    return frame


def score_snapshots(version: ModelVersion, frame: pd.DataFrame, risk: RiskSettings) -> ScoredBatch:
    """Probabilities, risk bands and drivers; bad values are counted, not fatal.

    Drivers for rows at or above `risk.drivers_min_probability`; the other rows get an empty list.
    """
    try:
        return score_frame(
            version.model,
            frame,
            high=risk.high,
            medium=risk.medium,
            drivers_min_probability=risk.drivers_min_probability,
            shares=(risk.high_share, risk.medium_share) if risk.mode == "relative" else None,
        )
    except FeatureDataError as exc:
        raise ChurnModelError(f"cannot score with model {version.version}: {exc}") from exc


def utc_now() -> datetime:
    """Now in UTC, as the naive timestamp the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def score_rows(
    batch: ScoredBatch, model_version: str, scored_at: datetime | None = None
) -> pd.DataFrame:
    """The rows of ml.churn_scores for one run (scored now unless `scored_at` is given)."""
    scores = batch.scores
    rows = pd.DataFrame(
        {
            "account_id": scores["account_id"].astype(str),
            "scored_at": scored_at or utc_now(),
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
        "risk_band_thresholds": batch.thresholds,
        "drivers": {"accounts": batch.driver_rows, "method": batch.drivers_method},
        "input_issues": batch.issues.as_dict(),
    }
