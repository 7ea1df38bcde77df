"""The CX report's pictures: matplotlib figures rendered as inline SVG (text kept as text, so the
page needs no image files, no network, and prints sharply)."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cxloop.report.chart_cache import cached_chart  # noqa: E402

plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "svg.hashsalt": "cxloop-report",  # stable element ids: the same data, the same file
        "font.family": "sans-serif",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)

BLUE, RED, GREEN, GREY = "#2b6cb0", "#c53030", "#2f855a", "#a0aec0"
METRIC_TITLES = {
    "nps": "NPS by month (95% margin of error)",
    "csat": "CSAT % by month (95% margin of error)",
    "ces": "CES mean by month, 1-7 (95% margin of error)",
}


def svg(fig: plt.Figure) -> str:
    """The figure as an inline <svg> element (XML header and DOCTYPE removed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return re.sub(r"^.*?(?=<svg)", "", text, flags=re.S)


@cached_chart
def trend_chart(trends: pd.DataFrame, metric: str) -> str | None:
    """One metric's monthly value with its margin of error as a band and error bars."""
    data = trends[trends["metric"] == metric]
    if data.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 2.6))
    labels = pd.to_datetime(data["month"]).dt.strftime("%Y-%m").tolist()
    x = np.arange(len(labels))
    value = data["value"].astype(float).to_numpy()
    margin = data["margin"].astype(float).fillna(0).to_numpy()
    ax.fill_between(x, value - margin, value + margin, color=BLUE, alpha=0.15)
    ax.errorbar(x, value, yerr=margin, color=BLUE, marker="o", ms=3, capsize=2)
    for position, v, n in zip(x, value, data["n"], strict=True):
        ax.annotate(
            f"n={int(n)}",
            (position, v),
            textcoords="offset points",
            xytext=(4, 6),
            fontsize=6,
            color="#4a5568",
        )
    if metric == "nps":
        ax.axhline(0, color=GREY, lw=0.8)
    ax.set_xticks(
        x,
        labels,
        rotation=45 if len(labels) > 8 else 0,
        ha="right" if len(labels) > 8 else "center",
    )
    ax.set_title(METRIC_TITLES[metric], loc="left")
    return svg(fig)


