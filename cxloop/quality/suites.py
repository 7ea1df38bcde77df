"""The Great Expectations side of the gate: validate each dataset family, report, record, enforce.

Each family (cxloop.expectations.registry) is validated on pandas frames read from DuckDB; every
expectation result becomes a row of `ops.quality_results`; Data Docs go under `CXLOOP_HOME/gx`.
A failed critical check raises `QualityGateFailed` (after the results are recorded), so the
pipeline stops before it acts or publishes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from cxloop.errors import CxloopError, QualityGateError
from cxloop.quality.results import insert_rows, result_frame, utc_now
from cxloop.sqlnames import quoted
from cxloop.warehouse import fetch_frame, fetch_frames, reader, table_exists

if TYPE_CHECKING:
    from cxloop.expectations.runner import ExpectationResult, SuiteResult

RAW_ROW_LIMIT = 200_000  # raw tables are read and validated this many rows at a time


class QualityGateFailed(QualityGateError):
    """A critical check failed; carries the full report of the run."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        super().__init__(report.failure_message())

    def __reduce__(self) -> tuple[type, tuple[CheckReport]]:
        return (type(self), (self.report,))


@dataclass
class FamilyOutcome:
    """What one family's validation found: suite results and datasets with no table."""

    family: str
    stage: str
    results: list[SuiteResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    """The outcome of one check run, across families."""

    run_id: str
    stage: str
    checked_at: datetime = field(default_factory=utc_now)
    outcomes: list[FamilyOutcome] = field(default_factory=list)
    docs_index: Path | None = None
    rows_recorded: int = 0

    @property
    def results(self) -> list[SuiteResult]:
        return [r for o in self.outcomes for r in o.results]

    @property
    def skipped(self) -> list[str]:
        return [d for o in self.outcomes for d in o.skipped]

    def critical_failures(self) -> list[tuple[str, ExpectationResult]]:
        """(dataset, result) for every failed critical expectation."""
        return [(s.dataset, r) for s in self.results for r in s.failures("critical")]

    @property
    def passed(self) -> bool:
        return not self.critical_failures()

    def failure_message(self) -> str:
        """One line naming each failed dataset and its failed critical checks."""
        by_dataset: dict[str, list[str]] = {}
        for dataset, result in self.critical_failures():
            what = f"{result.label}: {result.description}" if result.description else result.label
            count = "" if result.unexpected_count is None else f" [{result.unexpected_count} rows]"
            by_dataset.setdefault(dataset, []).append(what + count)
        parts = [f"{dataset} ({'; '.join(checks)})" for dataset, checks in by_dataset.items()]
        return (
            f"critical data-quality checks failed in {len(by_dataset)} dataset(s): "
            + ", ".join(parts)
            + f" (run {self.run_id}; details in ops.quality_results)"
        )

    def log_line(self) -> str:
        """What was checked and what failed, for the run log."""
        failed = ", ".join(sorted({d for d, _ in self.critical_failures()})) or "none"
        return (
            f"Checked {len(self.results)} datasets ({len(self.skipped)} skipped); "
            f"critical failures: {failed}; Data Docs: {self.docs_index}"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for the CLI and the pipeline report."""
        return {
            "run_id": self.run_id,
            "stage": self.stage,
            "passed": self.passed,
            "datasets_checked": len(self.results),
            "expectations": sum(len(s.results) for s in self.results),
            "critical_failed": sorted({d for d, _ in self.critical_failures()}),
            "warnings_failed": {
                s.dataset: [r.label for r in s.failures("warning")]
                for s in self.results
                if s.failures("warning")
            },
            "skipped": self.skipped,
            "rows_recorded": self.rows_recorded,
            "data_docs": str(self.docs_index) if self.docs_index else None,
        }


def stage_of(family: str) -> str:
    """'raw' for raw_* families, 'marts' otherwise."""
    return "raw" if family.startswith("raw_") else "marts"


def read_slices(
    con: duckdb.DuckDBPyConnection, dataset: str, landed_after: datetime | None = None
) -> Iterator[pd.DataFrame] | None:
    """The columns `dataset`'s checks read, as pandas frames read one at a time; None if the
    table is absent.

    A table is one frame; a raw table is read in frames of RAW_ROW_LIMIT rows from one query
    as it streams (`fetch_frames`), so it is validated whole with one frame in memory at a
    time, and with `landed_after` only its rows landed after that time (`_loaded_at`: those its
    last passing check did not see).
    """
    from cxloop.expectations.registry import columns_read

    schema, table = dataset.split(".", 1)
    if not table_exists(con, schema, table):
        return None
    relation = f"{quoted(schema)}.{quoted(table)}"
    columns = [d[0] for d in con.execute(f"select * from {relation} limit 0").description]
    selected = ", ".join(quoted(c) for c in columns_read(dataset, columns))
    sql = f"select {selected} from {relation}"
    if schema != "raw" or "_loaded_at" not in columns:
        return iter([fetch_frame(con, sql)])
    if landed_after is None:
        return fetch_frames(con, sql, rows=RAW_ROW_LIMIT)
    return fetch_frames(con, f"{sql} where _loaded_at > ?", [landed_after], RAW_ROW_LIMIT)


def check_family(
    family: str,
    warehouse_path: Path,
    gx_dir: Path | None,
    run_id: str,
    only: list[str] | None = None,
    landed_after: dict[str, datetime] | None = None,
) -> FamilyOutcome:
    """Validate every dataset of one family that exists in the warehouse (or those in `only`).

    A raw table is read and validated in frames of RAW_ROW_LIMIT rows (`read_slices`), their
    results merged into one (`merged_result`); `landed_after`: per raw dataset, validate only
    the rows landed after that time. One connection reads the whole family (opening the file
    costs ~40 ms a time).
    """
    from cxloop.expectations.registry import datasets_in
    from cxloop.expectations.runner import merged_result, runner_for

    runner = runner_for(gx_dir)
    outcome = FamilyOutcome(family=family, stage=stage_of(family))
    wanted = [d for d in datasets_in(family) if only is None or d in only]
    if not wanted:
        return outcome
    with reader(warehouse_path) as con:
        for dataset in wanted:
            frames = read_slices(con, dataset, (landed_after or {}).get(dataset))
            if frames is None:
                outcome.skipped.append(dataset)
                continue
            parts = []
            for frame in frames:  # one frame in memory at a time
                parts.append(runner.validate(dataset, frame, run_name=run_id))
                del frame
            outcome.results.append(merged_result(parts))
    return outcome


def result_rows(report: CheckReport) -> pd.DataFrame:
    """One row per expectation result, shaped like ops.quality_results."""
    return result_frame(
        [
            {
                "run_id": report.run_id,
                "checked_at": report.checked_at,
                "stage": outcome.stage,
                "dataset": suite.dataset,
                "check_name": r.expectation_type,
                "column_name": r.column,
                "severity": r.severity,
                "success": r.success,
                "element_count": r.element_count,
                "unexpected_count": r.unexpected_count,
                "unexpected_percent": r.unexpected_percent,
                "details": json.dumps(
                    {
                        "description": r.description,
                        "unexpected_sample": json.loads(r.unexpected_sample),
                        **r.details,
                    },
                    default=str,
                ),
            }
            for outcome in report.outcomes
            for suite in outcome.results
            for r in suite.results
        ]
    )


def record_results(warehouse_path: Path, report: CheckReport) -> int:
    """Append the run's results to ops.quality_results in one transaction; the count."""
    return insert_rows(warehouse_path, result_rows(report))


def render_docs(gx_dir: Path | None) -> Path | None:
    """Render Data Docs for everything validated since the last render; the index page."""
    from cxloop.expectations.runner import runner_for

    return runner_for(gx_dir).build_docs()


def docs_index(gx_dir: Path | None) -> Path | None:
    """Where the Data Docs home page is (rendered or not yet); None without a GE folder."""
    from cxloop.expectations.runner import runner_for

    return runner_for(gx_dir).docs_index()


def enforce_gate(report: CheckReport) -> None:
    """Raise QualityGateFailed when any critical expectation failed."""
    if not report.passed:
        raise QualityGateFailed(report)


def families_for(stage: str) -> tuple[str, ...]:
    """The families checked at `stage`; a clear error for an unknown stage."""
    from cxloop.expectations.registry import UnknownDatasetError
    from cxloop.expectations.registry import families_for as registry_families

    try:
        return registry_families(stage)
    except UnknownDatasetError as exc:
        raise CxloopError(str(exc)) from None


def require_warehouse(warehouse_path: Path) -> Path:
    """The warehouse file, which must exist (checking must not create an empty one)."""
    path = Path(warehouse_path)
    if not path.is_file():
        raise CxloopError(f"{path}: warehouse not found (run ingest and build first)")
    return path
