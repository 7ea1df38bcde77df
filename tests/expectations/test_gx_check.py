"""The gate's library steps and the check flow against a real DuckDB file with tiny tables."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cxloop.changes import raw_check_windows, raw_checked_through, raw_table_facts, record_many
from cxloop.errors import CxloopError, QualityGateError
from cxloop.flows.check import check
from cxloop.quality import (
    CheckReport,
    QualityGateFailed,
    check_family,
    enforce_gate,
    families_for,
    record_results,
    render_docs,
    require_warehouse,
)
from cxloop.settings import Settings
from cxloop.warehouse import writer

Frames = Callable[[str], pd.DataFrame]


def run_checks(
    stage: str, warehouse: Path, gx_dir: Path | None, run_id: str = "run"
) -> CheckReport:
    """The GE steps of the check flow, without Prefect and without source freshness."""
    report = CheckReport(run_id=run_id, stage=stage)
    for family in families_for(stage):
        report.outcomes.append(check_family(family, require_warehouse(warehouse), gx_dir, run_id))
    report.rows_recorded = record_results(warehouse, report)
    report.docs_index = render_docs(gx_dir)
    enforce_gate(report)
    return report


def build_warehouse(path: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Create each dataset as a real table (raw ones all-varchar plus metadata, as landed)."""
    with writer(path) as con:
        for dataset, frame in frames.items():
            con.register("frame", frame)
            con.execute(f"create or replace table {dataset} as select * from frame")
            con.unregister("frame")


def quality_rows(path: Path) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select * from ops.quality_results order by dataset").df()
    finally:
        con.close()


