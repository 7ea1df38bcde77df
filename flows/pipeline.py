"""The end-to-end `pipeline` flow: ingest, check, build, check, voice, score, act, publish.

Each stage is a flow of its own (`cxloop build`, a deployment, a test can run it alone), but the
pipeline runs their bodies inline (`stage.fn(...)`): a subflow costs about a second of Prefect
bookkeeping (its run, its states, its heartbeat thread's join), some 12 s a run. Their tasks
still appear, under the pipeline's run (docs/architecture.md, issue #12).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from cxloop.build import LEDGER_DOWNSTREAM, SCORES_DOWNSTREAM, VOICE_AND_SCORES
from cxloop.changes import (
    build_changes,
    build_due,
    build_unchanged,
    changed_datasets,
    current_model_version,
    gate_open,
    ledger_inputs,
    mark_deferred,
    publish_inputs,
    raw_check_rules,
    raw_check_windows,
    raw_checked_through,
    raw_table_facts,
    raw_table_inputs,
    record_inputs,
    record_many,
    score_inputs,
    source_inputs,
    unchanged,
    voice_inputs,
)
from cxloop.churn.training import ChurnModelError
from cxloop.config import load_project, project_config
from cxloop.dbt import (
    IDLE_PRIORITY,
    dbt_vars,
    freshness_hours,
    no_parse_left,
    parse_ahead,
    wait_for_parse,
)
from cxloop.errors import QualityGateError
from cxloop.flows.act import act
from cxloop.flows.build import build
from cxloop.flows.check import check, gate_closed, render_docs_task
from cxloop.flows.ingest import ingest
from cxloop.flows.orchestration import StageTimer, beside, warehouse_slot
from cxloop.flows.publish import publish
from cxloop.flows.score import score
from cxloop.flows.voice import VOICE_DOWNSTREAM, voice
from cxloop.heap import long_lived_heap
from cxloop.publish import publish_warnings
from cxloop.quality.freshness import freshness_unchanged
from cxloop.quality.results import utc_now
from cxloop.settings import Paths, Settings
from cxloop.summary import warehouse_summary
from cxloop.tables import CHURN_SCORES
from cxloop.warehouse import held_open, writer

# The stages that validate with GE and leave their results' pages to the run's one render.
CHECK_STAGES = ("check_raw", "check_marts", "check_scores")


def skip(report: dict[str, Any], stage: str, reason: str) -> None:
    """Say in the run summary that a stage had no new input and did not run."""
    report[stage] = {"skipped": reason, "unchanged": True}
    report.setdefault("skipped", {})[stage] = reason
    get_run_logger().info("%s skipped: %s", stage, reason)


def built_marts(build_report: dict[str, Any], ledger_only: bool) -> list[str] | None:
    """What the marts check must cover after a build: what it built when it built only part
    of the graph (and no identity step, whose tables dbt does not list) or left some nodes to
    the build after voice and scoring (those are checked after it); else every mart."""
    partial = build_report.get("reached_only") and "identity" not in build_report
    if ledger_only or partial or build_report.get("deferred"):
        return build_report["datasets"]
    return None


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
    The run's long-lived objects are left out of the garbage collector's walks (cxloop.heap).
    """
    with long_lived_heap():
        return run_stages(sources_dir, config_path, dry_run, now)


