"""The `build` flow: dbt build (models, tests, unit tests) via prefect-dbt, a task per node."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dbt_common.events.base_types import EventLevel
from prefect import flow, get_run_logger
from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

from cxloop.churn_tables import ensure_churn_scores_table
from cxloop.config import BusinessHours, ProjectConfig, project_config
from cxloop.errors import ConfigError, CxloopError
from cxloop.flows.orchestration import warehouse_slot
from cxloop.identity import ensure_identity_tables, resolve_identities
from cxloop.package_data import dbt_project_dir
from cxloop.playbooks.ledger import ensure_playbook_tables
from cxloop.quality import record_dbt_results
from cxloop.settings import Settings
from cxloop.sources.landing import ensure_raw_tables
from cxloop.warehouse import release_dbt_connections, writer

DBT_PROJECT_DIR = dbt_project_dir()
# Identity resolution runs between two dbt phases (docs/identity.md).
IDENTITY_PHASE_1 = "+int_person_records__unioned"


class BuildError(CxloopError):
    """dbt build failed: a model errored or an error-severity test failed."""


def checked_business_hours(hours: BusinessHours) -> BusinessHours:
    """The business_hours section, refused with the key named when dbt could not use it."""
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"key 'business_hours.timezone': unknown time zone {hours.timezone!r} "
            "(expected an IANA name such as Europe/Berlin)"
        ) from None
    for key in ("start", "end"):
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", getattr(hours, key)):
            raise ConfigError(
                f"key 'business_hours.{key}': {getattr(hours, key)!r} is not a time"
                " (expected HH:MM)"
            )
    if hours.start >= hours.end:
        raise ConfigError("key 'business_hours': start must be before end (same day)")
    if any(day not in range(7) for day in hours.weekdays):
        raise ConfigError(
            f"key 'business_hours.weekdays': {hours.weekdays} (expected 0-6, Monday = 0)"
        )
    return hours


def dbt_vars(config: ProjectConfig | None) -> dict[str, object]:
    """The dbt vars that come from cxloop.yaml."""
    if config is None:
        return {}
    hours, health = checked_business_hours(config.business_hours), config.health
    return {
        "churn_horizon_days": config.churn_horizon_days,
        "small_sample_size": config.small_sample_size,
        "business_hours_timezone": hours.timezone,
        "business_hours_start": hours.start,
        "business_hours_end": hours.end,
        "business_weekdays": list(hours.weekdays),
        "business_holidays": [d.isoformat() for d in hours.holidays],
        "health_weights": health.weights.model_dump(),
        "health_bands": health.bands.model_dump(),
        "source_freshness_hours": freshness_hours(config),
        "sla_first_reply_business_minutes": config.sla.first_reply_business_minutes,
        "partial_response_surveys": config.partial_response_surveys(),
        "churn_methods": config.churn_methods(),
    }


def freshness_hours(config: ProjectConfig) -> dict[str, int]:
    """Hours after which each source kind is stale: the strictest of its configured sources."""
    hours: dict[str, int] = {}
    for source in config.sources.values():
        hours[source.kind] = min(source.freshness_hours, hours.get(source.kind, 10**9))
    return hours


def merge_reports(first: dict[str, object], second: dict[str, object]) -> dict[str, object]:
    """One build report from two dbt invocations: counts added, failures concatenated."""
    counts = dict(first["counts"])  # type: ignore[arg-type]
    for status, n in second["counts"].items():  # type: ignore[union-attr]
        counts[status] = counts.get(status, 0) + n
    return {
        "counts": counts,
        "failures": [*first["failures"], *second["failures"]],  # type: ignore[misc]
        "success": bool(first["success"] and second["success"]),
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


def dbt_run_id() -> str:
    """The Prefect flow run id when inside one (ties dbt rows to the run), else a new uuid."""
    from prefect.runtime import flow_run

    return str(flow_run.get_id() or uuid.uuid4())


def invoke_dbt(
    args: list[str], vars_: dict[str, object], home: Path, target_dir: str = "target"
) -> tuple[Any, dict[str, object]]:
    """One in-process dbt invocation (a Prefect task per node); its result and a summary.

    `target_dir` under `$CXLOOP_HOME/dbt/`: each dbt target keeps its own parsed manifest.
    """
    os.environ.setdefault("DBT_LOG_PATH", str(home / "dbt" / "logs"))
    runner = PrefectDbtRunner(
        settings=PrefectDbtSettings(
            project_dir=DBT_PROJECT_DIR,
            profiles_dir=DBT_PROJECT_DIR,
            target_path=home / "dbt" / target_dir,
            # explicit: derived from PREFECT_LOGGING_LEVEL, "warning" is no dbt EventLevel
            log_level=EventLevel.INFO,
        ),
        raise_on_failure=False,
    )
    res = runner.invoke([*args, "--vars", json.dumps(vars_)])
    report = summarize_results(res.result)
    report["success"] = bool(res.success)
    return res, report


def raise_for_dbt(args: list[str], res: Any, report: dict[str, object]) -> None:
    """BuildError naming the first failed nodes, when the invocation failed."""
    if not res.success:
        detail = "; ".join(report["failures"][:5]) or str(res.exception)  # type: ignore[index]
        raise BuildError(f"dbt {' '.join(args)} failed: {detail}")


def run_dbt(
    args: list[str], warehouse: Path, config: ProjectConfig | None, home: Path
) -> dict[str, object]:
    """Invoke dbt once in-process against `warehouse`, then release the file."""
    with writer(warehouse) as con:  # schemas and raw tables exist before dbt reads sources
        ensure_raw_tables(con)
        ensure_playbook_tables(con)  # source ops.playbook_actions (mart_loop_closure)
        ensure_identity_tables(con)  # dbt sources of phase 3; empty until identity runs
        ensure_churn_scores_table(con)  # source ml.churn_scores: empty until scored
    os.environ["CXLOOP_WAREHOUSE"] = str(warehouse)
    try:
        res, report = invoke_dbt(args, dbt_vars(config), home)
    finally:
        release_dbt_connections()
    report["tests_recorded"] = record_dbt_results(warehouse, res.result, dbt_run_id())
    raise_for_dbt(args, res, report)
    return report


@flow(name="build", log_prints=True)
def build(config_path: str | None = None, select: str | None = None) -> dict[str, object]:
    """Build with dbt in two phases around identity resolution, running all tests.

    With `select`, one dbt build of that selection only (no identity step).
    """
    config = project_config(config_path)
    settings = Settings()
    paths = settings.paths.ensure()
    # Unit tests run in development and CI (tests/dbt), not against production data: dbt
    # introspects the real source tables to build their fixtures (dbt's own recommendation).
    args = ["build", "--exclude-resource-type", "unit_test"]
    with warehouse_slot():
        if select:
            report = run_dbt([*args, "--select", select], paths.warehouse, config, paths.home)
        else:
            # phase 1: only tests whose parents are all built (cautious), e.g. not tests
            # that join staging to the marts
            phase_1 = [*args, "--select", IDENTITY_PHASE_1, "--indirect-selection", "cautious"]
            phase_1_report = run_dbt(phase_1, paths.warehouse, config, paths.home)
            identity = resolve_identities(paths.warehouse, config.identity if config else None)
            # phase 3 builds everything: `--exclude +int_person_records__unioned` would also
            # drop the tests that span both phases (identity-map count parity); re-running
            # phase 1's views and one table costs ~2 s and gives the same result.
            phase_3_report = run_dbt(args, paths.warehouse, config, paths.home)
            report = merge_reports(phase_1_report, phase_3_report)
            report["identity"] = identity
    get_run_logger().info("dbt build: %s", report["counts"])
    return report
