"""The churn report as one self-contained HTML page (charts embedded as base64 PNGs).

Sections: the test-window metrics, a calibration plot (predicted vs observed churn rate per
probability bin), a lift chart (churn rate per risk decile / base rate), permutation importance
(drop in PR-AUC when one feature is shuffled) and the score distribution of the latest scoring
run against the previous one.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.inspection import permutation_importance  # noqa: E402

from cxloop.models.train import ChurnModel, thread_limit  # noqa: E402

MAX_IMPORTANCE_ROWS = 5_000


@dataclass
class ReportInputs:
    """Everything the page shows; the flow gathers it from the registry and the warehouse."""

    version: str
    metadata: dict[str, Any]
    test_labels: np.ndarray
    test_probability: np.ndarray
    importance: pd.DataFrame
    latest_scores: pd.Series | None
    previous_scores: pd.Series | None
    input_issues: dict[str, Any]
    runs: dict[str, str | None]


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Per probability quantile bin: mean predicted, observed churn rate, rows."""
    frame = pd.DataFrame({"y": y, "p": p})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    grouped = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"))
    grouped["rows"] = frame.groupby("bin").size()
    return grouped.reset_index(drop=True)


def lift_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> pd.DataFrame:
    """Per risk decile (1 = riskiest): churn rate, lift over the base rate, cumulative recall."""
    order = np.argsort(-p, kind="stable")
    decile = np.arange(len(p)) * groups // len(p) + 1
    frame = pd.DataFrame({"decile": decile, "y": y[order]})
    table = frame.groupby("decile").agg(rows=("y", "size"), churned=("y", "sum"))
    table["churn_rate"] = table["churned"] / table["rows"]
    table["lift"] = table["churn_rate"] / max(y.mean(), 1e-12)
    table["cumulative_recall"] = table["churned"].cumsum() / max(y.sum(), 1)
    return table.reset_index()


def feature_importance(
    model: ChurnModel, features: pd.DataFrame, y: np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Permutation importance (drop in PR-AUC, mean and std over 3 shuffles), largest first."""
    if len(y) > MAX_IMPORTANCE_ROWS:
        rows = np.random.default_rng(seed).choice(len(y), MAX_IMPORTANCE_ROWS, replace=False)
        features, y = features.iloc[rows], y[rows]
    columns = list(model.spec.features)
    with thread_limit(len(y) * len(columns)):
        result = permutation_importance(
            model.estimator,
            features[columns],
            y,
            scoring="average_precision",
            n_repeats=3,
            random_state=seed,
        )
    table = pd.DataFrame(
        {
            "feature": columns,
            "importance": result.importances_mean,
            "std": result.importances_std,
        }
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def _png(fig: plt.Figure) -> str:
    """The figure as an <img> tag with a base64 PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


def calibration_chart(table: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(5, 4))
    top = max(float(table["predicted"].max()), float(table["observed"].max()), 0.01)
    ax.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    ax.plot(table["predicted"], table["observed"], marker="o", label="model")
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate", title="Calibration")
    ax.legend()
    return _png(fig)


def lift_chart(table: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.bar(table["decile"], table["lift"], color="#3b6ea5")
    ax.axhline(1.0, color="grey", linestyle="--")
    ax.set(xlabel="risk decile (1 = riskiest)", ylabel="lift over base rate", title="Lift")
    ax.set_xticks(table["decile"])
    return _png(fig)


def importance_chart(table: pd.DataFrame, top_n: int = 15) -> str:
    shown = table.head(top_n).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1))
    ax.barh(shown["feature"], shown["importance"], xerr=shown["std"], color="#5a9e6f")
    ax.set(xlabel="drop in PR-AUC when shuffled", title="Permutation importance")
    return _png(fig)


def distribution_chart(latest: pd.Series | None, previous: pd.Series | None) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 41)
    for values, name in ((previous, "previous run"), (latest, "latest run")):
        if values is not None and len(values):
            ax.hist(values, bins=bins, alpha=0.5, label=f"{name} (n={len(values)})")
    ax.set(xlabel="churn probability", ylabel="accounts", title="Score distribution")
    ax.set_yscale("log")
    ax.legend()
    return _png(fig)


def _table_html(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


def _metrics_html(metrics: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in metrics.items()
        if k != "candidates"
    )
    return f"<table>{rows}</table>"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def render_report(inputs: ReportInputs) -> str:
    """The whole HTML page."""
    meta = inputs.metadata
    calibration = calibration_table(inputs.test_labels, inputs.test_probability)
    lift = lift_table(inputs.test_labels, inputs.test_probability)
    candidates = pd.DataFrame(meta["metrics"].get("candidates", {})).T.reset_index(names="model")
    title = f"Churn model {html.escape(inputs.version)}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right}</style>",
        f"</head><body><h1>{title}</h1>",
        f"<p>Estimator {html.escape(str(meta.get('estimator')))}, calibrated "
        f"({html.escape(str(meta.get('calibration')))}), horizon {meta.get('horizon_days')} days, "
        f"created {html.escape(str(meta.get('created_at')))}.</p>",
        "<h2>Metrics on the test window</h2>",
        _metrics_html(meta["metrics"]),
        "<h3>Both candidates</h3>",
        _table_html(candidates),
        "<h2>Calibration</h2>",
        "<p>Each point: one tenth of the test rows by predicted probability. On the diagonal, "
        "a predicted 20% means 20% churned.</p>",
        calibration_chart(calibration),
        _table_html(calibration),
        "<h2>Lift</h2>",
        "<p>Churn rate per risk decile divided by the base rate: bar 1 is what a campaign on "
        "the riskiest 10% reaches.</p>",
        lift_chart(lift),
        _table_html(lift),
        "<h2>Permutation importance</h2>",
        "<p>How much the test PR-AUC drops when one feature's values are shuffled: what the "
        "model relies on (not why an account churns).</p>",
        importance_chart(inputs.importance),
        _table_html(inputs.importance),
        "<h2>Score distribution</h2>",
        f"<p>Latest run: {html.escape(str(inputs.runs.get('latest')))}; previous run: "
        f"{html.escape(str(inputs.runs.get('previous')))}.</p>",
        distribution_chart(inputs.latest_scores, inputs.previous_scores),
        "<h2>Input fixed at scoring (latest snapshot)</h2>",
        f"<pre>{html.escape(_issues_text(inputs.input_issues))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _issues_text(issues: dict[str, Any]) -> str:
    lines = [f"{k}: {v}" for k, v in issues.items()]
    return "\n".join(lines) or "none"
