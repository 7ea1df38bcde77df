"""The run summary: what the warehouse holds after a run, in words and as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from cxloop.warehouse import SCHEMAS, reader, table_exists

HEADLINE_SQL = """
select
    count(nps_score) as nps_responses,
    round(100.0 * (count(*) filter (where nps_score >= 9) - count(*) filter (where nps_score <= 6))
          / nullif(count(nps_score), 0), 1) as nps,
    count(csat_score) as csat_responses,
    round(100.0 * count(*) filter (where csat_score >= 4)
          / nullif(count(csat_score), 0), 1) as csat,
    count(ces_score) as ces_responses,
    round(avg(ces_score), 2) as ces
from marts.fct_survey_responses
"""


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def rows_per_layer(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Row counts of every table (not views) per schema."""
    out: dict[str, dict[str, int]] = {s: {} for s in SCHEMAS}
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1, 2"
    ).fetchall()
    for schema, table in tables:
        if schema in out:
            out[schema][table] = int(_scalar(con, f'select count(*) from {schema}."{table}"'))
    return out


def warehouse_summary(warehouse: Path) -> dict[str, Any]:
    """Rows per layer, quarantine, headline metrics and at-risk accounts, read from the file."""
    with reader(warehouse) as con:
        layers = rows_per_layer(con)
        summary: dict[str, Any] = {
            "rows_per_layer": {s: sum(t.values()) for s, t in layers.items()},
            "tables": layers,
            "quarantined_rows": layers["ops"].get("quarantine", 0),
        }
        if table_exists(con, "marts", "fct_survey_responses"):
            cur = con.execute(HEADLINE_SQL)
            names = [d[0] for d in cur.description]
            summary["metrics"] = dict(zip(names, cur.fetchone() or (), strict=False))
        if table_exists(con, "ml", "churn_scores"):
            summary["at_risk_accounts"] = int(
                _scalar(
                    con,
                    "select count(*) from ml.churn_scores where risk_band = 'high' "
                    "and scored_at = (select max(scored_at) from ml.churn_scores)",
                )
            )
    return summary


def render(report: dict[str, Any], console: Console | None = None) -> None:
    """Print a short, readable summary of a pipeline run."""
    console = console or Console()
    wh = report.get("warehouse", {})
    console.print(f"[bold]cxloop run {report.get('run_id', '')}[/] — {report.get('status')}")
    table = Table("layer", "rows", title="Warehouse")
    for layer, n in wh.get("rows_per_layer", {}).items():
        table.add_row(layer, "views" if layer == "staging" and not n else f"{n:,}")
    console.print(table)
    ing = report.get("ingest", {}).get("totals", {})
    if ing:
        console.print(
            "Ingest: read {read:,}, landed {landed:,}, quarantined {quarantined:,}, "
            "duplicate {duplicate:,}, erased {erased:,}".format(
                **{
                    k: ing.get(k, 0)
                    for k in ("read", "landed", "quarantined", "duplicate", "erased")
                }
            )
        )
    m = wh.get("metrics") or {}
    if m:
        console.print(
            f"NPS {m.get('nps')} (n={m.get('nps_responses')}), CSAT {m.get('csat')}% "
            f"(n={m.get('csat_responses')}), CES {m.get('ces')} (n={m.get('ces_responses')})"
        )
    if "at_risk_accounts" in wh:
        console.print(f"At-risk accounts (high band): {wh['at_risk_accounts']}")
    if report.get("act"):
        actions = Table(
            "playbook", "sent", "suppressed", "deferred", "failed", "unknown", title="Playbooks"
        )
        for name, counts in report["act"].items():
            if isinstance(counts, dict):
                actions.add_row(
                    name,
                    *(
                        str(counts.get(k, 0))
                        for k in ("sent", "suppressed", "skipped_by_guardrail", "failed", "unknown")
                    ),
                )
        console.print(actions)
    sentiment = report.get("voice", {}).get("sentiment")
    if sentiment:
        console.print(voice_line(sentiment))
    score = report.get("score", {})
    if score.get("skipped") and not score.get("unchanged"):
        console.print(f"No churn scores this run: {score['skipped']}")
    for stage, reason in (report.get("skipped") or {}).items():
        console.print(f"Skipped {stage}: {reason}")
    for warning in report.get("warnings") or []:
        console.print(f"[yellow]Warning:[/] {warning}")
    if report.get("blocked"):
        console.print(f"[red]Blocked:[/] {report['blocked']}")
    timing = Table("stage", "seconds", title="Where the time went")
    for stage, secs in report.get("durations", {}).items():
        timing.add_row(stage, f"{secs:.1f}")
    console.print(timing)


def voice_line(sentiment: dict[str, Any]) -> str:
    """One line on the voice stage: texts by method, held-out accuracy, too little data."""
    methods = ", ".join(f"{k} {v:,}" for k, v in sentiment.get("by_method", {}).items())
    per_language = sentiment.get("per_language", {})
    accuracy = ", ".join(
        f"{lang} {acc:.2f} (n={per_language.get(lang, {}).get('n_test', '?')})"
        for lang, acc in sorted(sentiment.get("held_out_accuracy", {}).items())
        if acc is not None
    )
    scarce = ", ".join(sentiment.get("too_little_data", [])) or "none"
    return (
        f"Sentiment: {sentiment.get('texts', 0):,} texts ({methods or 'none'}); held-out "
        f"accuracy {accuracy or 'none'}; too little data for a model: {scarce}"
    )
