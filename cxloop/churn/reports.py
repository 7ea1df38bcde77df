"""Plain functions behind `cxloop churn status | train --csv | report` (no Prefect needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxloop.churn.training import ChurnModelError, read_snapshots, read_table
from cxloop.models.byo import train_table
from cxloop.models.features import FeatureDataError, coerce_features
from cxloop.models.registry import ModelVersion, list_versions, load_current
from cxloop.models.report import ReportInputs, feature_importance, render_report
from cxloop.settings import Settings
from cxloop.warehouse import reader, table_exists

STATUS_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "base_rate",
    "top_decile_lift",
    "top_decile_recall",
    "n_train",
    "n_test",
    "test_window",
    "selected_estimator",
)


def churn_status(models_dir: Path | None = None) -> dict[str, Any]:
    """The current version, its metrics and data window, and every registered version."""
    models = Path(models_dir) if models_dir else Settings().paths.models
    versions = list_versions(models)
    current = load_current(models)
    if current is None:
        return {
            "current": None,
            "versions": versions,
            "message": "no churn model is current yet (run `cxloop train`)",
        }
    meta = current.metadata
    return {
        "current": current.version,
        "created_at": meta.get("created_at"),
        "estimator": meta.get("estimator"),
        "horizon_days": meta.get("horizon_days"),
        "metrics": {k: meta["metrics"].get(k) for k in STATUS_METRICS},
        "data_window": meta.get("data_window"),
        "training_data_sha256": meta.get("training_data_sha256"),
        "versions": versions,
        "path": str(current.path),
    }


def read_csv_table(path: Path) -> pd.DataFrame:
    """Every cell as text (blanks as ''), so the inference sees what the file holds."""
    if not path.is_file():
        raise ChurnModelError(f"{path}: no such file (expected a CSV with a header row)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ChurnModelError(f"{path}: cannot read as CSV ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def train_csv(
    path: Path, label: str, id_column: str, time_column: str | None = None
) -> dict[str, Any]:
    """Train the churn pipeline on a CSV; metrics, split and what was inferred and fixed."""
    frame = read_csv_table(Path(path))
    try:
        result, prep = train_table(
            frame, label=label, id_column=id_column, time_column=time_column, source=str(path)
        )
    except FeatureDataError as exc:
        raise ChurnModelError(f"cannot train on {path}: {exc}") from exc
    metrics = {k: v for k, v in result.metrics.items() if k != "candidates"}
    return {
        **metrics,
        "split": result.window.get("split"),
        "candidates": result.metrics["candidates"],
        "preparation": prep.as_dict(),
    }


def test_window_rows(snapshots: pd.DataFrame, metadata: dict[str, Any]) -> pd.DataFrame:
    """The labelled snapshots of the version's test window (as recorded in its metadata)."""
    window = metadata["data_window"]["test"]
    dates = pd.to_datetime(snapshots["snapshot_date"])
    keep = (dates >= window["start"]) & (dates <= window["end"])
    return snapshots[keep & snapshots["churned_within_horizon"].notna()].reset_index(drop=True)


def score_runs(warehouse: Path) -> tuple[pd.Series | None, pd.Series | None, dict[str, Any]]:
    """Probabilities of the latest and the previous scoring run in ml.churn_scores."""
    with reader(warehouse) as con:
        if not table_exists(con, "ml", "churn_scores"):
            return None, None, {"latest": None, "previous": None}
        runs = con.execute(
            "select model_version, snapshot_date, max(scored_at) as last_scored_at "
            "from ml.churn_scores group by all "
            "order by last_scored_at desc, snapshot_date desc limit 2"
        ).fetchall()
        series, names = [], []
        for model_version, snapshot_date, _ in runs:
            values = con.execute(
                "select churn_probability from ml.churn_scores "
                "where model_version = ? and snapshot_date = ?",
                [model_version, snapshot_date],
            ).fetchnumpy()["churn_probability"]
            series.append(pd.Series(values))
            names.append(f"{model_version} on snapshot {snapshot_date}")
    series += [None] * (2 - len(series))
    names += [None] * (2 - len(names))
    return series[0], series[1], {"latest": names[0], "previous": names[1]}


def latest_input_issues(version: ModelVersion, snapshots: pd.DataFrame) -> dict[str, Any]:
    """What scoring the newest snapshot has to fix (blank, unparseable, unseen categories)."""
    newest = snapshots[snapshots["snapshot_date"] == snapshots["snapshot_date"].max()]
    model = version.model
    _, issues = coerce_features(newest, model.spec, model.known_categories)
    return issues.as_dict()


def report_inputs(warehouse: Path, version: ModelVersion) -> ReportInputs:
    """Gather the test window's predictions, importances and the last two scoring runs."""
    snapshots = read_snapshots(warehouse)
    model = version.model
    test = test_window_rows(snapshots, version.metadata)
    if test.empty:
        raise ChurnModelError(
            f"{warehouse}: no labelled snapshots in {version.version}'s test window "
            f"{version.metadata['metrics'].get('test_window')} (was the warehouse rebuilt?)"
        )
    features, _ = coerce_features(test, model.spec, model.known_categories)
    labels = test["churned_within_horizon"].astype(bool).to_numpy(dtype=int)
    latest, previous, runs = score_runs(warehouse)
    return ReportInputs(
        version=version.version,
        metadata=version.metadata,
        test_labels=labels,
        test_probability=model.predict_proba(features),
        importance=feature_importance(model, features, labels),
        latest_scores=latest,
        previous_scores=previous,
        input_issues=latest_input_issues(version, snapshots),
        runs=runs,
    )


def write_report(warehouse: Path | None = None, models_dir: Path | None = None) -> dict[str, Any]:
    """Render the current model's report to $CXLOOP_HOME/reports/churn-<version>-<time>.html."""
    paths = Settings().paths
    warehouse = Path(warehouse) if warehouse else paths.warehouse
    version = load_current(Path(models_dir) if models_dir else paths.models)
    if version is None:
        raise ChurnModelError("no churn model is current yet (run `cxloop train` first)")
    read_table(warehouse, "select 1")  # a missing warehouse or table is named here
    inputs = report_inputs(warehouse, version)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = paths.reports / f"churn-{version.version}-{stamp}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(inputs), encoding="utf-8")
    top = inputs.importance.head(5)
    return {
        "path": str(target),
        "version": version.version,
        "n_test": int(len(inputs.test_labels)),
        "top_features": dict(zip(top["feature"], np.round(top["importance"], 4), strict=True)),
        "score_runs": inputs.runs,
        "input_issues": inputs.input_issues,
    }
