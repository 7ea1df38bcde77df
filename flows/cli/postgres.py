"""`cxloop postgres ...`: build the marts on PostgreSQL, the second dbt target."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxloop.flows.cli.common import JsonOpt, config_arg, run_command

app = typer.Typer(
    help="PostgreSQL, the second dbt target (docs/postgres.md).", no_args_is_help=True
)


@app.callback()
def postgres() -> None:
    """PostgreSQL, the second dbt target: the same marts on a shared server (docs/postgres.md)."""


@app.command()
def build(
    dsn: Annotated[
        str | None,
        typer.Option(
            help="postgresql://user[:password]@host[:port]/dbname "
            "(default: the CXLOOP_PG_HOST/PORT/USER/PASSWORD/DATABASE variables)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="cxloop.yaml (business hours, weights...).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy raw, identity, scores and the action ledger into PostgreSQL, then dbt build there.

    Run it after `cxloop run` (or `cxloop build`): customer ids come from the DuckDB
    warehouse's identity step and are copied, not recomputed.

    Example: cxloop postgres build --dsn postgresql://cxloop@db.internal:5432/cxloop --json
    """
    from cxloop.flows.postgres import postgres_build

    run_command(lambda: postgres_build(config_arg(config), dsn), as_json)
