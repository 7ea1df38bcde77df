"""`cxloop webhooks ...` commands (and the top-level `cxloop serve-webhooks`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxloop.errors import ConfigError, CxloopError
from cxloop.flows.cli.common import ConfigOpt, console, fail

if TYPE_CHECKING:
    from cxloop.webhooks import EventReceiver

app = typer.Typer(help="webhooks commands.", no_args_is_help=True)


def _receiver(sources: Path | None, config: Path | None, max_age: int | None) -> EventReceiver:
    """The receiver for the configured SendGrid source, its events folder created."""
    from cxloop.config import load_project
    from cxloop.settings import get_settings
    from cxloop.webhooks import EventReceiver, events_folder, load_public_key

    settings = get_settings()
    if not settings.sendgrid_webhook_public_key:
        raise ConfigError(
            "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY is not set (SendGrid > Mail Settings > "
            "Signed Event Webhook shows it)"
        )
    config_path, project = load_project(sources, config)
    receiver = EventReceiver(
        load_public_key(settings.sendgrid_webhook_public_key),
        events_folder(sources if sources is not None else config_path.parent, project),
        max_age_seconds=max_age or settings.sendgrid_webhook_max_age_seconds,
    )
    receiver.folder.mkdir(parents=True, exist_ok=True)
    return receiver


@app.command("serve")
def serve(
    sources: Annotated[
        Path | None,
        typer.Option("--sources", help="Folder of source exports (default: cxloop.yaml's folder)."),
    ] = None,
    config: ConfigOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind (keep 127.0.0.1 behind a proxy).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8085,
    path: Annotated[str, typer.Option(help="URL path SendGrid posts to.")] = "/sendgrid/events",
    max_age: Annotated[
        int | None, typer.Option(help="Reject signatures older than this (s); default 300.")
    ] = None,
) -> None:
    """Receive SendGrid's signed Event Webhook; each verified batch becomes an events file.

    Needs CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY; writes to <sendgrid source>/events/ for ingest.
    Example: cxloop serve-webhooks --port 8085
    """
    from cxloop.webhooks import make_server

    try:
        receiver = _receiver(sources, config, max_age)
        server = make_server(receiver, host, port, path, log=console.log)
    except (CxloopError, OSError) as exc:
        raise fail(exc) from None
    bound = server.server_address
    console.print(f"listening on http://{bound[0]}:{bound[1]}{path} -> {receiver.folder}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        console.print(f"stopped: {receiver.accepted} accepted, {receiver.rejected} rejected")
