"""The gate as stored state: act and publish read only marts a passing check cleared.

Real DuckDB files with hand-made marts (conftest.mart_frames), the real GE check, the real
flows called as their deployments call them (no parameters), and the CLI.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from cxloop.errors import QualityGateError
from cxloop.flows.cli import app
from cxloop.quality import CheckReport, check_family, families_for, record_results
from cxloop.quality.gate import (
    MartsNotCheckedError,
    gate_state,
    record_verdicts,
    recorded_build,
    require_gate,
)
from cxloop.settings import Settings
from cxloop.warehouse import reader, table_exists, writer

MARTS = ("marts.fct_survey_responses", "marts.mart_nps")


def written(warehouse: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Each `schema.table` replaced by its frame."""
    with writer(warehouse) as con:
        for dataset, frame in frames.items():
            con.execute(f"create schema if not exists {dataset.split('.')[0]}")
            con.register("frame", frame)
            con.execute(f"create or replace table {dataset} as select * from frame")
            con.unregister("frame")


def built(warehouse: Path, frames: dict[str, pd.DataFrame], *, fail: bool = False) -> str:
    """Write the tables as a build does, recorded in ops.builds (a failed one when `fail`)."""
    build_id = f"build-{uuid.uuid4().hex[:8]}"
    with recorded_build(warehouse, build_id, None) as changed:
        written(warehouse, frames)
        if fail:
            raise RuntimeError("dbt failed half-way")
        changed.extend(frames)
    return build_id


def checked(warehouse: Path, stage: str = "marts") -> CheckReport:
    """The check flow's library steps (`cxloop check --stage ...`): GE on the stage's tables,
    results and verdicts recorded."""
    report = CheckReport(run_id=f"{stage}-{uuid.uuid4().hex[:8]}", stage=stage)
    for family in families_for(stage):
        report.outcomes.append(check_family(family, warehouse, None, report.run_id))
    record_results(warehouse, report)
    record_verdicts(warehouse, report)
    return report


def problems(warehouse: Path) -> list[str]:
    with reader(warehouse) as con:
        return gate_state(con).problems


def with_duplicate_response(good_frames) -> pd.DataFrame:
    surveys = good_frames("marts.fct_survey_responses")
    surveys.loc[2, "response_id"] = surveys.loc[0, "response_id"]
    return surveys


def test_the_gate_opens_only_for_a_checked_latest_build(tmp_path: Path, good_frames) -> None:
    warehouse = tmp_path / "cx.duckdb"
    with writer(warehouse):
        pass
    assert problems(warehouse) == ["no build recorded in ops.builds"]

    first = built(warehouse, {d: good_frames(d) for d in MARTS})
    assert problems(warehouse) == ["no marts check recorded in ops.gate_verdicts"]
    assert checked(warehouse).passed
    assert problems(warehouse) == []
    assert require_gate(warehouse, "act") == {"build_id": first, "passed": True}

    # a new build after the passing check: refused until checked
    second = built(warehouse, {"marts.fct_survey_responses": with_duplicate_response(good_frames)})
    assert problems(warehouse) == [
        f"marts.fct_survey_responses changed by build {second} after its last check"
    ]
    report = checked(warehouse)
    assert not report.passed
    assert problems(warehouse) == [
        "marts.fct_survey_responses failed expect_column_values_to_be_unique(response_id) "
        f"(check {report.run_id})"
    ]
    with pytest.raises(MartsNotCheckedError, match=r"publish refused: the marts of build "):
        require_gate(warehouse, "publish")

    # fixed and checked: open again; a build that fails half-way closes it
    built(warehouse, {"marts.fct_survey_responses": good_frames("marts.fct_survey_responses")})
    assert checked(warehouse).passed and problems(warehouse) == []
    with pytest.raises(RuntimeError):
        built(warehouse, {"marts.mart_nps": good_frames("marts.mart_nps")}, fail=True)
    with reader(warehouse) as con:
        third, status, datasets = con.execute(
            "select build_id, status, datasets from ops.builds order by started_at desc limit 1"
        ).fetchone()
    assert (status, datasets) == ("failed", None)  # unknown: everything may have changed
    assert problems(warehouse)[0] == f"build {third} failed"
    assert checked(warehouse).passed  # a check cannot clear a failed build
    assert problems(warehouse) == [f"build {third} failed"]


