"""The `erase` flow: remove one person everywhere, rebuild, republish (cxloop.erasure.run).

Its parameter is `email-sha256:<salted hash>` or `customer:<id>` (`subject_key`), never an
e-mail address: Prefect keeps flow parameters in its database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.config import project_config
from cxloop.erasure.run import finish, remove_person
from cxloop.errors import QualityGateError
from cxloop.flows.build import build
from cxloop.flows.check import check
from cxloop.flows.orchestration import warehouse_slot
from cxloop.flows.publish import publish
from cxloop.settings import Settings

remove_task = task(remove_person, name="erase-person", cache_policy=NO_CACHE)
finish_task = task(finish, name="erase-files-and-compact", cache_policy=NO_CACHE)


@flow(name="erase")
def erase(
    subject: str, sources_dir: str | None = None, config_path: str | None = None
) -> dict[str, Any]:
    """Erase a person (docs/erasure.md): warehouse, lake, pulled files, outbox, then rebuild the
    marts, check them, republish the snapshot, scrub other files and rewrite the warehouse."""
    logger = get_run_logger()
    paths = Settings().paths.ensure()
    config = project_config(config_path)
    sources = (
        Path(sources_dir) if sources_dir else (Path(config_path).parent if config_path else None)
    )
    with warehouse_slot():
        erasure = remove_task(paths, subject, config, sources)
        logger.info("Erasure %s: %d places changed", erasure.erasure_id, len(erasure.removed))
        build(config_path)
        try:
            check(stage="marts", config_path=config_path)
            publish(config_path)
            published = True
        except QualityGateError as exc:
            logger.warning("Snapshot withdrawn, not republished: %s", exc)
            published = False
        return finish_task(paths, erasure, published)
