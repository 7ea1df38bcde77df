"""The `postgres-build` flow: copy the Python-written tables, then dbt build --target postgres.

The library is cxloop.postgres; docs/postgres.md says how to set the target up.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from cxloop.build import BUILD
from cxloop.config import project_config
from cxloop.dbt import dbt_vars
from cxloop.flows.orchestration import warehouse_slot
from cxloop.postgres import PostgresTarget, copy_python_tables, run_dbt_postgres
from cxloop.settings import Settings


@flow(name="postgres-build", log_prints=True)
def postgres_build(config_path: str | None = None, dsn: str | None = None) -> dict[str, object]:
    """Copy the Python-written tables into PostgreSQL and build the dbt project there.

    The target comes from `dsn` when given, else from the CXLOOP_PG_* variables.
    """
    config = project_config(config_path)
    target = PostgresTarget.from_dsn(dsn) if dsn else PostgresTarget.from_env()
    paths = Settings().paths.ensure()
    logger = get_run_logger()
    started = time.perf_counter()
    with warehouse_slot():  # a consistent copy: no writer changes the warehouse meanwhile
        copied = copy_python_tables(paths.warehouse, target)
    copy_seconds = round(time.perf_counter() - started, 2)
    logger.info("copied %d tables into %s in %.1f s", len(copied), target.describe(), copy_seconds)
    # raw is copied whole each time (erasures included): incremental models refresh fully
    run = run_dbt_postgres([*BUILD, "--full-refresh"], target, dbt_vars(config), paths.home)
    logger.info("dbt build --target postgres: %s", run.counts)
    return {
        "target": target.describe(),
        "copied": copied,
        "dbt": run.report(),
        "durations": {"copy": copy_seconds, "dbt": round(run.seconds, 2)},
    }