def test_run_checks_records_every_result_and_raises_on_a_critical_failure(
    tmp_path: Path, good_frames: Frames
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    surveys = good_frames("marts.fct_survey_responses")
    surveys.loc[2, "response_id"] = surveys.loc[0, "response_id"]
    build_warehouse(
        warehouse,
        {"marts.mart_nps": good_frames("marts.mart_nps"), "marts.fct_survey_responses": surveys},
    )
    with pytest.raises(QualityGateError) as caught:
        run_checks("marts", warehouse, tmp_path / "gx", run_id="run-1")
    message = str(caught.value)
    assert "marts.fct_survey_responses" in message
    assert "expect_column_values_to_be_unique(response_id)" in message
    assert "marts.mart_nps" not in message

    report = caught.value.report
    assert isinstance(caught.value, QualityGateFailed)
    assert "marts.dim_accounts" in report.skipped and "ml.churn_scores" in report.skipped
    rows = quality_rows(warehouse)
    assert len(rows) == report.rows_recorded == sum(len(s.results) for s in report.results)
    assert set(rows["dataset"]) == {"marts.mart_nps", "marts.fct_survey_responses"}
    assert set(rows["run_id"]) == {"run-1"} and set(rows["stage"]) == {"marts"}
    failed = rows[~rows["success"]]
    assert failed[["dataset", "check_name", "column_name", "severity"]].values.tolist() == [
        ["marts.fct_survey_responses", "expect_column_values_to_be_unique", "response_id",
         "critical"],
    ]  # fmt: skip
    assert failed["unexpected_count"].tolist() == [2]
    details = json.loads(failed["details"].iloc[0])
    assert details["unexpected_sample"] == ["R_1a2B3c4D5e6F7g8"] * 2
    assert report.docs_index is not None and report.docs_index.is_file()


def test_raw_stage_validates_varchar_tables_read_from_duckdb(
    tmp_path: Path, good_frames: Frames
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    tickets = good_frames("raw.zendesk__tickets")
    ratings = good_frames("raw.zendesk__satisfaction_ratings")
    ratings.loc[0, "created_at"] = "yesterday"  # a warning: recorded, does not stop the run
    build_warehouse(
        warehouse, {"raw.zendesk__tickets": tickets, "raw.zendesk__satisfaction_ratings": ratings}
    )
    report = run_checks("raw", warehouse, None, run_id="run-raw")
    assert report.passed
    assert report.summary()["warnings_failed"] == {
        "raw.zendesk__satisfaction_ratings": ["expect_column_values_to_match_regex(created_at)"]
    }
    assert len(report.results) == 2 and len(report.skipped) == 12  # raw datasets with no table
    rows = quality_rows(warehouse)
    assert len(rows) == report.rows_recorded
    assert set(rows["stage"]) == {"raw"}
    assert rows.loc[~rows["success"], "severity"].tolist() == ["warning"]


def test_check_flow_stops_on_critical_failure_after_recording(
    cx_home: Path, prefect_harness: None, good_frames: Frames
) -> None:
    paths = Settings().paths
    scores = good_frames("ml.churn_scores")
    scores.loc[1, "churn_probability"] = 1.7
    build_warehouse(paths.warehouse, {"ml.churn_scores": scores})
    with pytest.raises(QualityGateError, match=r"ml\.churn_scores.*churn_probability"):
        check(stage="marts")
    rows = quality_rows(paths.warehouse)
    assert set(rows["dataset"]) == {"ml.churn_scores"}
    assert len(set(rows["run_id"])) == 1
    assert rows.loc[~rows["success"], "column_name"].tolist() == ["churn_probability"]
    assert (paths.gx / "uncommitted" / "data_docs" / "local_site" / "index.html").is_file()


def test_gate_error_survives_pickling(tmp_path: Path, good_frames: Frames) -> None:
    warehouse = tmp_path / "cx.duckdb"
    nps = good_frames("marts.mart_nps")
    nps.loc[0, "segment_type"] = "galaxy"
    build_warehouse(warehouse, {"marts.mart_nps": nps})
    with pytest.raises(QualityGateFailed) as caught:
        run_checks("marts", warehouse, None)
    restored = pickle.loads(pickle.dumps(caught.value))
    assert str(restored) == str(caught.value)
    assert "expect_column_values_to_be_in_set(segment_type)" in str(restored)


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CxloopError, match="cx.duckdb: warehouse not found"):
        run_checks("marts", tmp_path / "cx.duckdb", None)
    assert not (tmp_path / "cx.duckdb").exists()


TICKETS = "raw.zendesk__tickets"


def tickets_landed(tmp_path: Path, good_frames: Frames) -> tuple[Path, pd.DataFrame]:
    """A warehouse whose raw Zendesk tickets are one good landing; the file and the rows."""
    warehouse, first = tmp_path / "cx.duckdb", good_frames(TICKETS)
    build_warehouse(warehouse, {TICKETS: first})
    return warehouse, first


def passed(warehouse: Path, raw: dict[str, list], rules: str) -> None:
    """Record what a passing raw check covered, as the pipeline does."""
    record_many(warehouse, raw_checked_through(raw, [TICKETS], rules), "run")


def land(warehouse: Path, frame: pd.DataFrame, hours: int, bad: bool = False) -> pd.DataFrame:
    """`frame`'s rows landed again `hours` later, with new content hashes; the rows."""
    rows = frame.assign(_loaded_at=frame["_loaded_at"] + pd.Timedelta(hours=hours))
    rows["_content_hash"] = [f"{hours:032x}{i:032x}" for i in range(len(rows))]
    if bad:
        rows.loc[0, "_content_hash"] = "not a sha256"  # a critical failure
    with writer(warehouse) as con:
        con.register("rows", rows)
        con.execute(f"insert into {TICKETS} by name select * from rows")
        con.unregister("rows")
    return rows


def test_a_raw_check_reads_only_what_landed_since_its_last_pass_under_the_same_checks(
    tmp_path: Path, good_frames: Frames
) -> None:
    warehouse, first = tickets_landed(tmp_path, good_frames)

    def check_raw(rules: str) -> tuple[dict, int]:
        """The pipeline's raw step: its window, the check, on a pass what it covered; the
        window and the rows validated."""
        landed = raw_table_facts(warehouse)
        windows = raw_check_windows(warehouse, [TICKETS], rules)
        outcome = check_family("raw_zendesk", warehouse, None, "run", [TICKETS], windows)
        (suite,) = outcome.results
        if not suite.critical_failed:
            passed(warehouse, landed, rules)
        return windows, suite.row_count

    assert check_raw("rules-1") == ({}, len(first))  # never checked: the table whole
    passed_through = {TICKETS: first["_loaded_at"].max().to_pydatetime()}
    later = land(warehouse, first, hours=1, bad=True)  # an hour later, one of its rows bad
    assert check_raw("rules-1") == (passed_through, len(later))  # only the new rows
    # it failed, so the window did not move: the next check reads the same rows again ...
    assert check_raw("rules-1") == (passed_through, len(later))
    # ... and under other checks (a new release, cxloop.yaml changed) the table is read whole
    assert check_raw("rules-2") == ({}, len(first) + len(later))


def test_rows_written_behind_a_raw_check_window_void_it(
    tmp_path: Path, good_frames: Frames
) -> None:
    warehouse, first = tickets_landed(tmp_path, good_frames)
    passed(warehouse, raw_table_facts(warehouse), "r")
    end = first["_loaded_at"].max().to_pydatetime()
    assert raw_check_windows(warehouse, [TICKETS], "r") == {TICKETS: end}
    # a row with an older landing time (another loader, a clock set back): not after the window
    older = first.head(1).assign(_loaded_at=first["_loaded_at"] - pd.Timedelta(days=1))
    older["_content_hash"] = "f" * 64
    with writer(warehouse) as con:
        con.register("older", older)
        con.execute(f"insert into {TICKETS} by name select * from older")
    assert raw_check_windows(warehouse, [TICKETS], "r") == {}  # the table is read as before
    with writer(warehouse) as con:  # an erasure behind the window voids it too
        con.execute(f"delete from {TICKETS} where _content_hash = '{'f' * 64}'")
        con.execute(f"delete from {TICKETS} where _row_number = 1")
    assert raw_check_windows(warehouse, [TICKETS], "r") == {}


def test_a_backlog_larger_than_one_slice_is_validated_whole(
    tmp_path: Path, good_frames: Frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A window holding more rows than a slice: every row validated, the failure in the oldest
    slice found, the counts the slices' sums (`read_slices`, `merged_result`); the table read
    whole the same way without a window."""
    from cxloop.quality import suites

    warehouse, first = tickets_landed(tmp_path, good_frames)
    passed(warehouse, raw_table_facts(warehouse), "r")
    oldest = land(warehouse, first, hours=1, bad=True)  # the bad row lands first ...
    with writer(warehouse) as con:  # ... with a nullable column's nulls and a wrong value
        con.execute(
            f"update {TICKETS} set assignee_id = if(_row_number % 2 = 0, null, 'x') "
            "where _loaded_at > ? and _loaded_at <= ?",
            [first["_loaded_at"].max(), oldest["_loaded_at"].max()],
        )
    newer = [land(warehouse, first, hours=h) for h in (2, 3)]  # ... then two good deliveries
    backlog = len(oldest) + sum(len(rows) for rows in newer)
    monkeypatch.setattr(suites, "RAW_ROW_LIMIT", len(first))  # one delivery a slice
    windows = raw_check_windows(warehouse, [TICKETS], "r")
    (suite,) = check_family("raw_zendesk", warehouse, None, "run", [TICKETS], windows).results
    assert suite.row_count == backlog
    assert suite.critical_failed
    (failed,) = suite.failures("critical")
    assert failed.column == "_content_hash"
    assert (failed.element_count, failed.unexpected_count) == (backlog, 1)
    assert json.loads(failed.unexpected_sample) == ["not a sha256"]
    passing = next(r for r in suite.results if r.success and r.element_count is not None)
    assert passing.element_count == backlog
    # with no window (a first run, new checks, `cxloop check raw`): the whole table, sliced
    (whole,) = check_family("raw_zendesk", warehouse, None, "run", [TICKETS]).results
    assert (whole.row_count, whole.critical_failed) == (len(first) + backlog, True)
    # ... and what one frame of the whole table gives, expectation for expectation
    monkeypatch.setattr(suites, "RAW_ROW_LIMIT", 10**6)
    (one,) = check_family("raw_zendesk", warehouse, None, "run", [TICKETS]).results

    def counts(suite: object) -> list[tuple]:
        return [
            (r.label, r.success, r.element_count, r.unexpected_count, r.missing_count)
            + (None if r.unexpected_percent is None else round(r.unexpected_percent, 9),)
            for r in suite.results  # type: ignore[attr-defined]
        ]

    assert counts(whole) == counts(one)
    (assignee,) = [r for r in one.results if r.column == "assignee_id"]
    assert assignee.missing_count and assignee.unexpected_count  # GE's percent: of non-nulls
