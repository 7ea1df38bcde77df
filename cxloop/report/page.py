"""The CX report's page: one self-contained HTML file (inline SVG, inline CSS with print rules,
no script, no network). Comments carry their language and direction (Arabic and Persian RTL)."""

from __future__ import annotations

from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from cxloop.report.data import JOURNEY_DAYS, ReportData
from cxloop.report.plots import (
    clv_chart,
    drivers_chart,
    journey_chart,
    loop_chart,
    sentiment_chart,
    topics_chart,
    trend_chart,
)

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ku", "yi", "dv", "sd", "ug"})
NO_DATA = "No data yet"

TEMPLATE = """<!DOCTYPE html>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ company }} - CX report</title>
<style>
body { font-family: "Noto Sans", "DejaVu Sans", "Noto Naskh Arabic", "Noto Sans Arabic",
  sans-serif; color: #1a202c; margin: 0 auto; max-width: 60rem; padding: 1.5rem;
  line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #2b6cb0;
  padding-bottom: 0.2rem; margin-top: 2rem; } .meta { color: #4a5568; font-size: 0.85rem; }
nav a { margin-right: 1rem; } figure.plot { margin: 0.8rem 0; }
figure.plot svg { max-width: 100%; height: auto; }
.no-data { color: #718096; font-style: italic; background: #f7fafc; padding: 0.6rem; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 0.25rem 0.5rem; text-align: start; }
td.num { text-align: end; font-variant-numeric: tabular-nums; }
blockquote.comment { border-inline-start: 4px solid #c53030; margin: 0.5rem 0;
  padding: 0.3rem 0.8rem; background: #fff5f5; unicode-bidi: isolate; }
blockquote.comment[dir="rtl"] { font-family: "Noto Naskh Arabic", "Noto Sans Arabic", serif; }
.comment-meta { font-size: 0.75rem; color: #718096; display: block; direction: ltr;
  text-align: start; font-family: "Noto Sans", "DejaVu Sans", sans-serif; }
.note { font-size: 0.8rem; color: #4a5568; }
.problems { background: #fffaf0; border: 1px solid #dd6b20; padding: 0.4rem 0.8rem; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; } nav { display: none; }
  section { break-inside: avoid-page; } figure.plot, table, blockquote { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
</style>
</head>
<body>
<header>
<h1>{{ company }}: customer experience report</h1>
<p class="meta">Data as of {{ as_of or "unknown (no data yet)" }} - written {{ written_at }}.
Margins of error are 95%; definitions in docs/metrics.md.</p>
{% if problems %}<div class="problems" data-problems="{{ problems|length }}"><p>Some tables
could not be read (rebuild the marts with this version: <code>cxloop build</code>); their
parts are empty:</p><ul>{% for p in problems %}<li>{{ p }}</li>{% endfor %}</ul></div>{% endif %}
<nav>{% for s in sections %}<a href="#{{ s.id }}">{{ s.title }}</a>{% endfor %}</nav>
</header>
{% for s in sections %}
<section id="{{ s.id }}" data-section="{{ s.id }}">
<h2>{{ s.title }}</h2>
{% if s.empty %}<p class="no-data">{{ no_data }}: {{ s.empty_reason }}</p>{% else %}
{{ s.body }}
{% endif %}
</section>
{% endfor %}
</body>
</html>
"""

ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def figure(name: str, chart: str | None, caption: str) -> str:
    """A plot as a <figure> (nothing when there is no chart)."""
    if chart is None:
        return ""
    return (
        f'<figure class="plot" data-plot="{name}">{chart}'
        f'<figcaption class="note">{escape(caption)}</figcaption></figure>'
    )