def hbar_pair(
    labels: list[str],
    left: np.ndarray,
    right: np.ndarray,
    names: tuple[str, str],
    title: str,
    xlabel: str,
) -> str:
    """Two horizontal bars per label (e.g. detractors against promoters)."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1))
    y = np.arange(len(labels))
    ax.barh(y - 0.2, left, height=0.4, color=RED, label=names[0])
    ax.barh(y + 0.2, right, height=0.4, color=GREEN, label=names[1])
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=7)
    return svg(fig)


@cached_chart
def journey_chart(journey: pd.DataFrame) -> str | None:
    """% of detractors and of promoters who had each touchpoint in the 30 days before."""
    if journey.empty:
        return None
    table = journey.pivot_table(
        index="touchpoint_type", columns="nps_category", values="share_pct", fill_value=0
    )
    for column in ("detractor", "promoter"):
        if column not in table:
            table[column] = 0.0
    table = table.sort_values("detractor", ascending=False)
    return hbar_pair(
        [str(t).replace("_", " ") for t in table.index],
        table["detractor"].to_numpy(),
        table["promoter"].to_numpy(),
        ("detractors", "promoters"),
        "Touchpoints in the 30 days before the answer",
        "% of answers",
    )


@cached_chart
def topics_chart(
    topics: pd.DataFrame,
    source: str,
    title: str = "Topics that move NPS",
    xlabel: str = "NPS impact (NPS naming the topic - NPS of the rest), 95% interval",
) -> str | None:
    """Topic NPS impact with its 95% interval (mart_drivers), else detractor/promoter counts."""
    if topics.empty:
        return None
    labels = [str(t).replace("_", " ") for t in topics["topic"]]
    if source == "mart_drivers":
        fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1))
        y = np.arange(len(labels))
        impact = topics["nps_impact"].astype(float).to_numpy()
        low = impact - topics["nps_impact_ci_low"].astype(float).to_numpy()
        high = topics["nps_impact_ci_high"].astype(float).to_numpy() - impact
        colors = [RED if v < 0 else GREEN for v in impact]
        ax.barh(y, impact, color=colors, alpha=0.8)
        ax.errorbar(
            impact,
            y,
            xerr=[np.nan_to_num(low), np.nan_to_num(high)],
            fmt="none",
            ecolor="#2d3748",
            capsize=2,
        )
        ax.axvline(0, color=GREY, lw=0.8)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title, loc="left")
        return svg(fig)
    return hbar_pair(
        labels,
        topics["detractors"].astype(float).to_numpy(),
        topics["promoters"].astype(float).to_numpy(),
        ("detractors", "promoters"),
        "Keyword topics of the last 12 months: who names them",
        "answers",
    )


@cached_chart
def sentiment_chart(sentiment: pd.DataFrame) -> str | None:
    """Sentiment labels per NPS category, as stacked shares."""
    if sentiment.empty:
        return None
    table = sentiment.pivot_table(
        index="nps_category", columns="sentiment_label", values="answers", fill_value=0
    )
    order = [c for c in ("detractor", "passive", "promoter") if c in table.index]
    table = table.loc[order]
    shares = table.div(table.sum(axis=1), axis=0) * 100
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(order) + 1))
    left = np.zeros(len(order))
    colors = {"negative": RED, "neutral": GREY, "positive": GREEN}
    for label in ("negative", "neutral", "positive"):
        if label in shares:
            ax.barh(order, shares[label], left=left, color=colors[label], label=label)
            left += shares[label].to_numpy()
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("% of open-text answers")
    ax.set_title("Sentiment of open-text answers by NPS category", loc="left")
    ax.legend(frameon=False, fontsize=7, ncol=3, loc="lower right")
    return svg(fig)


@cached_chart
def loop_chart(loop: pd.DataFrame) -> str | None:
    """Detractors and those followed up per month, with the loop-closure rate."""
    if loop.empty:
        return None
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [3, 2]})
    months = pd.to_datetime(loop["month"]).dt.strftime("%Y-%m")
    x = np.arange(len(months))
    ax.bar(x - 0.2, loop["detractors"], width=0.4, color=RED, label="detractors")
    ax.bar(x + 0.2, loop["followed_up"], width=0.4, color=BLUE, label="followed up")
    rate = ax.twinx()
    rate.plot(x, loop["loop_closure_rate"], color=GREEN, marker="o", ms=3, label="closed %")
    rate.set_ylim(0, 105)
    rate.set_ylabel("loop closed %")
    ax.set_xticks(x, months, rotation=45, ha="right")
    ax.set_title("Detractors contacted, by month of the answer", loc="left")
    ax.legend(frameon=False, fontsize=7, loc="upper left")
    changes = [loop["nps_change_followed_up"].mean(), loop["nps_change_not_followed_up"].mean()]
    values = [0.0 if pd.isna(v) else float(v) for v in changes]
    ax2.bar(["followed up", "not followed up"], values, color=[BLUE, GREY])
    ax2.axhline(0, color=GREY, lw=0.8)
    ax2.set_title("NPS change at the next answer", loc="left")
    return svg(fig)


@cached_chart
def clv_chart(clv: pd.DataFrame) -> str | None:
    """CLV at risk per CSM, with the part in high-risk accounts."""
    if clv.empty:
        return None
    labels = [str(c) for c in clv["csm"]]
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(labels) + 1))
    y = np.arange(len(labels))
    ax.barh(y, clv["clv_at_risk_amount"].astype(float), color=GREY, label="CLV at risk")
    ax.barh(
        y,
        clv["high_risk_clv_at_risk_amount"].astype(float),
        color=RED,
        label="of which high-risk accounts",
    )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("CLV at risk (discounted revenue, account currency)")
    ax.set_title("CLV at risk per CSM", loc="left")
    ax.legend(frameon=False, fontsize=7)
    return svg(fig)


@cached_chart
def drivers_chart(drivers: pd.DataFrame) -> str | None:
    """NPS impact of touchpoints and ticket experiences with their 95% intervals."""
    if drivers.empty:
        return None
    return topics_chart(
        drivers.rename(columns={"driver": "topic"}),
        "mart_drivers",
        "Experiences that move NPS",
        "NPS impact (NPS with the experience - NPS without), 95% interval",
    )