def test_a_scheduled_act_and_publish_refuse_marts_whose_check_failed(
    cx_home: Path, prefect_harness: None, good_frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxloop.flows.act import act
    from cxloop.flows.check import check
    from cxloop.flows.publish import publish

    monkeypatch.setenv("CXLOOP_CONFIG", str(cx_home / "missing.yaml"))  # defaults
    paths = Settings().paths
    playbook_marts = ("marts.dim_accounts", "marts.dim_customers", "marts.fct_tickets")
    playbook_marts += ("ml.churn_scores",)
    frames = {name: good_frames(name) for name in playbook_marts}
    frames["marts.fct_survey_responses"] = with_duplicate_response(good_frames)
    built(paths.warehouse, frames)
    with pytest.raises(QualityGateError):
        check(stage="marts")

    # act-frequent (and `cxloop publish`) call the flows with no parameters
    with pytest.raises(MartsNotCheckedError) as refused:
        act()
    message = str(refused.value)
    assert message.startswith("act refused: the marts of build build-")
    assert "marts.fct_survey_responses failed expect_column_values_to_be_unique(response_id)" in (
        message
    )
    with pytest.raises(MartsNotCheckedError, match=r"^publish refused: .*response_id"):
        publish()
    assert not paths.outbox.exists() or not list(paths.outbox.iterdir())
    assert not (paths.bi / "cx.duckdb").exists()
    with reader(paths.warehouse) as con:  # nothing planned: not even the ledger was made
        assert not table_exists(con, "ops", "playbook_actions")

    # the CLI: one line naming the failed check, non-zero exit
    for command in (["act"], ["publish"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code != 0, result.output
        assert "expect_column_values_to_be_unique(response_id)" in result.output
        assert "Traceback" not in result.output

    # fixed by a new build: still refused until checked; then both proceed
    built(
        paths.warehouse,
        {"marts.fct_survey_responses": good_frames("marts.fct_survey_responses")},
    )
    with pytest.raises(MartsNotCheckedError, match="after its last check"):
        act()
    assert check(stage="marts")["passed"]
    counts = act()
    assert set(counts) == {
        "detractor_followup",
        "at_risk_alert",
        "repeat_complaint",
        "callback_escalation",  # the callbacks step, after the playbooks
    }
    assert not any(c["gate_blocked"] for c in counts.values())
    published = publish()
    assert published["tables"]["marts.fct_survey_responses"] == 3
    con = duckdb.connect(str(paths.bi / "cx.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from marts.fct_survey_responses").fetchone() == (3,)
    finally:
        con.close()


def test_a_check_started_during_a_build_judges_the_tables_that_build_wrote(
    cx_home: Path, prefect_harness: None, good_frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cxloop check` beside a running `cxloop build` (another process holding the writer
    slot): the check reads once the build is done, so its verdict is about that build's
    tables. Read before, it validated the earlier marts and recorded the pass against the
    build that replaced them: act sent from marts no check had seen."""
    from cxloop.flows.check import check
    from cxloop.flows.orchestration import warehouse_slot
    from cxloop.quality import suites

    monkeypatch.setenv("CXLOOP_CONFIG", str(cx_home / "missing.yaml"))
    warehouse = Settings().paths.warehouse
    built(warehouse, {d: good_frames(d) for d in MARTS})
    assert check(stage="marts")["passed"]
    holding, read = threading.Event(), threading.Event()
    bad = with_duplicate_response(good_frames)
    read_slices = suites.read_slices

    def reading(*args: object) -> object:  # the check's reads, noted once done
        frames = read_slices(*args)
        if frames is None:
            return None
        whole = list(frames)
        read.set()
        return iter(whole)

    monkeypatch.setattr(suites, "read_slices", reading)

    def build_holding_the_slot() -> None:  # a new thread: its own hold of the slot
        with warehouse_slot():
            holding.set()
            # a check that read now would have read the marts this build replaces (it must
            # not read while the build holds the slot: then this waits its 5 s out)
            read.wait(5)
            built(warehouse, {"marts.fct_survey_responses": bad})

    builder = threading.Thread(target=build_holding_the_slot)
    builder.start()
    try:
        assert holding.wait(60)
        with pytest.raises(QualityGateError):
            check(stage="marts")
    finally:
        builder.join(60)
    assert any("response_id" in p for p in problems(warehouse)), problems(warehouse)


def test_a_batch_that_failed_its_raw_check_keeps_the_gate_closed_until_a_raw_check_passes(
    tmp_path: Path, good_frames
) -> None:
    """A pipeline stops at a failed raw check; `cxloop build` and `cxloop check --stage marts`
    run by hand after it build marts from that batch, which their own checks may not catch."""
    warehouse = tmp_path / "cx.duckdb"
    contacts = good_frames("raw.salesforce__contact")
    broken = contacts.copy()
    broken.loc[0, "Id"] = None  # a contact without its id
    written(warehouse, {"raw.salesforce__contact": broken})
    assert not checked(warehouse, "raw").passed
    built(warehouse, {d: good_frames(d) for d in MARTS})
    assert checked(warehouse).passed  # the marts' checks find nothing
    (problem,) = problems(warehouse)
    assert problem.startswith("raw.salesforce__contact failed expect_column_values_to_not_be_null")
    assert "raw check raw-" in problem
    with pytest.raises(MartsNotCheckedError, match="raw.salesforce__contact"):
        require_gate(warehouse, "act")

    written(warehouse, {"raw.salesforce__contact": contacts})  # the batch fixed (or erased)
    assert checked(warehouse, "raw").passed
    assert problems(warehouse) == []
