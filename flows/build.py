"""The `build` flow: dbt build (models, tests, unit tests) via prefect-dbt, a task per node."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dbt_common.events.base_types import EventLevel
from prefect import flow, get_run_logger
from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

from flows.config import ProjectConfig, load_config
from flows.errors import CxloopError
from flows.orchestration import warehouse_slot
from flows.settings import Settings
from flows.sources.landing import ensure_raw_tables
from flows.warehouse import release_dbt_connections, writer

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


class BuildError(CxloopError):
    """dbt build failed: a model errored or an error-severity test failed."""


def dbt_vars(config: ProjectConfig | None) -> dict[str, object]:
    """The dbt vars that come from cxloop.yaml."""
    if config is None:
        return {}
    return {
        "churn_horizon_days": config.churn_horizon_days,
        "small_sample_size": config.small_sample_size,
    }


def summarize_results(result: object) -> dict[str, object]:
    """Count dbt node results by status; list the failures with dbt's message."""
    counts: dict[str, int] = {}
    failures: list[str] = []
    for node_result in getattr(result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        counts[status] = counts.get(status, 0) + 1
        if status in {"error", "fail"}:
            name = getattr(node_result.node, "unique_id", "?")
            failures.append(f"{name}: {(node_result.message or status).strip()}")
    return {"counts": counts, "failures": failures}


def run_dbt(
    args: list[str], warehouse: Path, config: ProjectConfig | None, home: Path
) -> dict[str, object]:
    """Invoke dbt once in-process against `warehouse`, then release the file."""
    with writer(warehouse) as con:  # schemas and raw tables exist before dbt reads sources
        ensure_raw_tables(con)
    os.environ["CXLOOP_WAREHOUSE"] = str(warehouse)
    os.environ.setdefault("DBT_LOG_PATH", str(home / "dbt" / "logs"))
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(
            project_dir=DBT_PROJECT_DIR,
            profiles_dir=DBT_PROJECT_DIR,
            target_path=home / "dbt" / "target",
            # explicit: derived from PREFECT_LOGGING_LEVEL, "warning" is no dbt EventLevel
            log_level=EventLevel.INFO,
        ),
        raise_on_failure=False,
    )
    try:
        res = runner.invoke([*args, "--vars", json.dumps(dbt_vars(config))])
    finally:
        release_dbt_connections()
    report = summarize_results(res.result)
    report["success"] = bool(res.success)
    if not res.success:
        detail = "; ".join(report["failures"][:5]) or str(res.exception)  # type: ignore[index]
        raise BuildError(f"dbt {' '.join(args)} failed: {detail}")
    return report


@flow(name="build", log_prints=True)
def build(config_path: str | None = None, select: str | None = None) -> dict[str, object]:
    """Build staging, intermediate, marts and ML tables with dbt, running all tests."""
    config = load_config(Path(config_path)) if config_path else None
    settings = Settings()
    paths = settings.paths.ensure()
    # Unit tests run in development and CI (tests/dbt), not against production data: dbt
    # introspects the real source tables to build their fixtures (dbt's own recommendation).
    args = ["build", "--exclude-resource-type", "unit_test"]
    args += ["--select", select] if select else []
    with warehouse_slot():
        report = run_dbt(args, paths.warehouse, config, paths.home)
    get_run_logger().info("dbt build: %s", report["counts"])
    return report
