"""`cxloop identity ...` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.flows.cli.common import JsonOpt, run_command

app = typer.Typer(help="identity commands.", no_args_is_help=True)


@app.command()
def evaluate(
    truth: Annotated[
        Path, typer.Option("--truth", help="The generator's _truth folder (persons.csv).")
    ],
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="DuckDB file (default: CXLOOP_HOME's).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score identity resolution against a truth file: pairwise precision, recall, F1, clusters.

    Example: cxloop identity evaluate --truth var/demo/sources/_truth --json
    """
    from cxloop.identity.evaluate import evaluate_identity
    from cxloop.settings import Settings

    def body() -> dict[str, object]:
        return evaluate_identity(truth, warehouse or Settings().paths.warehouse)

    run_command(body, as_json)
