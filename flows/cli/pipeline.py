"""`cxloop generate | run | demo`: demo sources, and the whole pipeline end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cxloop.errors import CxloopError
from cxloop.flows.cli.common import (
    ConfigOpt,
    JsonOpt,
    NowOpt,
    config_arg,
    console,
    parse_now,
    run_command,
    stage_lines,
    start_api_early,
)


def render_pipeline(report: dict[str, Any]) -> None:
    """The run summary a person reads, on stdout."""
    from cxloop.summary import render

    render(report, Console())


def exit_for(report: dict[str, Any]) -> None:
    """Exit 2 when the pipeline did not end ok (a gate blocked it)."""
    if report.get("status") != "ok":
        raise typer.Exit(2)


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

    run_command(lambda: gen(out, scale=scale, seed=seed), as_json)


VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Print Prefect's flow and task logs too.")
]


def run_quietly(
    body: Callable[[], dict[str, Any]], verbose: bool, api_ready: Callable[[], None]
) -> dict[str, Any]:
    """Run the pipeline body with one line per stage; Prefect's logs to CXLOOP_HOME/logs."""
    from cxloop.settings import Settings

    with stage_lines(console, Settings().paths.logs, verbose, api_ready):
        return body()


def run(
    sources: Annotated[Path, typer.Option("--sources", help="Folder of source exports.")],
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option(help="Plan playbook actions, send nothing.")] = False,
    now: NowOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run the whole pipeline (ingest, build, check, score, act, publish) on a sources folder.

    Example: cxloop run --sources ./exports --json --now 2026-11-02T14:00:00Z
    """
    from cxloop.config import load_project
    from cxloop.settings import Settings

    def body() -> dict[str, Any]:
        moment = parse_now(now)
        if not sources.is_dir():
            raise CxloopError(f"{sources}: sources folder not found")
        load_project(sources, config)  # fail fast on a bad cxloop.yaml, before Prefect starts
        api_ready = start_api_early(Settings().paths.logs, verbose)  # in the background
        from cxloop.flows.pipeline import pipeline  # imported while the server starts

        return run_quietly(
            lambda: pipeline(str(sources), config_arg(config), dry_run=dry_run, now=moment),
            verbose,
            api_ready,
        )

    exit_for(run_command(body, as_json, render_pipeline))


def demo(
    scale: Annotated[float, typer.Option(help="1.0 = about 2,000 accounts.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed for the demo data.")] = 42,
    fresh: Annotated[
        bool, typer.Option(help="Start over: delete this CXLOOP_HOME's warehouse and outputs.")
    ] = False,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Generate the demo sources into $CXLOOP_HOME/demo/sources and run the pipeline on them.

    Example: cxloop demo --scale 0.2 --fresh
    """
    from cxloop.demo.workspace import DEMO_CLOCK, demo_sources
    from cxloop.settings import Settings

    def body() -> dict[str, Any]:
        paths = Settings().paths
        started: list[Callable[[], None]] = []

        def announce(message: str) -> None:  # generation begins: start the server beside it
            started.append(start_api_early(paths.logs, verbose))
            console.print(message)

        def import_pipeline() -> None:  # while the sources are generated in a child process
            import cxloop.flows.pipeline  # noqa: F401

        out = demo_sources(
            paths, scale, seed, fresh=fresh, announce=announce, meanwhile=import_pipeline
        )
        # the demo's clock is business hours, whatever the hour (docs/playbooks.md)
        api_ready = started[0] if started else start_api_early(paths.logs, verbose)
        from cxloop.flows.pipeline import pipeline

        return run_quietly(lambda: pipeline(str(out), now=DEMO_CLOCK), verbose, api_ready)

    exit_for(run_command(body, as_json, render_pipeline))


COMMANDS = (generate, run, demo)
