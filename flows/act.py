"""The `act` flow: run the playbooks, one task each, through the outbox or SendGrid.

The library is cxloop.act (plan, ledger, send) and cxloop.resources (where messages go).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from cxloop.act import load_specs, plan_context, run_playbooks
from cxloop.config import ProjectConfig, project_config
from cxloop.flows.orchestration import warehouse_slot
from cxloop.playbooks.plan import PlanContext
from cxloop.playbooks.spec import LoadedPlaybook
from cxloop.resources import email_channel, mirrors_for
from cxloop.settings import get_settings


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
    settings = get_settings()
    channel = email_channel(settings)
    counts = run_playbooks(
        warehouse,
        [spec],
        channel=channel,
        ctx=ctx,
        gate_ok=gate_ok,
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
    # fail before any playbook runs when a production credential is missing
    email_channel(settings)
    mirrors_for(project, settings.resources)
    with warehouse_slot():
        return {
            s.spec.name: run_playbook_task(path, s, ctx, gate_ok, dry_run, project) for s in specs
        }
