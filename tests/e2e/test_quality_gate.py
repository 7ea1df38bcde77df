"""A failed critical check blocks the pipeline before anything is scored, sent or published."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from cxloop.demo.generator import generate
from cxloop.flows.act import act
from cxloop.flows.pipeline import pipeline
from cxloop.flows.publish import publish
from cxloop.quality.gate import MartsNotCheckedError
from cxloop.settings import Settings
from cxloop.warehouse import connect


def test_a_failed_gate_sends_and_publishes_nothing(
    tmp_path: Path, cx_home: Path, prefect_harness: None
) -> None:
    sources = tmp_path / "sources"
    generate(sources, scale=0.02, seed=3)
    paths = Settings().paths
    # Raw rows that bypassed ingest: two rows with one content hash break a critical check.
    con = connect(paths.warehouse)
    con.execute(
        'create table raw.salesforce__account ("Id" varchar, "Name" varchar, _batch_id varchar, '
        "_loaded_at timestamp, _source varchar, _source_file varchar, _row_number bigint, "
        "_content_hash varchar)"
    )
    row = (
        "001000000000001AAA",
        "Dup",
        "b1",
        datetime(2026, 1, 1),
        "salesforce",
        "x.csv",
        1,
        "a" * 64,
    )
    con.executemany("insert into raw.salesforce__account values (?,?,?,?,?,?,?,?)", [row, row])
    con.close()

    report = pipeline(str(sources), now=datetime(2026, 11, 2, 12, tzinfo=UTC))

    assert report["status"] == "blocked"
    assert "raw.salesforce__account" in report["blocked"]
    assert "_content_hash" in report["blocked"]
    assert "build" not in report and "act" not in report and "publish" not in report
    assert not list(paths.outbox.glob("*.eml"))
    assert not (paths.bi / "cx.duckdb").exists()
    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        runs = con.execute("select status from ops.pipeline_runs").fetchall()
        failed_checks = con.execute(
            "select count(*) from ops.quality_results where not success and severity = 'critical'"
        ).fetchone()[0]
    finally:
        con.close()
    assert runs == [("blocked",)] and failed_checks >= 1
    # the UI and the failed-run alerts see it: a Failed quality-gate run naming the check
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        gate_runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["quality-gate"]))
        )
    assert any(
        r.state and r.state.is_failed() and "raw.salesforce__account" in (r.state.message or "")
        for r in gate_runs
    )
    # the next scheduled act and publish (no parameters) refuse too: nothing was built
    with pytest.raises(MartsNotCheckedError, match="act refused: .*no build recorded"):
        act()
    with pytest.raises(MartsNotCheckedError, match="publish refused"):
        publish()
    assert not list(paths.outbox.glob("*.eml")) and not (paths.bi / "cx.duckdb").exists()
    # the next run reads the same rows again (a raw check's window moves only when it passes)
    again = pipeline(str(sources), now=datetime(2026, 11, 2, 13, tzinfo=UTC))
    assert again["status"] == "blocked" and "raw.salesforce__account" in again["blocked"]


@pytest.mark.parametrize("docs_fail", [False, True], ids=["docs-rendered", "docs-fail-too"])
def test_a_failed_run_is_recorded_and_its_error_raised(
    tmp_path: Path,
    cx_home: Path,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
    docs_fail: bool,
) -> None:
    """A stage's error (here an undecodable survey export at ingest) is raised as it was, and
    the run is kept in ops.pipeline_runs as `failed` with that error, its Data Docs rendered;
    when the Data Docs fail too, the run is still recorded and its own error raised."""
    import shutil

    from cxloop.errors import CxloopError
    from cxloop.flows import pipeline as pipeline_module

    if docs_fail:

        def broken_docs(gx: Path) -> None:
            raise OSError("no space left for Data Docs")

        monkeypatch.setattr(pipeline_module, "render_docs_task", broken_docs)

    sources = tmp_path / "sources"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "sources", sources)
    (sources / "qualtrics/nps_relational_2024.csv").write_bytes(
        "Q1\n\u0645\u0631\u062d\u0628\u0627\n".encode("cp1256")
    )
    paths = Settings().paths

    with pytest.raises(CxloopError, match="nps_relational_2024.csv") as raised:
        pipeline(str(sources), now=datetime(2026, 11, 2, 12, tzinfo=UTC))

    con = duckdb.connect(str(paths.warehouse), read_only=True)
    try:
        runs = con.execute(
            "select status, summary->>'$.error', summary->'$.durations' from ops.pipeline_runs"
        ).fetchall()
    finally:
        con.close()
    assert len(runs) == 1
    status, error, durations = runs[0]
    assert status == "failed"
    assert "nps_relational_2024.csv" in error and str(raised.value) in error
    assert "ingest" in durations and "data_docs" in durations
