"""The `build` flow: dbt phase 1, identity, dbt phase 3; one task per step (cxloop.build)."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.build import build_report, phase_args, reached_args, run_dbt_build
from cxloop.config import ProjectConfig, project_config
from cxloop.dbt import DbtRun, dbt_vars, project_manifest
from cxloop.flows.orchestration import stage_run_id, warehouse_slot
from cxloop.identity import resolve_identities
from cxloop.incremental import full_refresh_reason, project_fingerprint, record_incremental_build
from cxloop.quality.gate import recorded_build
from cxloop.reached import Reached, deferred_nodes, plan_build
from cxloop.settings import Settings


@task(name="dbt-build", task_run_name="dbt {phase}", cache_policy=NO_CACHE)
def dbt_build_task(
    phase: str,
    dbt_args: list[str],
    warehouse: Path,
    home: Path,
    config: ProjectConfig | None,
    run_id: str,
) -> DbtRun:
    """One dbt build invocation; every node's result is logged, tests are recorded."""
    run = run_dbt_build(dbt_args, warehouse, home, config, run_id)
    logger = get_run_logger()
    logger.info("%s: %s in %.1f s", run.command(), run.counts, run.seconds)
    for node in run.slowest():
        logger.info("  %s %s %.2f s", node.status, node.unique_id, node.seconds)
    return run


identity_task = task(resolve_identities, name="resolve-identities", cache_policy=NO_CACHE)


@flow(name="build")
def build(
    config_path: str | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    changed: list[str] | None = None,
    defer: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build with dbt in two phases around identity resolution, running all tests.

    With `select`, one dbt build of that selection only (no identity step). With `changed`
    (`schema.table` of the source tables with new rows since the last successful build), only
    what those rows reach (cxloop.reached); an unknown table builds everything. The build and
    what it changed are recorded in ops.builds: act and publish wait for a check of it.
    Incremental models refresh fully when asked (`full_refresh`) or when cxloop.incremental
    says an incremental run would not equal a full one (reported as `full_refresh`).
    With `defer` (`schema.table` of tables a later stage writes, e.g. the churn scores), what
    reads those tables is left out and reported as `deferred` (dbt names): the caller builds
    it after writing them (the pipeline, after voice and scoring), so no node is built twice.
    """
    config = project_config(config_path)
    paths = Settings().paths.ensure()
    run_id = stage_run_id("build")
    args = (paths.warehouse, paths.home, config, run_id)
    fingerprint = project_fingerprint(dbt_vars(config))
    with warehouse_slot():
        reason = "asked" if full_refresh else full_refresh_reason(paths.warehouse, fingerprint)
        refresh = reason is not None
        with recorded_build(paths.warehouse, run_id, select) as datasets:  # ops.builds
            # a full refresh (new code or vars, an erasure, the first build) builds everything
            plan = (
                plan_build(paths.home, paths.warehouse, dbt_vars(config), changed)
                if changed is not None and not refresh and not select
                else None
            )
            manifest = (  # parsed once per process: the plan's graph, the deferred nodes
                project_manifest(paths.home, dbt_vars(config), paths.warehouse)
                if (defer or plan is not None) and not select
                else None
            )
            later = deferred_nodes(manifest, defer or ())
            deferred: list[str] = []
            if select:
                select_args = phase_args("select", select, refresh)
                report = build_report([dbt_build_task("select", select_args, *args)])
            elif plan is not None:
                report, deferred = build_reached(plan, refresh, config, args, later, manifest)
                record_incremental_build(paths.warehouse, run_id, fingerprint, reason)
            else:
                deferred = sorted(later)
                phase_1 = dbt_build_task("identity", phase_args("identity", None, refresh), *args)
                identity = identity_task(  # a full refresh trains Splink afresh too
                    paths.warehouse,
                    config.identity if config else None,
                    build_id=run_id,
                    retrain=refresh,
                )
                rest = phase_args("rest", None, refresh, exclude=deferred)
                phase_3 = dbt_build_task("rest", rest, *args)
                report = build_report([phase_1, phase_3], identity)
                record_incremental_build(paths.warehouse, run_id, fingerprint, reason)
            datasets.extend(report["datasets"])
    return {
        **report,
        "full_refresh": reason,
        "build_id": run_id,
        "reached_only": plan is not None,
        "deferred": deferred,
    }


def build_reached(
    plan: Reached,
    refresh: bool,
    config: ProjectConfig | None,
    args: tuple,
    later: AbstractSet[str] = frozenset(),
    manifest: Any | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Phase 1, identity and phase 3, each only when the plan has nodes there; the report and
    the phase-3 nodes left for later (those in `later`: see `build`'s `defer`).

    Identity is skipped when its records, settings and map are those the last successful
    build consumed; phase 3 then builds only what the new rows reach around them
    (cxloop.reached `phase_3_after`).
    """
    runs, identity = [], None
    if plan.phase_1:
        phase_1 = reached_args(plan.phase_1, refresh, manifest)
        runs.append(dbt_build_task("reached-identity", phase_1, *args))
    if plan.identity:
        identity = identity_task(
            args[0], config.identity if config else None, build_id=args[3], reuse=True
        )
    reached_3 = plan.phase_3_after(identity)
    phase_3 = tuple(n for n in reached_3 if n not in later)
    if phase_3:
        runs.append(dbt_build_task("reached", reached_args(phase_3, refresh, manifest), *args))
    return build_report(runs, identity), sorted(set(later) & set(reached_3))
