"""The `cxloop` command line. Every command runs the same Prefect flows a deployment runs."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cxloop.errors import CxloopError

for _k, _v in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(_k, _v)

app = typer.Typer(
    help="cxloop: a customer-experience warehouse with closed-loop automation.\n\n"
    "Example: cxloop demo --scale 0.2",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="cxloop.yaml (default: <sources>/cxloop.yaml).")
]


def _run(fn: Callable[[], Any], as_json: bool, render: Callable[[Any], None] | None = None) -> Any:
    """Run a command body; print a one-line error and exit 1 on a user-facing error."""
    try:
        result = fn()
    except CxloopError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    elif render:
        render(result)
    else:
        console.print_json(json.dumps(result, default=str))
    return result


def _render_pipeline(report: dict[str, Any]) -> None:
    from cxloop.summary import render

    render(report, Console())


def _exit_for(report: dict[str, Any]) -> None:
    if report.get("status") != "ok":
        raise typer.Exit(2)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the sources into.")],
    scale: Annotated[float, typer.Option(help="1.0 = about 2,000 accounts.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 42,
    as_json: JsonOpt = False,
) -> None:
    """Generate demo sources in the real export formats.

    Example: cxloop generate --out var/demo/sources --scale 0.5 --seed 7
    """
    from cxloop.demo.generator import generate as gen

    _run(lambda: gen(out, scale=scale, seed=seed), as_json)


@app.command()
def run(
    sources: Annotated[Path, typer.Option("--sources", help="Folder of source exports.")],
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option(help="Plan playbook actions, send nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole pipeline (ingest, build, check, score, act, publish) on a sources folder.

    Example: cxloop run --sources ./exports --json
    """
    from cxloop.config import load_project
    from cxloop.flows.pipeline import pipeline

    def body() -> dict[str, Any]:
        if not sources.is_dir():
            raise CxloopError(f"{sources}: sources folder not found")
        load_project(sources, config)  # fail fast on a bad cxloop.yaml, before Prefect starts
        return pipeline(str(sources), str(config) if config else None, dry_run=dry_run)

    _exit_for(_run(body, as_json, _render_pipeline))


@app.command()
def demo(
    scale: Annotated[float, typer.Option(help="1.0 = about 2,000 accounts.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed for the demo data.")] = 42,
    fresh: Annotated[
        bool, typer.Option(help="Start over: delete this CXLOOP_HOME's warehouse and outputs.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate the demo sources into $CXLOOP_HOME/demo/sources and run the pipeline on them.

    Example: cxloop demo --scale 0.2 --fresh
    """
    from cxloop.demo.generator import generate as gen
    from cxloop.flows.pipeline import pipeline
    from cxloop.settings import Settings

    def body() -> dict[str, Any]:
        paths = Settings().paths
        out = paths.demo / "sources"
        stamp = out.parent / "generated.json"
        wanted = {"scale": scale, "seed": seed}
        if fresh:
            for folder in (
                paths.demo,
                paths.warehouse_dir,
                paths.lake,
                paths.outbox,
                paths.bi,
                paths.models,
                paths.reports,
                paths.gx,
            ):
                shutil.rmtree(folder, ignore_errors=True)
        elif stamp.exists() and json.loads(stamp.read_text()) != wanted:
            raise CxloopError(
                f"{out} holds demo sources of {stamp.read_text()}; pass --fresh to start over "
                f"with scale {scale} and seed {seed}"
            )
        if not stamp.exists():
            console.print(f"Generating demo sources (scale {scale}, seed {seed}) into {out} ...")
            gen(out, scale=scale, seed=seed)
            stamp.write_text(json.dumps(wanted))
        return pipeline(str(out))

    _exit_for(_run(body, as_json, _render_pipeline))


@app.command()
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

    _run(body, as_json)


@app.command()
def build(
    config: ConfigOpt = None,
    select: Annotated[str | None, typer.Option(help="dbt node selection.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Build and test the dbt models (staging, intermediate, marts, ml).

    Example: cxloop build --select marts
    """
    from cxloop.flows.build import build as build_flow

    _run(lambda: build_flow(str(config) if config else None, select), as_json)


@app.command()
def check(
    stage: Annotated[str, typer.Option(help="raw, marts or all.")] = "marts",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the Great Expectations suites (and, for raw, source freshness); exits 1 on a failure.

    Example: cxloop check --stage all --config sources/cxloop.yaml
    """
    from cxloop.flows.check import check as check_flow

    _run(lambda: check_flow(stage=stage, config_path=str(config) if config else None), as_json)


@app.command()
def train(as_json: JsonOpt = False) -> None:
    """Train a churn model on ml.account_snapshots; promote it only if it is better.

    Example: cxloop train --json
    """
    from cxloop.flows.train import train as train_flow

    _run(lambda: train_flow(), as_json)


@app.command()
def score(as_json: JsonOpt = False) -> None:
    """Score every active account with the current churn model into ml.churn_scores.

    Example: cxloop score
    """
    from cxloop.flows.score import score as score_flow

    _run(lambda: score_flow(), as_json)


@app.command()
def act(
    dry_run: Annotated[bool, typer.Option(help="Show the plan; write and send nothing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the playbooks: detractor follow-ups, callbacks, CSM at-risk alerts.

    Example: cxloop act --dry-run
    """
    from cxloop.flows.act import act as act_flow

    _run(lambda: act_flow(dry_run=dry_run), as_json)


@app.command()
def publish(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Publish the marts as a read-only BI snapshot ($CXLOOP_HOME/bi/cx.duckdb, Parquet).

    Example: cxloop publish
    """
    from cxloop.flows.publish import publish as publish_flow

    _run(lambda: publish_flow(str(config) if config else None), as_json)


@app.command()
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

    _run(body, as_json)


def _register_subcommands() -> None:
    from cxloop.flows.cli import churn as cli_churn
    from cxloop.flows.cli import identity as cli_identity
    from cxloop.flows.cli import postgres as cli_postgres
    from cxloop.flows.cli import webhooks as cli_webhooks

    app.add_typer(cli_identity.app, name="identity")
    app.add_typer(cli_churn.app, name="churn")
    app.add_typer(cli_webhooks.app, name="webhooks")
    app.add_typer(cli_postgres.app, name="postgres")
    app.command("serve-webhooks")(cli_webhooks.serve)


_register_subcommands()

if __name__ == "__main__":
    app()
