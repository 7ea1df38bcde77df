"""The end-to-end `pipeline` flow: ingest, check, build, check, score, act, publish."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from cxloop.build import SCORES_DOWNSTREAM
from cxloop.churn.training import ChurnModelError
from cxloop.config import load_project
from cxloop.errors import QualityGateError
from cxloop.flows.act import act
from cxloop.flows.build import build
from cxloop.flows.check import check
from cxloop.flows.ingest import ingest
from cxloop.flows.orchestration import StageTimer, warehouse_slot
from cxloop.flows.publish import publish
from cxloop.flows.score import score
from cxloop.settings import Settings
from cxloop.summary import warehouse_summary
from cxloop.tables import CHURN_SCORES
from cxloop.warehouse import writer


def record_run(warehouse: Path, report: dict[str, Any], started_at: datetime) -> None:
    """Keep the run's summary in ops.pipeline_runs."""
    with writer(warehouse) as con:
        con.execute(
            "insert or replace into ops.pipeline_runs values (?, ?, ?, ?, ?)",
            [
                report["run_id"],
                started_at,
                datetime.now(UTC).replace(tzinfo=None),
                report["status"],
                json.dumps(report, default=str),
            ],
        )


@flow(name="pipeline")
def pipeline(
    sources_dir: str,
    config_path: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run the whole loop on a sources folder and return the run summary.

    `now` pins the playbooks' clock (quiet hours, cooldowns); default: the current time.
    """
    logger = get_run_logger()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    # validated up front: a bad cxloop.yaml stops the run before anything is landed
    cfg_path, _ = load_project(Path(sources_dir), Path(config_path) if config_path else None)
    paths = Settings().paths.ensure()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    report: dict[str, Any] = {"run_id": run_id, "status": "running", "sources": sources_dir}
    timer = StageTimer()
    with warehouse_slot():
        with timer.stage("ingest"):
            report["ingest"] = ingest(sources_dir, str(cfg_path))
        try:
            with timer.stage("check_raw"):
                report["check_raw"] = check(stage="raw", config_path=str(cfg_path))
            with timer.stage("build"):
                report["build"] = build(str(cfg_path))
            with timer.stage("check_marts"):
                report["check_marts"] = check(stage="marts")
            with timer.stage("score"):
                try:
                    report["score"] = score(config_path=str(cfg_path))  # bands, horizon
                except ChurnModelError as exc:  # too little history: act on what we know
                    report["score"] = {"skipped": str(exc)}
                    logger.warning("No churn scores this run: %s", exc)
            if "skipped" not in report["score"]:  # scores reach the dims (written after build)
                with timer.stage("build_scores"):
                    report["build_scores"] = build(str(cfg_path), select=SCORES_DOWNSTREAM)
                with timer.stage("check_scores"):  # what scoring changed, checked before act
                    changed = [CHURN_SCORES.qualified, *report["build_scores"]["datasets"]]
                    report["check_scores"] = check(stage="marts", datasets=changed)
            with timer.stage("act"):
                report["act"] = act(dry_run=dry_run, now=now, config=str(cfg_path))
            if not dry_run:
                with timer.stage("publish"):
                    report["publish"] = publish(str(cfg_path))
                    report["warnings"] = report["publish"]["warnings"]
            report["status"] = "ok"
        except QualityGateError as exc:
            report["status"] = "blocked"
            report["blocked"] = str(exc)
            logger.error("Quality gate failed; nothing more acted on or published: %s", exc)
        report["durations"] = timer.seconds
        report["warehouse"] = warehouse_summary(paths.warehouse)
        record_run(paths.warehouse, report, started_at)
    return report
