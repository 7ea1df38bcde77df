"""The `pull` flow: each configured API source pulled into its folder, one task per source.

The library is cxloop.connectors (docs/connectors.md). Pulling writes files only, never the
warehouse, so it holds no warehouse slot; `ingest` lands what it wrote.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.config import load_project
from cxloop.connectors.run import check_source, pull_source, pullable_sources


def load_secret_block(name: str) -> str:
    """A Prefect Secret block's value (for `secret:<block>` credentials)."""
    from prefect.blocks.system import Secret

    return str(Secret.load(name).get())


@task(name="pull-source", task_run_name="pull {name}", cache_policy=NO_CACHE)
def pull_source_task(
    sources_dir: str, name: str, config_path: str | None, since: datetime | None
) -> dict[str, Any]:
    """Pull one source's streams from their cursors into its folder."""
    _, config = load_project(Path(sources_dir), Path(config_path) if config_path else None)
    report = pull_source(
        sources_dir, name, config.sources[name], since=since, load_secret=load_secret_block
    )
    get_run_logger().info("%s: %d pages, %d records", name, report["pages"], report["records"])
    return report


@task(name="check-source", task_run_name="check {name}", cache_policy=NO_CACHE)
def check_source_task(sources_dir: str, name: str, config_path: str | None) -> dict[str, Any]:
    """One cheap authenticated call: credentials and permissions are good."""
    _, config = load_project(Path(sources_dir), Path(config_path) if config_path else None)
    return check_source(name, config.sources[name], load_secret=load_secret_block)


@flow(name="pull")
def pull(
    sources_dir: str | Path,
    config_path: str | Path | None = None,
    only: list[str] | None = None,
    since: date | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """Pull every source with an `api` block (`only`: source names or kinds).

    `since` starts every stream there instead of at its cursor; `check` only validates.
    """
    sources = str(sources_dir)
    cfg_path = str(config_path) if config_path else None
    _, config = load_project(Path(sources), Path(cfg_path) if cfg_path else None)
    names = pullable_sources(config, only)
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    if check:
        futures = {n: check_source_task.submit(sources, n, cfg_path) for n in names}
    else:
        futures = {n: pull_source_task.submit(sources, n, cfg_path, start) for n in names}
    return {"sources": {n: f.result() for n, f in futures.items()}}
