"""The `act` flow: run the playbooks, one task each, through the outbox or SendGrid.

The library is cxloop.act (plan, ledger, send) and cxloop.resources (where messages go).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from cxloop.act import ESCALATION_PLAYBOOK, load_specs, plan_context, run_callbacks, run_playbooks
from cxloop.config import ProjectConfig, project_config
from cxloop.flows.orchestration import warehouse_slot
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.spec import LoadedPlaybook
from cxloop.quality.gate import require_gate
from cxloop.resources import email_channel, mirrors_for
from cxloop.settings import get_settings

gate_task = task(require_gate, name="quality-gate", cache_policy=NONE)


@task(cache_policy=NONE)
def run_playbook_task(
    warehouse: Path,
    spec: LoadedPlaybook,
    ctx: PlanContext,
    dry_run: bool,
    project: ProjectConfig | None = None,
) -> dict[str, Any]:
    """Run one playbook: plan, write the ledger, send (secrets are read here, never passed)."""
    settings = get_settings()
    channel = email_channel(settings)
    counts = run_playbooks(
        warehouse,
        [spec],
        channel=channel,
        ctx=ctx,
        dry_run=dry_run,
        mirrors=mirrors_for(project, settings.resources),
    )[spec.spec.name]
    if counts["unknown"]:
        get_run_logger().warning(
            "%s: %d action(s) with unknown outcome, not resent: %s",
            spec.spec.name,
            counts["unknown"],
            ", ".join(counts["unknown_action_ids"]),
        )
    return counts


@task(cache_policy=NONE)
def callbacks_task(
    warehouse: Path, ctx: PlanContext, project: ProjectConfig | None = None
) -> dict[str, Any]:
    """Close callbacks solved in Zendesk, escalate overdue ones, mail the escalation digests."""
    settings = get_settings()
    result = run_callbacks(
        warehouse,
        project,
        channel=email_channel(settings),
        ctx=ctx,
        mirrors=mirrors_for(project, settings.resources),
    )
    counts = result.pop("escalation_digests")
    for problem in [*result["zendesk_problems"], *result["no_escalation_recipient"]]:
        get_run_logger().warning("callbacks: %s", problem)
    return {**counts, "callbacks": result}


@flow(name="act")
def act(
    warehouse: str | None = None,
    dry_run: bool = False,
    playbooks: list[str] | None = None,
    now: datetime | None = None,
    config: str | None = None,
) -> dict:
    """Run the playbooks holding the warehouse-writer slot; counts per playbook and status.

    `config` is the cxloop.yaml path (else found as usual); `now` pins the clock for tests.
    The quality gate is read from the warehouse (ops.builds, ops.gate_verdicts): marts whose
    latest build no passing marts check covers raise MartsNotCheckedError before any send.
    """
    settings = get_settings()
    project = project_config(config)
    path = Path(warehouse) if warehouse else settings.paths.warehouse
    ctx = plan_context(project, now)
    specs = load_specs(project, playbooks)
    # fail before any playbook runs when a production credential is missing
    email_channel(settings)
    mirrors_for(project, settings.resources)
    with warehouse_slot():
        if any(s.spec.guardrails.require_quality_gate for s in specs):
            gate_task(path, "act")
        counts = {s.spec.name: run_playbook_task(path, s, ctx, dry_run, project) for s in specs}
        # the callbacks step, after the playbooks (the only place the escalation digests run)
        if not dry_run and (not playbooks or ESCALATION_PLAYBOOK in playbooks):
            counts[ESCALATION_PLAYBOOK] = callbacks_task(path, ctx, project)
        return counts
