"""The `check` flow: the quality gate's Great Expectations suites (and source freshness).

One task per dataset family; results recorded in ops.quality_results, Data Docs rendered, then
the gate enforced (cxloop.quality). A failed critical check fails the flow.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.config import project_config
from cxloop.dbt import dbt_vars
from cxloop.errors import QualityGateError
from cxloop.flows.orchestration import stage_run_id, warehouse_slot
from cxloop.quality import (
    CheckReport,
    check_family,
    check_freshness,
    docs_index,
    enforce_freshness,
    enforce_gate,
    families_for,
    record_results,
    render_docs,
    require_warehouse,
)
from cxloop.quality.gate import record_verdicts
from cxloop.settings import Settings

check_family_task = task(
    check_family, name="check-family", task_run_name="check-{family}", cache_policy=NO_CACHE
)
check_freshness_task = task(check_freshness, name="source-freshness", cache_policy=NO_CACHE)
record_results_task = task(record_results, name="record-quality-results", cache_policy=NO_CACHE)
record_verdicts_task = task(record_verdicts, name="record-gate-verdicts", cache_policy=NO_CACHE)
render_docs_task = task(render_docs, name="render-data-docs", cache_policy=NO_CACHE)


@flow(name="check")
def check(
    stage: str = "marts",
    warehouse: str | None = None,
    config_path: str | None = None,
    datasets: list[str] | None = None,
    render: bool = True,
    landed_after: dict[str, datetime] | None = None,
) -> dict[str, Any]:
    """Run the GE suites for a stage ('raw', 'marts' or 'all'); fail on a critical check.

    At 'raw' and 'all', also source freshness (in SQL from the dbt sources' YAML, no dbt
    invocation), with thresholds from cxloop.yaml (`config_path`, else found as usual; default
    48 hours). `datasets` limits the check to
    those (e.g. what a build just changed). Each dataset's verdict is stored against the
    latest build (ops.gate_verdicts): act and publish read it. Without `render`, the Data Docs
    of these results wait for the next render (the pipeline renders once, at its end).
    `landed_after` (the pipeline's, per raw dataset): only the rows landed after that time
    are validated, those the last passing check did not see (cxloop.changes).
    """
    paths = Settings().paths
    warehouse_path = require_warehouse(Path(warehouse) if warehouse else paths.warehouse)
    run_id = stage_run_id("check")
    report = CheckReport(run_id=run_id, stage=stage)
    # the slot is held from the first read to the verdicts: a build waits for the check, and a
    # check for a running build, so a verdict names the build whose tables were validated
    # (read outside it, a check could validate the marts before a build, then record its
    # pass against that build once it finished)
    with warehouse_slot():
        for family in families_for(stage):
            report.outcomes.append(
                check_family_task(family, warehouse_path, paths.gx, run_id, datasets, landed_after)
            )
        report.rows_recorded = record_results_task(warehouse_path, report)
        record_verdicts_task(warehouse_path, report)
    report.docs_index = render_docs_task(paths.gx) if render else docs_index(paths.gx)
    get_run_logger().info(report.log_line())
    freshness = []
    if stage in ("raw", "all"):
        config = project_config(config_path)
        with warehouse_slot():
            freshness = check_freshness_task(warehouse_path, paths.home, run_id, dbt_vars(config))
    enforce_gate(report)
    enforce_freshness(freshness)
    summary = report.summary()
    if landed_after:
        summary["landed_after"] = {d: at.isoformat() for d, at in sorted(landed_after.items())}
    if freshness:
        summary["sources_fresh"] = {r.source: r.status for r in freshness}
    return summary


@flow(name="quality-gate")
def gate_closed(message: str) -> None:
    """A Failed flow run for a gate the pipeline found closed (its checks run inline, not as
    subflows: docs/architecture.md), so the UI and the failed-run alerts see it as before."""
    raise QualityGateError(message)
