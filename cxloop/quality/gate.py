"""The gate as stored state: what each build changed, what each check judged, who may read.

Every build (dbt) and scoring run is a row of ops.builds, with the datasets it changed; every
check writes one ops.gate_verdicts row per dataset it validated, naming the latest build (the
state it judged). `act` and `publish` call `require_checked_marts` and refuse, naming the
failed checks, unless the latest build succeeded and every checked dataset's latest verdict
passed and judged a state at least as new as the last change to that dataset, and no raw
table's latest raw verdict failed (a build run by hand after a blocked pipeline builds from
the failed batch). Both tables are a few rows per run: the gate copies nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cxloop.errors import QualityGateError
from cxloop.quality.results import utc_now
from cxloop.tables import BUILDS, GATE_VERDICTS, ensure_tables
from cxloop.warehouse import reader, table_exists, writer

if TYPE_CHECKING:
    from cxloop.dbt import DbtRun
    from cxloop.quality.suites import CheckReport

BUILT_TYPES = frozenset({"model", "seed", "snapshot"})
GATED_STAGE = "marts"


class MartsNotCheckedError(QualityGateError):
    """The marts act and publish would read have no passing check covering their latest build."""


@dataclass
class GateState:
    """The gate as read from the warehouse: passed, or the reasons it is closed."""

    build_id: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def message(self, consumer: str) -> str:
        """One line: who refuses and why (every failed dataset and check)."""
        return (
            f"{consumer} refused: the marts of build {self.build_id or '(none)'} are not cleared "
            f"by a passing marts check: {'; '.join(self.problems)} "
            "(run `cxloop build` and `cxloop check --stage marts`; details in ops.gate_verdicts)"
        )


def built_datasets(runs: Iterable[DbtRun]) -> list[str]:
    """`schema.table` of every model, seed or snapshot the invocations (re)built."""
    return sorted(
        {
            node.relation
            for run in runs
            for node in run.nodes
            if node.resource_type in BUILT_TYPES and node.relation and node.status == "success"
        }
    )


def start_build(warehouse: Path, build_id: str, selection: str | None) -> None:
    """Record a build as running: until it finishes well, the gate is closed."""
    with writer(warehouse) as con:
        ensure_tables(con, [BUILDS])
        con.execute(
            f"insert or replace into {BUILDS.qualified} values (?, ?, null, 'running', ?, null)",
            [build_id, utc_now(), selection],
        )


def finish_build(warehouse: Path, build_id: str, datasets: list[str] | None, ok: bool) -> None:
    """Record how a build ended and what it changed (None: unknown, i.e. everything)."""
    with writer(warehouse) as con:
        con.execute(
            f"update {BUILDS.qualified} set finished_at = ?, status = ?, datasets = ? "
            "where build_id = ?",
            [utc_now(), "succeeded" if ok else "failed", datasets, build_id],
        )


@contextlib.contextmanager
def recorded_build(warehouse: Path, build_id: str, selection: str | None) -> Iterator[list[str]]:
    """Record a build around its body; the body appends the datasets it changed to the list.

    On an exception the build is recorded failed with unknown datasets (the marts may be half
    rebuilt), so the gate stays closed until a later build succeeds and is checked.
    """
    start_build(warehouse, build_id, selection)
    datasets: list[str] = []
    try:
        yield datasets
    except BaseException:
        finish_build(warehouse, build_id, None, ok=False)
        raise
    finish_build(warehouse, build_id, sorted(set(datasets)), ok=True)


def latest_build(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(build_id, status) of the most recently started build, or None."""
    row = con.execute(
        f"select build_id, status from {BUILDS.qualified} order by started_at desc limit 1"
    ).fetchone()
    return (row[0], row[1]) if row else None


def verdict_rows(report: CheckReport, build_id: str | None) -> list[list[object]]:
    """One ops.gate_verdicts row per dataset the report validated."""
    rows = []
    for outcome in report.outcomes:
        for suite in outcome.results:
            failed = [r.label for r in suite.failures("critical")]
            values = {
                "check_run_id": report.run_id,
                "checked_at": report.checked_at,
                "stage": outcome.stage,
                "dataset": suite.dataset,
                "build_id": build_id,
                "passed": not failed,
                "failed_checks": failed,
            }
            rows.append(GATE_VERDICTS.row(values))
    return rows


def record_verdicts(warehouse: Path, report: CheckReport) -> int:
    """Store the report's verdicts against the latest build; the number of rows stored."""
    with writer(warehouse) as con:
        latest = latest_build(con)
        rows = verdict_rows(report, latest[0] if latest else None)
        if rows:
            con.executemany(GATE_VERDICTS.insert_sql, rows)
    return len(rows)


