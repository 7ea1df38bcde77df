"""`cxloop callbacks ...`: a CSM's queue, and recording a call and its close."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cxloop.flows.cli.common import ConfigOpt, JsonOpt, console, run_command

app = typer.Typer(help="Callback tasks: list, contacted, close.", no_args_is_help=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="DuckDB file (default: CXLOOP_HOME's).")
]
NowOpt = Annotated[
    datetime | None,
    typer.Option("--now", help="The time to record or judge lateness at, UTC (default: now)."),
]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A short note kept with the event.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who did it (an e-mail).")]


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now


def _write(warehouse: Path | None, fn: Any) -> Any:
    """Run fn(con) in one committed transaction on the warehouse (a one-line error if busy)."""
    import duckdb

    from cxloop.errors import CxloopError
    from cxloop.settings import Settings
    from cxloop.warehouse import writer

    path = warehouse or Settings().paths.warehouse
    if not Path(path).exists():
        raise CxloopError(f"{path}: no warehouse yet (run `cxloop run` first)")
    try:
        with writer(path) as con:
            return fn(con)
    except duckdb.IOException as exc:
        raise CxloopError(f"{path}: the warehouse is busy (another run holds it): {exc}") from None


@app.command("list")
def list_(
    owner: Annotated[
        str | None, typer.Option("--owner", help="The CSM's (or queue's) e-mail.")
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only tasks past due.")] = False,
    closed: Annotated[bool, typer.Option("--closed", help="Include closed tasks.")] = False,
    warehouse: WarehouseOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A CSM's callback queue, most urgent first.

    Example: cxloop callbacks list --owner carla@yourcompany.com --overdue
    """
    from cxloop.callbacks import task_queue

    def body() -> list[dict[str, Any]]:
        return _write(
            warehouse, lambda con: task_queue(con, _now(now), owner, overdue, include_closed=closed)
        )

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("task", "status", "owner", "due (UTC)", "overdue", "level", "reason")
        for r in rows:
            table.add_row(
                r["task_id"][:8],
                r["status"],
                r["owner"],
                str(r["due_at"] or "-")[:16],
                "yes" if r["is_overdue"] else "",
                str(r["escalation_level"] or ""),
                r["reason"] or "",
            )
        console.print(table)
        console.print(f"{len(rows)} task(s)")

    run_command(body, as_json, render)


@app.command()
def contacted(
    task_id: Annotated[str, typer.Argument(help="The task id (or its first 8+ characters).")],
    by: ByOpt = None,
    note: NoteOpt = None,
    warehouse: WarehouseOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record that the customer was contacted (open -> contacted).

    Example: cxloop callbacks contacted 3f2a9c1e --by carla@yourcompany.com
    """
    from cxloop.callbacks import mark_contacted

    run_command(
        lambda: _write(
            warehouse, lambda con: mark_contacted(con, task_id, now=_now(now), actor=by, note=note)
        ),
        as_json,
    )


@app.command()
def close(
    task_id: Annotated[str, typer.Argument(help="The task id (or its first 8+ characters).")],
    outcome: Annotated[
        str, typer.Option("--outcome", help="One of cxloop.yaml callbacks.outcomes.")
    ],
    root_cause: Annotated[
        str, typer.Option("--root-cause", help="One of cxloop.yaml callbacks.root_causes.")
    ],
    by: ByOpt = None,
    note: NoteOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    now: NowOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a callback with its outcome and root cause (open/contacted -> closed).

    Example: cxloop callbacks close 3f2a9c1e --outcome resolved --root-cause billing
    """
    from cxloop.callbacks import close_task
    from cxloop.config import ProjectConfig, project_config

    def body() -> dict[str, Any]:
        settings = (project_config(config) or ProjectConfig(sources={})).callbacks
        return _write(
            warehouse,
            lambda con: close_task(
                con,
                task_id,
                outcome=outcome,
                root_cause=root_cause,
                config=settings,
                now=_now(now),
                actor=by,
                note=note,
            ),
        )

    run_command(body, as_json)
