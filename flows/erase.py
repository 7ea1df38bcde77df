"""The `erase` flow: remove one person everywhere, rebuild, republish (cxloop.erasure.run).

Its parameter is `email-sha256:<salted hash>` or `customer:<id>` (`subject_key`), never an
e-mail address: Prefect keeps flow parameters in its database.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cxloop.config import project_config
from cxloop.erasure.run import ErasureError, finish, remove_files, remove_person, sources_folder
from cxloop.errors import QualityGateError
from cxloop.flows.build import build
from cxloop.flows.check import check
from cxloop.flows.orchestration import warehouse_slot
from cxloop.flows.publish import publish
from cxloop.settings import Settings

remove_task = task(remove_person, name="erase-person", cache_policy=NO_CACHE)
files_task = task(remove_files, name="erase-files", cache_policy=NO_CACHE)
finish_task = task(finish, name="erase-files-and-compact", cache_policy=NO_CACHE)


@flow(name="erase")
def erase(
    subject: str, sources_dir: str | None = None, config_path: str | None = None
) -> dict[str, Any]:
    """Erase a person (docs/erasure.md): warehouse, lake, pulled files, outbox, then rebuild the
    marts, check them, republish the snapshot, scrub other files and rewrite the warehouse.

    Once the person is out of the warehouse, the last step (`finish`: snapshot withdrawn or
    republished, files scrubbed, warehouse compacted, erasure logged) always runs; when a step
    before it failed, the flow then fails too, and running it again completes the erasure.
    """
    logger = get_run_logger()
    paths = Settings().paths.ensure()
    config = project_config(config_path)
    sources = sources_folder(sources_dir, config_path, config)  # refuses before removing
    with warehouse_slot():
        erasure = remove_task(paths, subject)
        logger.info("Erasure %s: %d places changed", erasure.erasure_id, len(erasure.removed))
        published = False
        try:
            files_task(paths, erasure, config, sources)
            build(config_path, full_refresh=True)  # incremental models hold raw rows too
            try:
                check(stage="marts", config_path=config_path)
                publish(config_path)
                published = True
            except QualityGateError as exc:
                logger.warning("Snapshot withdrawn, not republished: %s", exc)
        except Exception as exc:
            finish_task(paths, erasure, False)  # snapshot withdrawn, files scrubbed, logged
            raise ErasureError(
                f"erase: the person is out of the warehouse and the snapshot was withdrawn, "
                f"but the erasure did not complete ({type(exc).__name__}: {exc}); "
                "run the same erase again once the cause is fixed"
            ) from exc
        return finish_task(paths, erasure, published)
