"""What the `cxloop` command groups share: console, offline defaults, options, run_command.

Command-group modules import this module, never the app module (`cxloop.flows.cli`), so the
app can import every group at its top without an import circle.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cxloop.errors import CxloopError

OFFLINE_ENV: Mapping[str, str] = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
}


def apply_offline_defaults() -> None:
    """Turn off dbt, Prefect and GX usage reporting unless the environment says otherwise."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


apply_offline_defaults()  # before any command imports dbt, Prefect or GX

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
