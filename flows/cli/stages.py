"""`cxloop ingest | build | check | voice | train | score | act | publish | status`: one stage each.

Each command runs the same Prefect flow a deployment runs, imported when the command runs
so that `cxloop --help` starts without Prefect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.errors import CxloopError
from cxloop.flows.cli.common import (
    ConfigOpt,
    JsonOpt,
    NowOpt,
    config_arg,
    parse_now,
    run_command,
)


def ingest(
    sources: Annotated[Path, typer.Option("--sources", help="Folder of source exports.")],
    config: ConfigOpt = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only this source (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Land the source files in raw (bad rows to ops.quarantine); safe to repeat.

    Example: cxloop ingest --sources ./exports --only zendesk
    """
    from cxloop.config import load_project
    from cxloop.flows.ingest import ingest as ingest_flow

    def body() -> dict[str, Any]:
        cfg_path, _ = load_project(sources, config)  # fail fast, before Prefect starts
        return ingest_flow(str(sources), str(cfg_path), only=only or None)

    run_command(body, as_json)


def build(
    config: ConfigOpt = None,
    select: Annotated[str | None, typer.Option(help="dbt node selection.")] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from all of raw.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build and test the dbt models (staging, intermediate, marts, ml).

    Example: cxloop build --select marts
    """
    from cxloop.flows.build import build as build_flow

    run_command(lambda: build_flow(config_arg(config), select, full_refresh), as_json)


def check(
    stage: Annotated[str, typer.Option(help="raw, marts or all.")] = "marts",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the Great Expectations suites (and, for raw, source freshness); exits 1 on a failure.

    Example: cxloop check --stage all --config sources/cxloop.yaml
    """
    from cxloop.flows.check import check as check_flow

    run_command(lambda: check_flow(stage=stage, config_path=config_arg(config)), as_json)


def train(as_json: JsonOpt = False) -> None:
    """Train a churn model on ml.account_snapshots; promote it only if it is better.

    Example: cxloop train --json
    """
    from cxloop.flows.train import train as train_flow

    run_command(lambda: train_flow(), as_json)


def score(as_json: JsonOpt = False) -> None:
    """Score every active account with the current churn model into ml.churn_scores.

    Example: cxloop score
    """
    from cxloop.flows.score import score as score_flow

    run_command(lambda: score_flow(), as_json)


def voice(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Sentiment and topics of every open-text answer and ticket comment, then mart_drivers.

    Retrains the sentiment model when the scored answers changed; writes the held-out accuracy
    per language to $CXLOOP_HOME/reports/sentiment.md (docs/voice.md).

    Example: cxloop voice --json
    """
    from cxloop.flows.voice import voice as voice_flow

    run_command(lambda: voice_flow(config_path=config_arg(config)), as_json)


def act(
    dry_run: Annotated[bool, typer.Option(help="Show the plan; write and send nothing.")] = False,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the playbooks: detractor follow-ups, callbacks, CSM alerts.

    Example: cxloop act --dry-run --now 2026-11-02T14:00:00Z
    """
    from cxloop.flows.act import act as act_flow

    run_command(lambda: act_flow(dry_run=dry_run, now=parse_now(now)), as_json)


def publish(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Publish the marts as a read-only BI snapshot ($CXLOOP_HOME/bi/cx.duckdb, Parquet).

    Example: cxloop publish
    """
    from cxloop.flows.publish import publish as publish_flow

    run_command(lambda: publish_flow(config_arg(config)), as_json)


def status(as_json: JsonOpt = False) -> None:
    """Show what the warehouse holds: rows per layer, quarantine, headline metrics.

    Example: cxloop status --json
    """
    from cxloop.settings import Settings
    from cxloop.summary import warehouse_summary

    def body() -> dict[str, Any]:
        wh = Settings().paths.warehouse
        if not wh.exists():
            raise CxloopError(f"{wh}: no warehouse yet (run `cxloop demo` or `cxloop run`)")
        return warehouse_summary(wh)

    run_command(body, as_json)


COMMANDS = (ingest, build, check, voice, train, score, act, publish, status)
