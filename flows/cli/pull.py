"""`cxloop pull`: pull the configured APIs into the sources folder, with a progress display."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cxloop.flows.cli.common import ConfigOpt, JsonOpt, console, run_command


def pull(
    sources: Annotated[Path, typer.Option("--sources", help="Folder of source exports.")],
    config: ConfigOpt = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Only this source, by name or kind (repeatable)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            help="Start every stream at this date (UTC) instead of its cursor (a backfill).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only check credentials and permissions.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Pull what changed since each cursor from the APIs in cxloop.yaml into the sources folder.

    Example: cxloop pull --sources ./exports --only zendesk
    """
    from cxloop.config import load_project
    from cxloop.connectors.progress import listen
    from cxloop.flows.pull import pull as pull_flow

    def body() -> dict[str, Any]:
        cfg_path, _ = load_project(sources, config)  # fail fast, before Prefect starts
        day = since.date() if since else None
        if check or as_json:
            return pull_flow(str(sources), str(cfg_path), only=only or None, since=day, check=check)
        with _progress() as display, listen(display):
            return pull_flow(str(sources), str(cfg_path), only=only or None, since=day)

    run_command(body, as_json, _render_check if check else _render)


class _progress:
    """A rich line per stream: pages, records, records per second."""

    def __enter__(self) -> _progress:
        self.bar = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.fields[pages]:>6} pages"),
            TextColumn("{task.completed:>10,.0f} records"),
            TextColumn("{task.fields[rate]:>8,.0f}/s"),
            TimeElapsedColumn(),
            console=console,
        )
        self.bar.__enter__()
        self.tasks: dict[tuple[str, str], Any] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def __call__(self, event: Any) -> None:
        key = (event.source, event.stream)
        if key not in self.tasks:
            name = f"{event.source}.{event.stream}"
            self.tasks[key] = self.bar.add_task(name, total=None, pages=0, rate=0.0)
        rate = event.records / event.seconds if event.seconds > 0 else 0.0
        self.bar.update(self.tasks[key], completed=event.records, pages=event.pages, rate=rate)


def _render(result: dict[str, Any]) -> None:
    table = Table("source", "pages", "records", "requests", "retries", "429s", "seconds")
    for name, report in result["sources"].items():
        table.add_row(name, *(f"{report[k]:,}" for k in ("pages", "records", "requests",
                      "retries", "rate_limited")), f"{report['seconds']:.1f}")  # fmt: skip
    console.print(table)


def _render_check(result: dict[str, Any]) -> None:
    for name, report in result["sources"].items():
        console.print(f"[green]ok[/] {name}: {report['base_url']} {report['checked']}")
