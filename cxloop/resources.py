"""The one switch between local and production resources: where e-mail and alerts go.

`CXLOOP_RESOURCES=local` (the default): e-mail to the outbox under CXLOOP_HOME, no Zendesk task
tickets, no Slack messages, whatever credentials happen to be set. `production`: SendGrid, whose
API key (`CXLOOP_SENDGRID_API_KEY`) must then be set (a missing key stops the run before
anything is planned, never an empty default), plus the Zendesk tickets and Slack alerts that
cxloop.yaml configures. Their secrets are read here and nowhere else: never logged, never
written to the warehouse.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from cxloop.config import ProjectConfig
from cxloop.errors import ConfigError
from cxloop.playbooks.channels import EmailChannel, OutboxChannel, SendGridChannel
from cxloop.playbooks.notify import Mirror, SlackAlerts, ZendeskTickets
from cxloop.settings import Settings


def email_channel(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> EmailChannel:
    """SendGrid in production (its key required), the local outbox otherwise."""
    if settings.resources == "production":
        if settings.sendgrid_api_key is None or not settings.sendgrid_api_key.get_secret_value():
            raise ConfigError(
                "CXLOOP_SENDGRID_API_KEY is not set (CXLOOP_RESOURCES=production sends e-mail "
                "through SendGrid; set the key, or CXLOOP_RESOURCES=local for the outbox)"
            )
        return SendGridChannel(
            settings.sendgrid_api_key.get_secret_value(),
            base_url=settings.sendgrid_base_url,
            email_from=settings.email_from,
            email_from_name=settings.email_from_name,
            unsubscribe_group=settings.sendgrid_unsubscribe_group,
            sleep=sleep,
        )
    return OutboxChannel(settings.paths.outbox, settings.email_from, settings.email_from_name)


def mirrors_for(config: ProjectConfig | None, resources: str = "production") -> list[Mirror]:
    """In production, Zendesk tickets and Slack alerts as configured (a configured Zendesk
    token must be set; Slack only when its variable is); none locally."""
    if resources != "production":
        return []
    settings = config.playbooks if config else None
    mirrors: list[Mirror] = []
    if settings and settings.zendesk:
        zd = settings.zendesk
        token = os.environ.get(zd.token_env, "")
        if not token:
            raise ConfigError(
                f"cxloop.yaml: key 'playbooks.zendesk.token_env': the environment variable "
                f"{zd.token_env} is not set (a Zendesk API token)"
            )
        mirrors.append(ZendeskTickets(zd.subdomain, zd.email, token, base_url=zd.base_url))
    slack_env = settings.slack_webhook_url_env if settings else None
    if slack_env and os.environ.get(slack_env):
        mirrors.append(SlackAlerts(os.environ[slack_env]))
    return mirrors
