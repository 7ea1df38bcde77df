"""The `publish` flow: the marts as an atomic, read-only BI snapshot (cxloop.publish)."""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cxloop.config import project_config
from cxloop.flows.orchestration import warehouse_slot
from cxloop.publish import publish_configured
from cxloop.settings import Settings

publish_task = task(publish_configured, name="publish-snapshot", cache_policy=NO_CACHE)


@flow(name="publish")
def publish(config_path: str | None = None, full: bool = False) -> dict[str, object]:
    """Publish the checked marts as a read-only, masked snapshot for BI tools (cxloop.publish).

    Copies only the marts that changed since the snapshot in place; `full` copies every one.
    Refuses (MartsNotCheckedError) unless a passing marts check covers their latest build.
    """
    paths = Settings().paths.ensure()
    with warehouse_slot():
        return publish_task(paths, project_config(config_path), full)
