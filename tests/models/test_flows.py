"""The train and score flows against a real DuckDB warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cxloop.churn.training import ChurnModelError
from cxloop.flows.score import score
from cxloop.flows.train import train
from cxloop.warehouse import reader, writer

pytestmark = pytest.mark.usefixtures("prefect_harness")


def write_snapshots(warehouse: Path, frame: pd.DataFrame) -> None:
    """ml.account_snapshots as dbt would leave it (dates as date, label as nullable bool)."""
    with writer(warehouse) as con:
        con.register("snapshots_df", frame)
        con.execute(
            "create or replace table ml.account_snapshots as select * replace "
            "(cast(snapshot_date as date) as snapshot_date) from snapshots_df"
        )
        con.unregister("snapshots_df")


def query(warehouse: Path, sql: str) -> list[tuple]:
    with reader(warehouse) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path, snapshots: pd.DataFrame) -> Path:
    frame = snapshots.copy()
    latest = frame["snapshot_date"] == frame["snapshot_date"].max()
    frame.loc[latest & (frame.index % 50 == 0), "plan"] = "platinum"  # unseen at scoring
    path = tmp_path / "cx.duckdb"
    write_snapshots(path, frame)
    return path


def test_train_then_score_from_the_warehouse(warehouse: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    trained = train(str(warehouse), str(models))
    assert trained["version"] == "v0001" and trained["promoted"]
    assert trained["metrics"]["roc_auc"] > 0.75

    first = score(str(warehouse), str(models), train_if_missing=False)
    assert first["trained"] is None and first["model_version"] == "v0001"
    assert first["accounts_scored"] == 300 and sum(first["risk_bands"].values()) == 300
    assert first["snapshot_date"] == "2024-12-31"
    assert first["input_issues"]["unseen_category"] == {"plan": 6}

    rows = query(
        warehouse,
        "select account_id, scored_at, model_version, churn_probability, risk_band, top_drivers, "
        "snapshot_date from ml.churn_scores order by account_id",
    )
    assert len(rows) == 300 and len({r[0] for r in rows}) == 300
    assert all(0 <= r[3] <= 1 and r[4] in ("high", "medium", "low") for r in rows)
    assert all(isinstance(json.loads(r[5]), list) for r in rows)
    bands = query(warehouse, "select risk_band, count(*) from ml.churn_scores group by 1")
    assert dict(bands) == {k: v for k, v in first["risk_bands"].items() if v}

    again = train(str(warehouse), str(models))  # same data: same metrics, not better
    assert again["version"] == "v0002" and not again["promoted"]
    assert again["metrics"] == trained["metrics"]

    second = score(str(warehouse), str(models))
    assert second["model_version"] == "v0001"
    assert query(warehouse, "select count(*), count(distinct scored_at) from ml.churn_scores") == [
        (300, 1)
    ]


def test_missing_table_and_missing_model_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    with writer(empty):
        pass
    with pytest.raises(ChurnModelError, match=r"no table ml\.account_snapshots"):
        train(str(empty), str(tmp_path / "models"))
    with pytest.raises(ChurnModelError, match="no current churn model"):
        score(str(empty), str(tmp_path / "models"), train_if_missing=False)
    with pytest.raises(ChurnModelError, match="no warehouse file"):
        train(str(tmp_path / "absent.duckdb"), str(tmp_path / "models"))


def test_too_little_history_is_refused_by_the_flow_code(tmp_path: Path, snapshot_factory) -> None:
    path = tmp_path / "short.duckdb"
    write_snapshots(path, snapshot_factory(n_accounts=8, n_months=24))
    with pytest.raises(ChurnModelError, match="cannot train the churn model: .*labelled rows"):
        train(str(path), str(tmp_path / "models"))


def test_score_flow_trains_first_then_scores(cx_home: Path, snapshots: pd.DataFrame) -> None:
    from cxloop.settings import Settings

    paths = Settings().paths
    write_snapshots(paths.warehouse, snapshots)
    report = score(high_threshold=0.6, medium_threshold=0.3)
    assert report["trained"]["version"] == "v0001" and report["trained"]["promoted"]
    assert report["accounts_scored"] == 300
    assert (paths.models / "churn" / "current").read_text().strip() == "v0001"
    high = query(
        paths.warehouse, "select min(churn_probability) from ml.churn_scores where risk_band='high'"
    )[0][0]
    assert high is None or high >= 0.6
    assert query(paths.warehouse, "select count(*) from ml.churn_scores") == [(300,)]


def test_warehouse_scores_carry_drivers_for_high_and_medium_and_count_bad_input(
    warehouse: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    train(str(warehouse), str(models))
    latest = "snapshot_date = (select max(snapshot_date) from ml.account_snapshots)"
    with writer(warehouse) as con:  # what a messy export leaves in the newest snapshot
        con.execute(
            f"update ml.account_snapshots set region = '   ', seats = null "
            f"where {latest} and account_id in (select account_id from ml.account_snapshots "
            f"where {latest} order by account_id limit 5)"
        )
        con.execute(
            f"update ml.account_snapshots set industry = 'Mining ' where {latest} "
            "and account_id = (select min(account_id) from ml.account_snapshots)"
        )
    summary = score(str(warehouse), str(models), train_if_missing=False, medium_threshold=0.2)
    issues = summary["input_issues"]
    assert issues["blank"]["region"] == 5 and issues["blank"]["seats"] == 5
    assert issues["unseen_category"] == {"plan": 6, "industry": 1}

    rows = query(warehouse, "select risk_band, top_drivers from ml.churn_scores")
    assert len(rows) == 300
    acted_on = [json.loads(d) for band, d in rows if band != "low"]
    assert all(d == "[]" for band, d in rows if band == "low")
    assert len(acted_on) == summary["drivers"]["accounts"] >= 10
    assert sum(bool(d) for d in acted_on) >= 0.8 * len(acted_on)
    assert summary["drivers"]["method"] in ("trees", "matrix")