# For every dataset a marts check ever judged and that still exists: its latest verdict, and
# the latest build that changed it (a build with unknown datasets changed everything).
GATE_SQL = f"""
with judged as (
    select distinct dataset from {GATE_VERDICTS.qualified} where stage = $stage
),
existing as (
    select judged.dataset from judged
    join information_schema.tables t
      on t.table_catalog = current_database()
     and t.table_schema || '.' || t.table_name = judged.dataset
),
last_verdict as (
    select v.dataset, v.passed, v.failed_checks, v.check_run_id, b.started_at as judged_started
    from {GATE_VERDICTS.qualified} v
    left join {BUILDS.qualified} b using (build_id)
    where v.stage = $stage
    qualify row_number() over (partition by v.dataset order by v.checked_at desc) = 1
),
last_change as (
    select e.dataset, b.build_id as changed_by, b.started_at as changed_started
    from existing e
    join {BUILDS.qualified} b on b.datasets is null or list_contains(b.datasets, e.dataset)
    qualify row_number() over (partition by e.dataset order by b.started_at desc) = 1
)
select e.dataset, v.passed, v.failed_checks, v.check_run_id, c.changed_by,
       c.changed_started is not null
       and (v.judged_started is null or v.judged_started < c.changed_started) as is_stale
from existing e
left join last_verdict v using (dataset)
left join last_change c using (dataset)
order by e.dataset
"""


# Every raw table whose latest raw verdict failed (and that still exists): marts built from it
# may carry what its checks caught, whatever the marts' own checks say.
RAW_SQL = f"""
select dataset, failed_checks, check_run_id from (
    select v.dataset, v.passed, v.failed_checks, v.check_run_id
    from {GATE_VERDICTS.qualified} v
    where v.stage = 'raw'
    qualify row_number() over (partition by v.dataset order by v.checked_at desc) = 1
) last
join information_schema.tables t
  on t.table_catalog = current_database() and t.table_schema || '.' || t.table_name = dataset
where not passed
order by dataset
"""


def gate_state(con: duckdb.DuckDBPyConnection, stage: str = GATED_STAGE) -> GateState:
    """Read the gate from the warehouse (a few small queries; nothing is copied)."""
    latest = latest_build(con) if table_exists(con, "ops", "builds") else None
    if latest is None:
        return GateState(None, ["no build recorded in ops.builds"])
    state = GateState(latest[0])
    if latest[1] != "succeeded":
        state.problems.append(f"build {latest[0]} {latest[1]}")
    has_verdicts = table_exists(con, "ops", "gate_verdicts")
    rows = con.execute(GATE_SQL, {"stage": stage}).fetchall() if has_verdicts else []
    if not rows:
        state.problems.append(f"no {stage} check recorded in ops.gate_verdicts")
    for dataset, passed, failed_checks, check_run_id, changed_by, is_stale in rows:
        if is_stale:  # whatever the last check said, it judged an older state
            state.problems.append(f"{dataset} changed by build {changed_by} after its last check")
        elif passed is None:
            state.problems.append(f"{dataset} never checked")
        elif not passed:
            state.problems.append(
                f"{dataset} failed {_named(failed_checks)} (check {check_run_id})"
            )
    if stage == GATED_STAGE and has_verdicts:  # a batch that failed its raw check, built anyway
        for dataset, failed_checks, check_run_id in con.execute(RAW_SQL).fetchall():
            state.problems.append(
                f"{dataset} failed {_named(failed_checks)} (raw check {check_run_id}; the marts "
                "may be built from those rows: fix or erase them, then `cxloop check --stage raw`)"
            )
    return state


def _named(failed_checks: list[str] | None) -> str:
    """The failed checks of a verdict, as its problem line names them."""
    return ", ".join(failed_checks or []) or "critical checks"


def require_checked_marts(con: duckdb.DuckDBPyConnection, consumer: str) -> GateState:
    """The gate's state, or MartsNotCheckedError naming every failed dataset and check."""
    state = gate_state(con)
    if not state.passed:
        raise MartsNotCheckedError(state.message(consumer))
    return state


def require_gate(warehouse: Path, consumer: str) -> dict[str, object]:
    """Open the warehouse, read the gate, refuse (MartsNotCheckedError) unless it passed."""
    if not Path(warehouse).is_file():
        raise MartsNotCheckedError(f"{consumer} refused: {warehouse}: no warehouse (run build)")
    with reader(warehouse) as con:
        state = require_checked_marts(con, consumer)
    return {"build_id": state.build_id, "passed": True}
