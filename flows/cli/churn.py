"""`cxloop churn ...` commands: status, train on your own CSV, HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.flows.cli.common import JsonOpt, run_command

app = typer.Typer(help="churn commands.", no_args_is_help=True)


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Show the current churn model version, its test-window metrics and all versions.

    Example: cxloop churn status --json
    """
    from cxloop.churn.reports import churn_status

    run_command(churn_status, as_json)


@app.command()
def train(
    csv: Annotated[Path, typer.Option("--csv", help="A CSV with one row per account.")],
    label: Annotated[str, typer.Option("--label", help="Label column (yes/no, true/false, 1/0).")],
    id_column: Annotated[str, typer.Option("--id", help="Account id column (unique).")],
    time_column: Annotated[
        str | None, typer.Option("--time", help="Date column: split by time instead of at random.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Train the churn pipeline on your own table and print its test metrics.

    Columns are inferred (numbers, numbers stored as text, categories); blanks are imputed; the
    output says what was done. Refuses a label with one class and a non-unique id.

    Example: cxloop churn train --csv accounts.csv --label churned --id account_id --json
    """
    from cxloop.churn.reports import train_csv

    run_command(lambda: train_csv(csv, label, id_column, time_column), as_json)


@app.command()
def report(as_json: JsonOpt = False) -> None:
    """Write an HTML report of the current model under $CXLOOP_HOME/reports/.

    Metrics, calibration plot, lift chart, permutation importance, and the score distribution
    of the latest scoring run against the previous one.

    Example: cxloop churn report
    """
    from cxloop.churn.reports import write_report

    run_command(write_report, as_json)
