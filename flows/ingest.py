"""The `ingest` flow: land every configured source's export files into raw, a task per entity.

The library is cxloop.sources.ingest (plan, land, count); docs/ingest.md.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.flows.orchestration import warehouse_slot
from cxloop.settings import Settings
from cxloop.sources.ingest import (
    EntityJob,
    IngestRun,
    build_report,
    entity_counts,
    ingest_entity,
    plan_ingest,
    preparer_for,
    resolve_run,
    select_jobs,
)
from cxloop.sources.workers import Preparer
from cxloop.warehouse import held_open

plan_ingest_task = task(plan_ingest, name="plan-ingest", cache_policy=NO_CACHE)


@task(name="ingest-entity", task_run_name="ingest {job.kind}.{job.entity}", cache_policy=NO_CACHE)
def ingest_entity_task(
    run: IngestRun, job: EntityJob, preparer: Preparer | None = None
) -> dict[str, int]:
    """Land one entity's new files (parsed by the preparer's workers) and return its counts."""
    counts = entity_counts(ingest_entity(run, job, preparer=preparer))
    get_run_logger().info("%s: %s", job.key, counts)
    return counts


@flow(name="ingest")
def ingest(
    sources_dir: str | Path,
    config_path: str | Path | None = None,
    warehouse: str | Path | None = None,
    lake_dir: str | Path | None = None,
    only: list[str] | None = None,
) -> dict:
    """Land the configured sources' files into raw; returns counts per entity and totals.

    `only` names the sources (as in cxloop.yaml) to ingest, for a per-source schedule.
    """
    run = resolve_run(Settings().paths, sources_dir, config_path, warehouse, lake_dir)
    jobs = select_jobs(plan_ingest_task(run), only)
    # held open: an entity's connection closing does not checkpoint the warehouse each time
    with warehouse_slot(), held_open(run.warehouse), preparer_for(run, jobs) as preparer:
        return build_report([(job.key, ingest_entity_task(run, job, preparer)) for job in jobs])
