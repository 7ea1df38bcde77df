"""The `act` flow: run the playbooks against the warehouse and send through outbox or SendGrid."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from cxloop.config import ProjectConfig, project_config
from cxloop.errors import ConfigError
from cxloop.flows.orchestration import warehouse_slot
from cxloop.package_data import playbooks_dir
from cxloop.playbooks.channels import EmailChannel, OutboxChannel, SendGridChannel
from cxloop.playbooks.engine import AfterSend
from cxloop.playbooks.engine import run_playbooks as run_engine
from cxloop.playbooks.notify import Mirror, SlackAlerts, ZendeskTickets
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import LoadedPlaybook, PlaybookError, load_playbooks
from cxloop.playbooks.suppressions import confirm_unknown_from_events, sync_from_events
from cxloop.settings import Settings, get_settings
from cxloop.warehouse import connect

PLAYBOOKS_DIR = playbooks_dir()


def email_channel(settings: Settings, sleep: Callable[[float], None] = time.sleep) -> EmailChannel:
    """SendGrid when an API key is set, else the local outbox."""
    if settings.sendgrid_api_key is not None:
        return SendGridChannel(
            settings.sendgrid_api_key.get_secret_value(),
            base_url=settings.sendgrid_base_url,
            email_from=settings.email_from,
            email_from_name=settings.email_from_name,
            unsubscribe_group=settings.sendgrid_unsubscribe_group,
            sleep=sleep,
        )
    return OutboxChannel(settings.paths.outbox, settings.email_from, settings.email_from_name)


def mirrors_for(config: ProjectConfig | None) -> list[Mirror]:
    """Zendesk tickets and Slack alerts as configured; a configured token must be set."""
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


def plan_context(config: ProjectConfig | None, now: datetime | None = None) -> PlanContext:
    """Links, calendar and thresholds for this run, from cxloop.yaml (or its defaults)."""
    cfg = config or ProjectConfig(sources={})
    return PlanContext(
        now=now or datetime.now(UTC),
        unsubscribe_url=cfg.playbooks.unsubscribe_url,
        postal_address=cfg.playbooks.postal_address,
        company=cfg.company,
        params={"high_threshold": cfg.risk_bands.high},
        workdays=frozenset(cfg.business_hours.weekdays),
        holidays=frozenset(cfg.business_hours.holidays),
    )


def load_specs(config: ProjectConfig | None, names: Sequence[str] | None) -> list[LoadedPlaybook]:
    """The playbooks to run: the named ones, else those enabled in cxloop.yaml, else all."""
    folder = PLAYBOOKS_DIR
    if config and config.playbooks.folder:
        folder = Path(config.playbooks.folder)
    wanted = list(names) if names else (config.playbooks.enabled if config else None)
    try:
        return load_playbooks(folder, wanted, templates_dir=folder / "templates")
    except PlaybookError as exc:
        raise ConfigError(str(exc)) from exc


def run_playbooks(
    warehouse: Path,
    specs: Sequence[LoadedPlaybook],
    *,
    channel: EmailChannel,
    ctx: PlanContext,
    gate_ok: bool = True,
    dry_run: bool = False,
    after_send: AfterSend | None = None,
    mirrors: Sequence[Mirror] = (),
) -> dict[str, dict[str, Any]]:
    """Sync suppressions from delivery events, run the engine, close; errors name the file."""
    templates = specs[0].file.parent / "templates" if specs else PLAYBOOKS_DIR / "templates"
    con = duckdb.connect(str(warehouse)) if dry_run else connect(warehouse)
    try:
        con.execute("begin transaction")
        synced = {"added": 0, "removed": 0, "unknown_confirmed_sent": 0}
        if gate_ok:
            synced.update(sync_from_events(con))
            synced["unknown_confirmed_sent"] = len(confirm_unknown_from_events(con, ctx.now_utc))
        if not dry_run:
            con.execute("commit")
        counts = run_engine(
            con,
            specs,
            renderer=TemplateRenderer(templates),
            channel=channel,
            ctx=ctx,
            gate_ok=gate_ok,
            dry_run=dry_run,
            after_send=after_send,
            mirrors=mirrors,
        )
        if dry_run:  # the plan saw the suppressions the events call for; nothing is kept
            con.execute("rollback")
        for c in counts.values():
            c["suppressions_from_events"] = synced
        return counts
    except PlaybookError as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        con.close()


@task(cache_policy=NONE)
def run_playbook_task(
    warehouse: Path,
    spec: LoadedPlaybook,
    ctx: PlanContext,
    gate_ok: bool,
    dry_run: bool,
    project: ProjectConfig | None = None,
) -> dict[str, Any]:
    """Run one playbook: plan, write the ledger, send (secrets are read here, never passed)."""
    channel = email_channel(get_settings())
    counts = run_playbooks(
        warehouse,
        [spec],
        channel=channel,
        ctx=ctx,
        gate_ok=gate_ok,
        dry_run=dry_run,
        mirrors=mirrors_for(project),
    )[spec.spec.name]
    if counts["unknown"]:
        get_run_logger().warning(
            "%s: %d action(s) with unknown outcome, not resent: %s",
            spec.spec.name,
            counts["unknown"],
            ", ".join(counts["unknown_action_ids"]),
        )
    return counts


@flow(name="act")
def act(
    warehouse: str | None = None,
    dry_run: bool = False,
    gate_ok: bool = True,
    playbooks: list[str] | None = None,
    now: datetime | None = None,
    config: str | None = None,
) -> dict:
    """Run the playbooks holding the warehouse-writer slot; counts per playbook and status.

    `config` is the cxloop.yaml path (else found as usual); `now` pins the clock for tests.
    """
    settings = get_settings()
    project = project_config(config)
    path = Path(warehouse) if warehouse else settings.paths.warehouse
    ctx = plan_context(project, now)
    specs = load_specs(project, playbooks)
    mirrors_for(project)  # fail before any playbook runs when a configured token is missing
    with warehouse_slot():
        return {
            s.spec.name: run_playbook_task(path, s, ctx, gate_ok, dry_run, project) for s in specs
        }
