"""The act stage: run the playbooks against the warehouse (plan, ledger, send), no Prefect.

`plan_context` and `load_specs` come from cxloop.yaml; `run_playbooks` reads the quality gate
from the warehouse (cxloop.quality.gate: it refuses marts whose latest build no passing check
covers), syncs suppressions from delivery events, runs the engine (cxloop.playbooks.engine) and
closes the warehouse. No caller can say "the gate passed": it is read, never passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import duckdb

from cxloop.callbacks import close_from_zendesk, escalate_overdue
from cxloop.config import ProjectConfig
from cxloop.dbt import checked_business_hours
from cxloop.errors import ConfigError
from cxloop.package_data import playbooks_dir
from cxloop.playbooks.channels import EmailChannel
from cxloop.playbooks.engine import AfterSend
from cxloop.playbooks.engine import run_playbooks as run_engine
from cxloop.playbooks.ledger import ensure_tables as ledger_tables
from cxloop.playbooks.notify import Mirror
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.render import TemplateRenderer
from cxloop.playbooks.spec import LoadedPlaybook, PlaybookError, load_playbooks
from cxloop.playbooks.suppressions import confirm_unknown_from_events, sync_from_events
from cxloop.quality.gate import gate_state, require_checked_marts
from cxloop.warehouse import connect, writer

PLAYBOOKS_DIR = playbooks_dir()
ESCALATION_PLAYBOOK = "callback_escalation"


def plan_context(config: ProjectConfig | None, now: datetime | None = None) -> PlanContext:
    """Links, calendar and thresholds for this run, from cxloop.yaml (or its defaults)."""
    cfg = config or ProjectConfig(sources={})
    hours = checked_business_hours(cfg.business_hours)
    return PlanContext(
        now=now or datetime.now(UTC),
        unsubscribe_url=cfg.playbooks.unsubscribe_url,
        postal_address=cfg.playbooks.postal_address,
        company=cfg.company,
        params={"high_threshold": cfg.risk_bands.high},
        playbook_params=cfg.playbooks.params,
        workdays=frozenset(hours.weekdays),
        holidays=frozenset(hours.holidays),
        business_timezone=hours.timezone,
        business_start=time.fromisoformat(hours.start),
        business_end=time.fromisoformat(hours.end),
        callback_queue=cfg.callbacks.queue,
    )


def load_specs(config: ProjectConfig | None, names: Sequence[str] | None) -> list[LoadedPlaybook]:
    """The playbooks to run: the named ones, else those enabled in cxloop.yaml, else all."""
    folder = PLAYBOOKS_DIR
    if config and config.playbooks.folder:
        folder = Path(config.playbooks.folder)
    wanted = list(names) if names else (config.playbooks.enabled if config else None)
    try:
        loaded = load_playbooks(folder, wanted, templates_dir=folder / "templates")
    except PlaybookError as exc:
        raise ConfigError(str(exc)) from exc
    if config:
        check_playbook_params(config, loaded)
    # the escalation playbook runs only in the callbacks step, after the others, even if named
    return [lp for lp in loaded if lp.spec.name != ESCALATION_PLAYBOOK]


def check_playbook_params(config: ProjectConfig, specs: Sequence[LoadedPlaybook]) -> None:
    """Every `playbooks.params.<playbook>.<name>` names a parameter that playbook declares."""
    declared = {s.spec.name: s.spec.trigger.params for s in specs}
    for playbook, values in config.playbooks.params.items():
        if playbook not in declared:
            continue  # a playbook not run this time (or disabled): nothing to check against
        for name in values:
            if name not in declared[playbook]:
                raise ConfigError(
                    f"key 'playbooks.params.{playbook}.{name}': {playbook} has no parameter "
                    f"{name!r} (it has: {', '.join(sorted(declared[playbook])) or 'none'})"
                )


def run_playbooks(
    warehouse: Path,
    specs: Sequence[LoadedPlaybook],
    *,
    channel: EmailChannel,
    ctx: PlanContext,
    dry_run: bool = False,
    after_send: AfterSend | None = None,
    mirrors: Sequence[Mirror] = (),
) -> dict[str, dict[str, Any]]:
    """Check the gate, sync suppressions from delivery events, run the engine, close.

    Raises MartsNotCheckedError (a QualityGateError naming the failed checks) before anything
    is planned or sent when a playbook that requires the gate would read unchecked marts.
    """
    templates = specs[0].file.parent / "templates" if specs else PLAYBOOKS_DIR / "templates"
    con = duckdb.connect(str(warehouse)) if dry_run else connect(warehouse)
    try:
        if any(s.spec.guardrails.require_quality_gate for s in specs):
            gate_ok = require_checked_marts(con, "act").passed
        else:
            gate_ok = gate_state(con).passed
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


def run_callbacks(
    warehouse: Path,
    config: ProjectConfig | None,
    *,
    channel: EmailChannel,
    ctx: PlanContext,
    mirrors: Sequence[Mirror] = (),
) -> dict[str, Any]:
    """The step after the playbooks: close tasks whose Zendesk ticket was solved, escalate
    overdue ones (events), then mail the escalation digests (the callback_escalation playbook).
    """
    settings = (config or ProjectConfig(sources={})).callbacks
    with writer(warehouse) as con:
        ledger_tables(con)
        closed = close_from_zendesk(con, settings, ctx.now)
        escalated = escalate_overdue(con, settings, ctx)
    folder = PLAYBOOKS_DIR
    if config and config.playbooks.folder:
        custom = Path(config.playbooks.folder)
        folder = custom if (custom / f"{ESCALATION_PLAYBOOK}.yaml").is_file() else folder
    try:
        spec = load_playbooks(folder, [ESCALATION_PLAYBOOK], templates_dir=folder / "templates")
    except PlaybookError as exc:
        raise ConfigError(str(exc)) from exc
    mails = run_playbooks(warehouse, spec, channel=channel, ctx=ctx, mirrors=mirrors)
    return {
        "closed_from_zendesk": closed["closed"],
        "zendesk_problems": closed["problems"],
        "escalated": escalated["escalated"],
        "no_escalation_recipient": escalated["no_recipient"],
        "escalation_digests": mails[ESCALATION_PLAYBOOK],
    }
