"""What the `cxloop` command groups share: console, offline defaults, options, run_command,
and the quiet terminal of `run` and `demo` (one line per stage; Prefect's logs to a file).

Command-group modules import this module, never the app module (`cxloop.flows.cli`), so the
app can import every group at its top without an import circle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cxloop.errors import CxloopError

console = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="cxloop.yaml (default: <sources>/cxloop.yaml).")
]


NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Pin the playbooks' clock (quiet hours, cooldowns, due dates): an ISO 8601 "
        "timestamp, e.g. 2026-11-02T14:00:00Z; without an offset it is UTC. Default: now.",
    ),
]


def parse_now(value: str | None) -> datetime | None:
    """A --now value as an aware datetime (UTC when it has no offset), or None when not given."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CxloopError(
            f"--now: expected an ISO 8601 timestamp such as 2026-11-02T14:00:00Z, got {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def config_arg(config: Path | None) -> str | None:
    """A --config path as the flows take it: text, or None for their default."""
    return str(config) if config else None


def fail(exc: Exception) -> typer.Exit:
    """Print a user-facing error on one line; the caller raises the returned exit 1."""
    console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def run_command(
    fn: Callable[[], Any], as_json: bool, render: Callable[[Any], None] | None = None
) -> Any:
    """Run a command body; print a one-line error and exit 1 on a user-facing error.

    The result goes to stdout as JSON with --json, else through `render`, else as
    highlighted JSON on the console.
    """
    try:
        result = fn()
    except CxloopError as exc:
        raise fail(exc) from None
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    elif render:
        render(result)
    else:
        console.print_json(json.dumps(result, default=str))
    return result


# The quiet terminal: Prefect's flow and task logs go to the Prefect API (the UI) and always to
# $CXLOOP_HOME/logs/cxloop.log; on the terminal only with --verbose.
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s - %(message)s"


def route_logs(log_dir: Path, verbose: bool) -> Path:
    """Send every log record to `log_dir/cxloop.log`; silence the console unless `verbose`."""
    import prefect  # noqa: F401  (configures Prefect's logging, which this then adjusts)
    from prefect.logging.handlers import PrefectConsoleHandler

    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "cxloop.log"
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setLevel(logging.INFO)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    if not verbose:
        for logger in (root, *(logging.getLogger(n) for n in ("uvicorn", "fastapi"))):
            for handler in logger.handlers:
                if isinstance(handler, PrefectConsoleHandler):
                    handler.setLevel(logging.CRITICAL + 1)
    return path


@contextlib.contextmanager
def stage_lines(
    console: Console, log_dir: Path, verbose: bool, api_ready: Callable[[], None]
) -> Iterator[None]:
    """Show each pipeline stage as one progress line while the block runs the pipeline
    (first a line for Prefect's temporary server, waited for by `api_ready`)."""
    from cxloop.flows.orchestration import stage_listener

    path = route_logs(log_dir, verbose)
    columns = (
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description:<14}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=verbose) as progress:
        tasks: dict[str, int] = {}

        def on_stage(stage: str, seconds: float | None) -> None:
            if seconds is None:
                tasks[stage] = progress.add_task(stage, total=1)
            else:
                progress.update(tasks[stage], completed=1)

        with stage_listener(on_stage):
            on_stage("prefect_api", None)
            api_ready()
            on_stage("prefect_api", 0.0)
            yield
    console.print(f"Logs: {path}", highlight=False)


def start_api_early(log_dir: Path, verbose: bool) -> Callable[[], None]:
    """Start Prefect's temporary server in the background (when no API is configured), so its
    ~10 s start overlaps the CLI's imports and the demo's generation; returns `wait`.

    Before Prefect is imported and with no API configured anywhere, the server is our own child
    process (flows/prefect_api.py), which spares this process importing Prefect's server.
    Otherwise:

    The flows would start the same server (Prefect's ephemeral mode, one per process) on
    their first API call; `wait` must run before that, since a server marked started is
    not yet answering. Prefect itself is imported in the background thread too, and its logs
    routed (`route_logs`) before the server says it starts.
    """
    from cxloop.flows.prefect_api import TemporaryServer, api_may_be_configured

    if "prefect" not in sys.modules and not api_may_be_configured(Path.cwd(), os.environ):
        server = TemporaryServer(log_dir / "prefect-server.log")  # before Prefect is imported
        server.start()
        return server.wait
    errors: list[BaseException] = []

    def start() -> None:
        try:
            route_logs(log_dir, verbose)
            from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

            if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
                return
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
        except BaseException as exc:  # re-raised by wait(), in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=start, name="prefect-temporary-server", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return wait
