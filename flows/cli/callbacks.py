"""`cxloop callbacks ...`: a CSM's queue, and recording a call and its close."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cxloop.flows.cli.common import ConfigOpt, JsonOpt, console, parse_now, run_command

app = typer.Typer(help="Callback tasks: list, contacted, close.", no_args_is_help=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="DuckDB file (default: CXLOOP_HOME's).")
]
NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="The time to record or judge lateness at: ISO 8601, e.g. 2026-11-02T14:00:00Z; "
        "without an offset it is UTC (default: now).",
    ),
]
# How long a command waits for a run that holds the warehouse (DuckDB allows one writing
# process, and no reader beside it): a pipeline run holds it from start to end, some 3 minutes
# at 2M source rows (docs/benchmarks.md), so a command outlasts a long run. With a Prefect
# server the wait is for the writer slot; DuckDB's lock is then waited for at most
# SLOT_LOCK_WAIT_SECONDS (the slot's holders are done; another program may have the file open,
# and the command must not keep the slot from scheduled flows for long).
LOCK_WAIT_SECONDS = 900.0
SLOT_LOCK_WAIT_SECONDS = 120.0
NoteOpt = Annotated[str | None, typer.Option("--note", help="A short note kept with the event.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who did it (an e-mail).")]


def _now(now: str | None) -> datetime:
    return parse_now(now) or datetime.now(UTC)


def _warehouse(warehouse: Path | None) -> Path:
    from cxloop.errors import CxloopError
    from cxloop.settings import Settings

    path = Path(warehouse or Settings().paths.warehouse)
    if not path.exists():
        raise CxloopError(f"{path}: no warehouse yet (run `cxloop run` first)")
    return path


def _waiting(what: str, seconds: float) -> Callable[[], None]:
    def say() -> None:
        console.print(
            f"{what}; waiting for it to end (up to {seconds / 60:.0f} min, Ctrl-C to stop)",
            highlight=False,
            soft_wrap=True,
        )

    return say


def _open(path: Path, read_only: bool, wait_seconds: float) -> Any:
    """Connect, waiting while another process holds DuckDB's lock; a one-line error after."""
    import duckdb

    from cxloop.errors import CxloopError
    from cxloop.warehouse import connect_when_free

    waiting = _waiting(f"{path}: another process holds the warehouse", wait_seconds)
    try:
        return connect_when_free(path, wait_seconds, read_only=read_only, on_wait=waiting)
    except duckdb.IOException as exc:
        raise CxloopError(
            f"{path}: the warehouse is busy (a run holds it) after waiting "
            f"{wait_seconds:.0f} s; try again when it is done: {exc}"
        ) from None


@contextlib.contextmanager
def _writer_slot() -> Iterator[float]:
    """The Prefect `warehouse-writer` slot when a Prefect server is configured (scheduled flows
    queue on it, as the in-the-moment actor does); without one, or when it does not answer, no
    scheduled flow runs. Yields how long to wait for DuckDB's lock then."""
    from prefect.settings import PREFECT_API_URL

    from cxloop.errors import CxloopError

    if not PREFECT_API_URL.value():
        yield LOCK_WAIT_SECONDS
        return
    from cxloop.flows.orchestration import WRITER_LIMIT, warehouse_slot

    said = _waiting(f"a run holds the {WRITER_LIMIT} slot", LOCK_WAIT_SECONDS)
    with contextlib.ExitStack() as stack:
        down: BaseException | None = None
        try:
            stack.enter_context(warehouse_slot(wait_seconds=LOCK_WAIT_SECONDS, on_wait=said))
        except TimeoutError:
            raise CxloopError(
                f"the warehouse is busy (a run holds the {WRITER_LIMIT} slot) after waiting "
                f"{LOCK_WAIT_SECONDS:.0f} s; try again when it is done"
            ) from None
        except Exception as exc:  # a CSM's queue must not depend on the server being up
            down = _unanswered(exc)
            if down is None:
                raise
        if down is None:
            yield SLOT_LOCK_WAIT_SECONDS
            return
        console.print(
            f"the Prefect server at {PREFECT_API_URL.value()} does not answer "
            f"({type(down).__name__}); going on with DuckDB's lock alone (no scheduled run "
            "starts while the server is down)",
            highlight=False,
            soft_wrap=True,
        )
        yield LOCK_WAIT_SECONDS


def _unanswered(exc: BaseException) -> BaseException | None:
    """The connection error behind `exc` (itself or a cause: Prefect wraps the one it meets
    while acquiring a slot), or None when the server answered."""
    import httpx

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.TransportError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _read(warehouse: Path | None, fn: Any) -> Any:
    """Run fn(con) on a read-only connection, holding the writer slot as a write does: a run
    holds the warehouse open from start to end, and a reader's lock would stop the next run
    from opening it (reads take milliseconds)."""
    path = _warehouse(warehouse)
    with _writer_slot() as lock_wait:
        con = _open(path, read_only=True, wait_seconds=lock_wait)
        try:
            return fn(con)
        finally:
            con.close()


def _write(warehouse: Path | None, fn: Any) -> Any:
    """Run fn(con) in one committed transaction, holding the writer slot (see _writer_slot)."""
    path = _warehouse(warehouse)
    with _writer_slot() as lock_wait:
        con = _open(path, read_only=False, wait_seconds=lock_wait)
        try:
            con.execute("begin transaction")
            result = fn(con)
            con.execute("commit")
            return result
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("rollback")
            raise
        finally:
            con.close()


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
        return _read(
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
