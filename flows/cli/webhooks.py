"""`cxloop webhooks ...` commands (and the top-level `cxloop serve-webhooks`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cxloop.errors import ConfigError, CxloopError
from cxloop.flows.cli.common import ConfigOpt, console, fail

if TYPE_CHECKING:
    from cxloop.moment.act import MomentActor
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


def _routes(
    sources: Path | None, config: Path | None, max_age: int | None, act: bool, path: str
) -> tuple[dict, MomentActor | None, list[str]]:
    """Every receiver that is configured: SendGrid events, Typeform, Qualtrics (and the actor)."""
    from cxloop.config import load_project
    from cxloop.flows.orchestration import warehouse_slot
    from cxloop.moment.serve import moment_actor, survey_routes
    from cxloop.settings import get_settings
    from cxloop.webhooks import events_folder

    settings = get_settings()
    config_path, project = load_project(sources, config)
    sources_dir = sources if sources is not None else config_path.parent
    routes: dict = {}
    lines = []
    if settings.sendgrid_webhook_public_key:
        receiver = _receiver(sources, config, max_age)
        routes[path] = lambda h, b, q: f"stored {receiver.receive(h, b).name}"
        lines.append(f"{path} -> {receiver.folder}")
    elif any(s.kind == "sendgrid" for s in project.sources.values()):
        lines.append(
            f"(SendGrid events not received: CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY is not set; "
            f"{events_folder(sources_dir, project)} stays as it is)"
        )
    actor = None
    if act and any(s.kind in {"typeform", "qualtrics"} for s in project.sources.values()):
        actor = moment_actor(
            settings.paths.warehouse, project, settings, warehouse_slot, console.log
        )
    surveys = survey_routes(sources_dir, project, settings, actor.submit if actor else None)
    if not surveys and actor is not None:
        actor = None
    routes.update(surveys)
    lines += [
        f"{p} -> survey responses" + (", followed up in the moment" if actor else "")
        for p in surveys
    ]
    if not routes:
        raise ConfigError(
            "CXLOOP_SENDGRID_WEBHOOK_PUBLIC_KEY is not set (SendGrid > Mail Settings > Signed "
            "Event Webhook shows it), and no typeform source or qualtrics source with "
            "CXLOOP_QUALTRICS_WEBHOOK_TOKEN is configured: nothing to receive"
        )
    return routes, actor, lines


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
        int | None, typer.Option(help="Reject SendGrid signatures older than this (s); 300.")
    ] = None,
    act: Annotated[
        bool,
        typer.Option(
            "--act/--no-act", help="Follow up received survey responses now (else only land)."
        ),
    ] = True,
) -> None:
    """Receive webhooks: SendGrid events, Typeform responses, Qualtrics notifications.

    Each accepted body is written where the batch ingest reads it. A detractor's survey
    response is followed up within seconds (detractor_followup, same ledger and guardrails),
    holding the warehouse-writer slot per batch. Stops on Ctrl-C.
    Example: cxloop serve-webhooks --port 8085
    """
    from cxloop.webhooks import make_routes_server

    try:
        routes, actor, lines = _routes(sources, config, max_age, act, path)
        server = make_routes_server(routes, host, port, log=console.log)
    except (CxloopError, OSError) as exc:
        raise fail(exc) from None
    bound = server.server_address
    for line in lines:
        console.print(f"listening on http://{bound[0]}:{bound[1]}{line}")
    if actor is not None:
        actor.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if actor is not None:
            actor.stop()
        console.print("stopped")
