"""Wiring for `cxloop serve-webhooks`: the survey routes and the actor, from config and settings.

No Prefect here: the CLI passes how to hold the warehouse writer (the Prefect slot).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from cxloop.act import load_specs, plan_context
from cxloop.config import ProjectConfig
from cxloop.errors import ConfigError
from cxloop.moment.act import MomentActor, act_on_responses
from cxloop.moment.receive import (
    QualtricsReceiver,
    ReceivedResponse,
    qualtrics_source,
    typeform_receiver,
)
from cxloop.resources import email_channel, mirrors_for
from cxloop.settings import Settings
from cxloop.webhooks import Route

TYPEFORM_PATH = "/typeform/responses"
QUALTRICS_PATH = "/qualtrics/events"
MOMENT_PLAYBOOK = "detractor_followup"


def survey_routes(
    sources_dir: Path,
    project: ProjectConfig,
    settings: Settings,
    submit: Callable[[ReceivedResponse], None] | None,
) -> dict[str, Route]:
    """A route per configured survey source that can be received (Typeform, Qualtrics)."""
    routes: dict[str, Route] = {}
    max_age = settings.survey_webhook_max_age_seconds
    if any(s.kind == "typeform" for s in project.sources.values()):
        typeform = typeform_receiver(sources_dir, project, max_age_seconds=max_age)
        routes[TYPEFORM_PATH] = _route(typeform.receive, submit, with_query=False)
    found = qualtrics_source(project)
    if found is not None and settings.qualtrics_webhook_token is not None:
        name, cfg = found
        if not settings.qualtrics_base_url or settings.qualtrics_api_token is None:
            raise ConfigError(
                f"sources.{name}: CXLOOP_QUALTRICS_WEBHOOK_TOKEN is set, so CXLOOP_QUALTRICS_"
                "BASE_URL and CXLOOP_QUALTRICS_API_TOKEN are needed to fetch notified responses"
            )
        qualtrics = QualtricsReceiver(
            cfg,
            Path(sources_dir) / cfg.path,
            settings.qualtrics_base_url,
            settings.qualtrics_api_token.get_secret_value(),
            settings.qualtrics_webhook_token.get_secret_value(),
            max_age_seconds=max_age,
        )
        routes[QUALTRICS_PATH] = _route(qualtrics.receive, submit, with_query=True)
    return routes


def _route(
    receive: Callable[..., ReceivedResponse | None],
    submit: Callable[[ReceivedResponse], None] | None,
    *,
    with_query: bool,
) -> Route:
    def handle(headers: Mapping[str, str], body: bytes, query: dict[str, str]) -> str:
        response = receive(headers, body, query) if with_query else receive(headers, body)
        if response is None:
            return "replay: already received, ignored"
        if submit is not None:
            submit(response)
        return f"stored {response.source} response {response.response_id}"

    return handle


def moment_actor(
    warehouse: Path,
    project: ProjectConfig,
    settings: Settings,
    hold_writer: Callable[[], AbstractContextManager[object]],
    log: Callable[[str], None],
    batch_seconds: float = 1.0,
) -> MomentActor:
    """The actor running the detractor playbook on received responses, in batches."""
    spec = load_specs(project, [MOMENT_PLAYBOOK])[0]
    channel = email_channel(settings)  # fails now when a production credential is missing
    mirrors = mirrors_for(project, settings.resources)

    def act(batch: Any) -> dict[str, Any]:
        ctx = plan_context(project)
        return act_on_responses(warehouse, batch, spec, channel=channel, ctx=ctx, mirrors=mirrors)

    return MomentActor(act, hold_writer, batch_seconds=batch_seconds, log=log)