def render_table(frame: pd.DataFrame, columns: dict[str, str], numbers: dict[str, str]) -> str:
    """A small HTML table of the named columns; `numbers` maps a column to its format."""
    head = "".join(f"<th>{escape(label)}</th>" for label in columns.values())
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if column in numbers:
                text = "" if pd.isna(value) else numbers[column].format(value)
                cells.append(f'<td class="num">{text}</td>')
            else:
                cells.append(f"<td>{escape('' if pd.isna(value) else str(value))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def trends_section(data: ReportData) -> str:
    charts = "".join(
        figure(f"{m}-trend", trend_chart(data.trends, m), caption)
        for m, caption in (
            ("nps", "Band and bars: 95% margin of error of each month's NPS."),
            ("csat", "CSAT = % of answers 4-5 on 1-5."),
            ("ces", "CES = mean effort score, 7 = very easy."),
        )
    )
    test = (
        '<p class="note">Significant changes: latest month against the month before, per '
        "segment, |z| &ge; 1.96 (95%, two-sided): NPS a variance z, CSAT a pooled two-proportion "
        "z, CES a Welch z (docs/metrics.md). Many segments are tested, so about 1 in 20 is "
        "flagged by chance where nothing changed.</p>"
    )
    if data.significant.empty:
        return charts + test + "<p>No segment changed significantly in its latest month.</p>"
    table = render_table(
        data.significant,
        {
            "metric": "metric",
            "segment_type": "segment",
            "segment_value": "value",
            "month": "month",
            "previous": "before",
            "value": "now",
            "change": "change",
            "z": "z",
            "n": "n",
        },
        {"previous": "{:.1f}", "value": "{:.1f}", "change": "{:+.1f}", "z": "{:+.2f}", "n": "{}"},
    )
    return charts + test + '<div data-table="significant-changes">' + table + "</div>"


def journey_section(data: ReportData) -> str:
    return figure(
        "journey",
        journey_chart(data.journey),
        f"Share of detractor and promoter answers with each kind of touchpoint in the "
        f"{JOURNEY_DAYS} days before the answer (the same customer).",
    )


def comment_html(row: pd.Series) -> str:
    language = str(row["language"]).lower()
    direction = "rtl" if language.split("-")[0] in RTL_LANGUAGES else "auto"
    sentiment = "" if pd.isna(row["sentiment_label"]) else f", sentiment {row['sentiment_label']}"
    day = pd.Timestamp(row["responded_date"]).strftime("%Y-%m-%d")
    meta = f"NPS {int(row['nps_score'])}, {day}, {language}{sentiment}"
    return (
        f'<blockquote class="comment" lang="{escape(language)}" dir="{direction}">'
        f"{escape(row['open_text'])}"
        f'<span class="comment-meta" dir="ltr" lang="en">{escape(meta)}</span></blockquote>'
    )


def voice_section(data: ReportData) -> str:
    parts = []
    if data.topic_source == "mart_drivers":
        caption = "Learned and keyword topics (mart_drivers): NPS impact with its 95% interval."
    else:
        caption = "Keyword topics (mart_topics); learned topics appear once mart_drivers is built."
    parts.append(figure("topics", topics_chart(data.topics, data.topic_source), caption))
    sentiment = sentiment_chart(data.sentiment)
    if sentiment:
        parts.append(figure("sentiment", sentiment, "Sentiment per answer (ml.text_sentiment)."))
    else:
        parts.append(f'<p class="no-data">{NO_DATA}: no sentiment scores (ml.text_sentiment).</p>')
    if data.comments.empty:
        parts.append(f'<p class="no-data">{NO_DATA}: no detractor comments.</p>')
    else:
        parts.append("<h3>What detractors wrote (recent, up to two per language, masked)</h3>")
        parts.append('<div data-list="comments">')
        parts.extend(comment_html(row) for _, row in data.comments.iterrows())
        parts.append("</div>")
    return "".join(parts)


def loop_section(data: ReportData) -> str:
    loop = data.loop
    detractors, followed = int(loop["detractors"].sum()), int(loop["followed_up"].sum())
    closed = int(loop["loops_closed"].sum())
    hours = (loop["avg_hours_to_first_contact"] * loop["followed_up"]).sum()
    summary = (
        f'<p data-summary="loop">{detractors} detractors, {followed} contacted, {closed} loops '
        f"closed ({100 * closed / detractors:.0f}%)"
        + (f"; first contact after {hours / followed:.1f} hours on average" if followed else "")
        + ".</p>"
        if detractors
        else ""
    )
    return summary + figure(
        "loop-closure",
        loop_chart(loop),
        "Closed = followed up and delivered. NPS change: the next answer's score minus the "
        "detractor's, followed up against not (mart_loop_closure).",
    )


def at_risk_section(data: ReportData) -> str:
    parts = [
        figure(
            "clv-at-risk",
            clv_chart(data.clv_by_csm),
            "CLV at risk = discounted revenue over the CLV horizon if retained, minus the "
            "expected revenue under the churn model's survival (docs/metrics.md).",
        )
    ]
    if data.at_risk.empty:
        parts.append(f'<p class="no-data">{NO_DATA}: no account in the high or medium band.</p>')
    else:
        parts.append(
            '<div data-table="at-risk-accounts">'
            + render_table(
                data.at_risk,
                {
                    "account_name": "account",
                    "csm": "CSM",
                    "churn_probability": "churn probability",
                    "churn_risk_band": "band",
                    "drivers": "top drivers",
                    "arr_amount": "ARR",
                    "clv_at_risk_amount": "CLV at risk",
                },
                {
                    "churn_probability": "{:.0%}",
                    "arr_amount": "{:,.0f}",
                    "clv_at_risk_amount": "{:,.0f}",
                },
            )
            + "</div>"
        )
    drivers = drivers_chart(data.drivers)
    if drivers:
        parts.append(
            figure(
                "experience-drivers",
                drivers,
                "Touchpoints and ticket experiences "
                "(mart_drivers): NPS impact with its 95% interval.",
            )
        )
    return "".join(parts)


def sections(data: ReportData) -> list[dict[str, Any]]:
    """Each section's id, title, body, and why it is empty when it is."""
    specs = [
        (
            "trends",
            "NPS, CSAT and CES",
            data.trends.empty,
            trends_section,
            "no survey responses in the marts (mart_nps, mart_csat, mart_ces)",
        ),
        (
            "journey",
            "The journey before detraction",
            data.journey.empty,
            journey_section,
            "no detractor or promoter with touchpoints before the answer",
        ),
        (
            "voice",
            "Topics and sentiment of detractors",
            data.topics.empty and data.comments.empty and data.sentiment.empty,
            voice_section,
            "no open-text answers",
        ),
        (
            "loop",
            "Closing the loop",
            data.loop.empty or data.loop["detractors"].sum() == 0,
            loop_section,
            "no detractor follow-ups yet (mart_loop_closure)",
        ),
        (
            "at-risk",
            "Accounts at risk and CLV at risk",
            data.at_risk.empty and data.clv_by_csm.empty,
            at_risk_section,
            "no churn scores yet (train and score a churn model)",
        ),
    ]
    return [
        {
            "id": sid,
            "title": title,
            "empty": empty,
            "empty_reason": reason,
            "body": "" if empty else Markup(build(data)),
        }
        for sid, title, empty, build, reason in specs
    ]


def render_page(
    data: ReportData,
    company: str,
    written_at: str,
    rendered: list[dict[str, Any]] | None = None,
) -> str:
    """The whole report as one HTML string (`rendered`: sections(data), when already drawn)."""
    return ENV.from_string(TEMPLATE).render(
        company=company,
        as_of=data.as_of,
        written_at=written_at,
        sections=sections(data) if rendered is None else rendered,
        no_data=NO_DATA,
        problems=data.problems,
    )
