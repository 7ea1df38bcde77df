"""An ingest run into a home folder of the test's, and its report, without Prefect."""

from __future__ import annotations

from pathlib import Path

from cxloop.settings import Settings
from cxloop.sources.ingest import (
    IngestRun,
    build_report,
    entity_counts,
    ingest_jobs,
    plan_ingest,
    resolve_run,
)


def ingest_run(sources: Path, home: Path) -> IngestRun:
    """An ingest of `sources` into `home`'s warehouse and lake (a new run: a new memo)."""
    return resolve_run(
        Settings().paths, sources, warehouse=home / "cx.duckdb", lake_dir=home / "lake"
    )


def ingest_report(run: IngestRun, workers: int) -> dict:
    """Land every job of the run with `workers` worker processes (0: none); the run report."""
    landed = ingest_jobs(run, plan_ingest(run), workers)
    return build_report([(job.key, entity_counts(results)) for job, results in landed])
