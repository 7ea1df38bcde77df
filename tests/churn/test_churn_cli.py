"""`cxloop churn status | train --csv | report` through the real CLI, registry and warehouse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxloop.demo.snapshots import synthetic_snapshots
from cxloop.flows.cli import app
from cxloop.flows.score import score
from cxloop.flows.train import train
from cxloop.settings import Settings
from cxloop.warehouse import writer

runner = CliRunner()


def cli(*args: str) -> tuple[int, str]:
    """Run `cxloop ...`; (exit code, stdout + stderr)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def hand_made_table(n: int = 160, seed: int = 3) -> pd.DataFrame:
    """A CRM-like export: text numbers with blanks and 'n/a', a category, free text, a label."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(0, 1, n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(2.5 * usage - 1)))
    frame = pd.DataFrame(
        {
            "customer": [f"C-{i:04d}" for i in range(n)],
            "monthly_revenue": [f"{100 + 30 * u:.2f}" for u in usage],
            "support_tickets": rng.poisson(2, n).astype(str),
            "tier": rng.choice(["gold", "silver", "bronze"], n),
            "notes": [f"called on day {i}" for i in range(n)],
            "left": np.where(churned, "yes", "no"),
            "signup": pd.date_range("2023-01-01", periods=n, freq="3D").strftime("%Y-%m-%d"),
        }
    )
    frame.loc[::11, "monthly_revenue"] = ""
    frame.loc[5::13, "monthly_revenue"] = "n/a"
    frame.loc[::17, "tier"] = " "
    return frame


def write_csv(tmp_path: Path, frame: pd.DataFrame, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_train_on_a_csv_reports_metrics_and_what_it_fixed(tmp_path: Path) -> None:
    table = hand_made_table()
    path = write_csv(tmp_path, table)
    code, out = cli(
        "churn", "train", "--csv", str(path), "--label", "left", "--id", "customer", "--json"
    )
    assert code == 0, out
    result = json.loads(out)
    for key in ("roc_auc", "pr_auc", "brier", "n_train", "n_test"):
        assert key in result
    assert result["roc_auc"] > 0.75  # revenue carries the signal, even with text and blanks
    assert result["split"] == "stratified"
    assert result["n_train"] + result["n_calibration"] + result["n_test"] == 160
    prep = result["preparation"]
    assert prep["numbers_stored_as_text"] == ["monthly_revenue", "support_tickets"]
    assert prep["categorical"] == ["tier"]
    assert prep["ignored"]["notes"].startswith("text with 160 distinct values")
    assert prep["ignored"]["signup"].startswith("text with 160 distinct values")
    assert prep["blank"] == {
        "monthly_revenue": int((table["monthly_revenue"] == "").sum()),
        "tier": int((table["tier"] == " ").sum()),
    }
    not_numbers = int((table["monthly_revenue"] == "n/a").sum())
    assert prep["unparseable"] == {"monthly_revenue": not_numbers}


def test_same_csv_and_seed_give_the_same_metrics(tmp_path: Path) -> None:
    path = write_csv(tmp_path, hand_made_table())
    args = ("churn", "train", "--csv", str(path), "--label", "left", "--id", "customer", "--json")
    first, second = cli(*args), cli(*args)
    assert first[0] == 0 and first == second


def test_a_time_column_splits_by_time(tmp_path: Path) -> None:
    path = write_csv(tmp_path, hand_made_table(n=240))
    code, out = cli(
        "churn",
        "train",
        "--csv",
        str(path),
        "--label",
        "left",
        "--id",
        "customer",
        "--time",
        "signup",
        "--json",
    )
    assert code == 0, out
    result = json.loads(out)
    assert result["split"] == "time"
    assert (
        result["test_window"].startswith("2024-")
        and "signup" not in result["preparation"]["categorical"]
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(left="no"), r"field 'left': every labelled row is retained"),
        (
            lambda f: f.assign(customer=f["customer"].where(f.index != 7, "C-0003")),
            r"field 'customer': 2 rows share an id, e.g. 'C-0003'",
        ),
        (
            lambda f: f.assign(customer=f["customer"].where(f.index != 4, "")),
            r"row 6, field 'customer': blank id",
        ),
        (
            lambda f: f.assign(left=f["left"].where(f.index != 9, "maybe")),
            r"field 'left': got 'maybe' \(expected true, false or null\)",
        ),
        (lambda f: f.drop(columns=["left"]), r"missing column\(s\) left"),
        (lambda f: f.head(30), r"30 labelled rows \(expected at least 50"),
    ],
    ids=["one-class", "duplicate-id", "blank-id", "bad-label", "no-label-column", "too-few"],
)
def test_refusals_name_the_problem(tmp_path: Path, change, message: str) -> None:
    path = write_csv(tmp_path, change(hand_made_table()))
    code, out = cli("churn", "train", "--csv", str(path), "--label", "left", "--id", "customer")
    assert code == 1
    assert str(path) in out.replace("\n", "")
    assert pd.Series([out.replace("\n", "")]).str.contains(message).iloc[0], out


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    code, out = cli(
        "churn", "train", "--csv", str(tmp_path / "nope.csv"), "--label", "l", "--id", "i"
    )
    assert code == 1 and "nope.csv: no such file" in out.replace("\n", "")


def build_warehouse(home: Path) -> Path:
    """ml.account_snapshots with 400 accounts x 24 months in the CXLOOP_HOME warehouse."""
    frame = synthetic_snapshots(400 * 24, n_months=24, seed=5)
    warehouse = Settings().paths.ensure().warehouse
    with writer(warehouse) as con:
        con.register("snapshots_df", frame)
        con.execute(
            "create or replace table ml.account_snapshots as select * replace "
            "(cast(snapshot_date as date) as snapshot_date) from snapshots_df"
        )
        con.unregister("snapshots_df")
    return warehouse


def test_status_before_and_after_training(cx_home: Path, prefect_harness: None) -> None:
    code, out = cli("churn", "status", "--json")
    assert code == 0 and json.loads(out)["current"] is None
    build_warehouse(cx_home)
    trained = train()
    code, out = cli("churn", "status", "--json")
    status = json.loads(out)
    assert status["current"] == trained["version"] == "v0001"
    assert status["metrics"]["roc_auc"] == trained["metrics"]["roc_auc"]
    assert status["metrics"]["test_window"] == trained["metrics"]["test_window"]
    assert status["versions"] == ["v0001"]


def test_report_renders_with_two_scoring_runs(cx_home: Path, prefect_harness: None) -> None:
    warehouse = build_warehouse(cx_home)
    train()
    score()
    with writer(warehouse) as con:  # a second, later snapshot to compare with the first run
        con.execute(
            "insert into ml.account_snapshots select * replace "
            "(snapshot_date + interval 1 month as snapshot_date, snapshot_id || '-next' as "
            "snapshot_id, null as churned_within_horizon) from ml.account_snapshots "
            "where snapshot_date = (select max(snapshot_date) from ml.account_snapshots)"
        )
    score()
    code, out = cli("churn", "report", "--json")
    assert code == 0, out
    result = json.loads(out)
    page = Path(result["path"])
    assert page.parent == cx_home / "reports" and page.suffix == ".html"
    html = page.read_text()
    for section in ("Calibration", "Lift", "Permutation importance", "Score distribution"):
        assert f"<h2>{section}</h2>" in html
    assert html.count("data:image/png;base64,") == 4
    assert result["score_runs"]["previous"] is not None
    assert "avg_first_reply_minutes_90d" in result["top_features"]


def test_report_without_a_model_is_a_clear_error(cx_home: Path) -> None:
    code, out = cli("churn", "report")
    assert code == 1 and "no churn model is current yet" in out
