"""`cxloop init`: write a commented cxloop.yaml for a folder of exports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxloop.flows.cli.common import JsonOpt, console, run_command


def init(
    sources: Annotated[Path, typer.Option("--sources", help="Folder of source exports.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Where to write it (default: <sources>/cxloop.yaml)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the output file if it exists.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recognise each export by its format and write a commented cxloop.yaml to review.

    Example: cxloop init --sources ./exports --output ./cxloop.yaml
    """
    from cxloop.init import init_project

    def body() -> Any:
        result = init_project(sources, output, force)
        return result.as_dict() if as_json else result

    def render(result: Any) -> None:
        for line in result.summary():
            console.print(line, highlight=False, markup=False, soft_wrap=True)

    run_command(body, as_json, render)
