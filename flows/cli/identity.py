"""`cxloop identity ...` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

app = typer.Typer(help="identity commands.", no_args_is_help=True)


def load_identity_map(warehouse: Path) -> pd.DataFrame:
    """The map to evaluate: marts.customer_identity_map, else the identity step's table."""
    from cxloop.errors import CxloopError
    from cxloop.warehouse import reader, table_exists

    if not warehouse.is_file():
        raise CxloopError(f"{warehouse}: no warehouse (run `cxloop demo` or `cxloop run` first)")
    with reader(warehouse) as con:
        for schema, table in (
            ("marts", "customer_identity_map"),
            ("intermediate", "identity_clusters"),
        ):
            if table_exists(con, schema, table):
                return con.execute(
                    f"select source, source_record_id, customer_id from {schema}.{table}"
                ).df()
    raise CxloopError(f"{warehouse}: no marts.customer_identity_map (run the build first)")


def evaluate_identity(truth: Path, warehouse: Path | None = None) -> dict[str, object]:
    """Pairwise precision/recall/F1 of the warehouse's identity map against `truth`."""
    from cxloop.identity.evaluate import pairwise_metrics, read_truth
    from cxloop.settings import Settings

    path = warehouse or Settings().paths.warehouse
    truth_frame = read_truth(truth)
    result = pairwise_metrics(load_identity_map(path), truth_frame)
    result["warehouse"] = str(path)
    result["truth"] = str(truth)
    return result


@app.command()
def evaluate(
    truth: Annotated[
        Path, typer.Option("--truth", help="The generator's _truth folder (persons.csv).")
    ],
    warehouse: Annotated[
        Path | None, typer.Option("--warehouse", help="DuckDB file (default: CXLOOP_HOME's).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout.")
    ] = False,
) -> None:
    """Score identity resolution against a truth file: pairwise precision, recall, F1, clusters.

    Example: cxloop identity evaluate --truth var/demo/sources/_truth --json
    """
    from cxloop.flows.cli import _run

    _run(lambda: evaluate_identity(truth, warehouse), as_json)
