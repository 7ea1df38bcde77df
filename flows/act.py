"""The `act` flow: run the playbooks against the warehouse and send through outbox or SendGrid."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from flows.config import ProjectConfig, find_config, load_config
from flows.errors import ConfigError
from flows.orchestration import warehouse_slot
from flows.settings import Settings, get_settings
from flows.warehouse import connect
from playbooks.channels import EmailChannel, OutboxChannel, SendGridChannel
from playbooks.engine import AfterSend
from playbooks.engine import run_playbooks as run_engine
from playbooks.plan import PlanContext
from playbooks.render import TemplateRenderer
from playbooks.spec import LoadedPlaybook, PlaybookError, load_playbooks

PLAYBOOKS_DIR = Path(__file__).resolve().parent.parent / "playbooks"


def project_config(explicit: str | None = None) -> ProjectConfig | None:
    """cxloop.yaml (explicit, else found as usual); act runs with defaults without one."""
    try:
        path = find_config(explicit=Path(explicit) if explicit else None)
    except ConfigError:
        if explicit:
            raise
        return None
    return load_config(path)


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
) -> dict[str, dict[str, Any]]:
    """Open the warehouse, run the engine, close; playbook errors become ConfigErrors."""
    templates = specs[0].file.parent / "templates" if specs else PLAYBOOKS_DIR / "templates"
    con = duckdb.connect(str(warehouse)) if dry_run else connect(warehouse)
    try:
        return run_engine(
            con,
            specs,
            renderer=TemplateRenderer(templates),
            channel=channel,
            ctx=ctx,
            gate_ok=gate_ok,
            dry_run=dry_run,
            after_send=after_send,
        )
    except PlaybookError as exc:
        raise ConfigError(str(exc)) from exc
    finally:
        con.close()


@task(cache_policy=NONE)
def run_playbook_task(
    warehouse: Path, spec: LoadedPlaybook, ctx: PlanContext, gate_ok: bool, dry_run: bool
) -> dict[str, Any]:
    """Run one playbook: plan, write the ledger, send."""
    channel = email_channel(get_settings())
    counts = run_playbooks(
        warehouse, [spec], channel=channel, ctx=ctx, gate_ok=gate_ok, dry_run=dry_run
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
    with warehouse_slot():
        return {s.spec.name: run_playbook_task(path, s, ctx, gate_ok, dry_run) for s in specs}
