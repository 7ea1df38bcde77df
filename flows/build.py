"""The `build` flow: dbt phase 1, identity, dbt phase 3; one task per step (cxloop.build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.build import build_report, phase_args, run_dbt_build
from cxloop.config import ProjectConfig, project_config
from cxloop.dbt import DbtRun
from cxloop.flows.orchestration import stage_run_id, warehouse_slot
from cxloop.identity import resolve_identities
from cxloop.quality.gate import recorded_build
from cxloop.settings import Settings


@task(name="dbt-build", task_run_name="dbt {phase}", cache_policy=NO_CACHE)
def dbt_build_task(
    phase: str,
    select: str | None,
    warehouse: Path,
    home: Path,
    config: ProjectConfig | None,
    run_id: str,
) -> DbtRun:
    """One dbt build invocation; every node's result is logged, tests are recorded."""
    run = run_dbt_build(phase_args(phase, select), warehouse, home, config, run_id)
    logger = get_run_logger()
    logger.info("%s: %s in %.1f s", run.command(), run.counts, run.seconds)
    for node in run.slowest():
        logger.info("  %s %s %.2f s", node.status, node.unique_id, node.seconds)
    return run


identity_task = task(resolve_identities, name="resolve-identities", cache_policy=NO_CACHE)


@flow(name="build")
def build(config_path: str | None = None, select: str | None = None) -> dict[str, Any]:
    """Build with dbt in two phases around identity resolution, running all tests.

    With `select`, one dbt build of that selection only (no identity step). The build and
    what it changed are recorded in ops.builds: act and publish wait for a check of it.
    """
    config = project_config(config_path)
    paths = Settings().paths.ensure()
    run_id = stage_run_id("build")
    args = (paths.warehouse, paths.home, config, run_id)
    with warehouse_slot():
        with recorded_build(paths.warehouse, run_id, select) as changed:  # ops.builds
            if select:
                report = build_report([dbt_build_task("select", select, *args)])
            else:
                phase_1 = dbt_build_task("identity", None, *args)
                identity = identity_task(paths.warehouse, config.identity if config else None)
                phase_3 = dbt_build_task("all", None, *args)
                report = build_report([phase_1, phase_3], identity)
            changed.extend(report["datasets"])
    return {**report, "build_id": run_id}