def run_stages(
    sources_dir: str, config_path: str | None, dry_run: bool, now: datetime | None
) -> dict[str, Any]:
    """The pipeline's body: each stage in turn, in the pipeline's flow run."""
    logger = get_run_logger()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    # validated up front: a bad cxloop.yaml stops the run before anything is landed
    cfg_path, _ = load_project(Path(sources_dir), Path(config_path) if config_path else None)
    paths = Settings().paths.ensure()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    report: dict[str, Any] = {"run_id": run_id, "status": "running", "sources": sources_dir}
    timer = StageTimer()
    config = project_config(str(cfg_path))
    wh = paths.warehouse
    with warehouse_slot(), held_open(wh), no_parse_left():
        if build_due(wh):  # a build follows whatever lands: dbt parses on what ingest leaves idle
            parse_ahead(paths.home, dbt_vars(config), wh, nice=IDLE_PRIORITY)
        failure: Exception | None = None
        try:
            with timer.stage("ingest"):
                report["ingest"] = ingest.fn(sources_dir, str(cfg_path))
            raw = raw_table_facts(wh)  # the raw layer as ingest left it, read once
            sources_in, ledger_in = source_inputs(wh, config, raw), ledger_inputs(wh)
            if not build_unchanged(wh, sources_in):  # dbt parses on the core the checks leave
                parse_ahead(paths.home, dbt_vars(config), wh)
            with timer.stage("check_raw"):  # only the raw tables that changed since passing
                raw_in = raw_table_inputs(wh, config, raw)
                changed_raw = changed_datasets(wh, "check_raw", raw_in)
                if not changed_raw and freshness_unchanged(
                    wh, freshness_hours(config) if config else {}, utc_now()
                ):
                    skip(report, "check_raw", "no new raw data; sources still fresh")
                else:  # with no table changed, only source freshness is checked
                    rules = raw_check_rules(config)  # each table: the rows landed since it passed
                    report["check_raw"] = check.fn(
                        stage="raw",
                        config_path=str(cfg_path),
                        datasets=changed_raw,
                        render=False,
                        landed_after=raw_check_windows(wh, changed_raw, rules),
                    )
                    passed = {f"check_raw:{d}": raw_in[d] for d in changed_raw}
                    record_many(wh, passed | raw_checked_through(raw, changed_raw, rules), run_id)
            with timer.stage("build"):
                ledger_only, built = False, None
                if not build_unchanged(wh, sources_in):  # only what the new rows reach
                    changed = build_changes(wh, raw_in, ledger_in)
                    # what reads the voice and score tables is built once, after those stages
                    report["build"] = build.fn(
                        str(cfg_path), changed=changed, defer=VOICE_AND_SCORES
                    )
                    built = report["build"]["build_id"]  # its inputs: recorded once all is built
                    if report["build"]["deferred"]:  # until built, the next build builds all
                        mark_deferred(wh, True, built)
                elif not unchanged(wh, "ledger", ledger_in):  # the last run's sends close the loop
                    ledger_only = True
                    report["build"] = build.fn(str(cfg_path), select=LEDGER_DOWNSTREAM)
                    record_inputs(wh, "ledger", ledger_in, report["build"]["build_id"])
                else:
                    skip(report, "build", "no new raw data, ledger or config since the last build")
            with timer.stage("check_marts"):
                if "skipped" in report["build"] and gate_open(wh):
                    skip(report, "check_marts", "marts unchanged since their passing check")
                else:  # what the build changed (every mart, after a full build)
                    report["check_marts"] = check.fn(
                        stage="marts",
                        datasets=built_marts(report["build"], ledger_only),
                        render=False,
                    )
            voiced_by: Callable[[], Any] | None = None  # voice runs beside scoring
            if unchanged(wh, "voice", voice_inputs(wh, config, paths.models)):
                skip(report, "voice", "texts, sentiment model and config unchanged")
            else:  # sentiment and topics; mart_drivers is rebuilt below

                def voice_stage() -> dict[str, Any]:
                    with timer.stage("voice"):
                        return voice.fn(config_path=str(cfg_path), build_downstream=False)

                voiced_by = beside(voice_stage, "voice")
            try:
                with timer.stage("score"):
                    version = current_model_version(paths.models)
                    score_in = score_inputs(wh, version, config)
                    if version and unchanged(wh, "score", score_in):
                        skip(report, "score", f"model {version} and features unchanged")
                    else:
                        try:
                            report["score"] = score.fn(config_path=str(cfg_path))  # bands, horizon
                        except ChurnModelError as exc:  # too little history: act on what we know
                            report["score"] = {"skipped": str(exc)}
                            logger.warning("No churn scores this run: %s", exc)
            except BaseException:  # voice's thread ends first; scoring's error is the one raised
                if voiced_by is not None:
                    with contextlib.suppress(Exception):
                        voiced_by()
                raise
            if voiced_by is not None:  # voice's thread ends before anything else runs
                report["voice"] = voiced_by()
            scored, voiced = "skipped" not in report["score"], "skipped" not in report["voice"]
            deferred = report["build"].get("deferred", [])
            if scored or voiced or deferred:  # what reads voice and scores (after the build)
                written = [
                    *(report["voice"]["datasets"] if voiced else []),
                    *([CHURN_SCORES.qualified] if scored else []),
                ]
                downstream = [
                    *deferred,
                    *([VOICE_DOWNSTREAM] if voiced else []),
                    *([SCORES_DOWNSTREAM] if scored else []),
                ]
                with timer.stage("build_scores"):  # one dbt run for all of it
                    report["build_scores"] = build.fn(str(cfg_path), select=" ".join(downstream))
                with timer.stage("check_scores"):  # what voice and scoring changed, before act
                    changed = [*written, *report["build_scores"]["datasets"]]
                    report["check_scores"] = check.fn(stage="marts", datasets=changed, render=False)
                if scored:
                    version = current_model_version(paths.models)
                    record_inputs(wh, "score", score_inputs(wh, version, config), run_id)
                if voiced:
                    record_inputs(wh, "voice", voice_inputs(wh, config, paths.models), run_id)
            if built:  # the build's inputs count as built once its deferred nodes are too
                mark_deferred(wh, False, built)
                record_inputs(wh, "build", sources_in, built)
                record_inputs(wh, "ledger", ledger_in, built)
                record_many(wh, {f"build:{d}": fp for d, fp in raw_in.items()}, built)

            def act_stage() -> dict[str, Any]:
                with timer.stage("act"):
                    return act.fn(dry_run=dry_run, now=now, config=str(cfg_path))

            acted_by = beside(act_stage, "act")  # act runs beside publish: neither reads the other
            try:
                if not dry_run:
                    with timer.stage("publish"):
                        publish_in = publish_inputs(wh, config)
                        if (
                            unchanged(wh, "publish", publish_in)
                            and (paths.bi / "cx.duckdb").exists()
                        ):
                            skip(report, "publish", "marts unchanged since the last publish")
                            report["warnings"] = publish_warnings(config)
                        else:
                            report["publish"] = publish.fn(str(cfg_path))
                            report["warnings"] = report["publish"]["warnings"]
                            record_inputs(wh, "publish", publish_in, run_id)
            except BaseException:  # act's thread ends first; publish's error is the one raised
                try:
                    report["act"] = acted_by()  # what was sent stays in the run's summary
                except Exception as exc:
                    report["act_error"] = f"{type(exc).__name__}: {exc}"
                    logger.error("act failed beside a failed publish: %s", report["act_error"])
                raise
            report["act"] = acted_by()
            report["status"] = "ok"
        except QualityGateError as exc:
            report["status"] = "blocked"
            report["blocked"] = str(exc)
            logger.error("Quality gate failed; nothing more acted on or published: %s", exc)
            gate_closed(str(exc), return_state=True)  # a Failed `quality-gate` run for alerts
        except Exception as exc:  # recorded, its checks' pages rendered, then raised
            report["status"] = "failed"
            report["error"] = f"{type(exc).__name__}: {exc}"
            failure = exc
        if failure is None:
            wait_for_parse()  # a blocked run leaves no dbt parse behind (a failed one kills it)
        finish_run(report, timer, paths, started_at, failed=failure is not None)
        if failure is not None:
            raise failure
    return report


def finish_run(
    report: dict[str, Any],
    timer: StageTimer,
    paths: Paths,
    started_at: datetime,
    failed: bool = False,
) -> None:
    """The run's end, whatever its status: Data Docs rendered once for all its checks (none
    when no check ran), the summary kept in ops.pipeline_runs. After a `failed` run each step
    goes as far as the failure allows (what stops one is logged), so the run is recorded
    whenever the warehouse takes it and the run's own error is the one raised."""

    def attempt(what: str, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            if not failed:
                raise
            get_run_logger().error("The failed run could not %s: %s", what, exc)

    def render() -> None:
        unchanged = report.get("skipped", {})
        checked = [s for s in CHECK_STAGES if s in timer.seconds and s not in unchanged]
        with timer.stage("data_docs"):
            if checked:
                render_docs_task(paths.gx)
            else:  # no result to render: GE is not loaded for nothing (~1.3 s in a new process)
                skip(report, "data_docs", "nothing was checked in this run")

    def summarize() -> None:
        report["warehouse"] = warehouse_summary(paths.warehouse)

    attempt("render its Data Docs", render)
    report["durations"] = timer.seconds
    attempt("summarize the warehouse", summarize)
    attempt("be recorded", lambda: record_run(paths.warehouse, report, started_at))
