"""`cxloop webhooks ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="webhooks commands.", no_args_is_help=True)
