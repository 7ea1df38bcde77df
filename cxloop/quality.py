"""dbt test results and source freshness as rows of `ops.quality_results`, beside GE's.

dbt's data and unit tests run inside `dbt build`; `record_dbt_results` keeps one row per test
(stage `dbt`). Freshness is `dbt source freshness`: the age of the source's newest delivery (a
file landed or an unchanged export delivered again, wall clock; macros/freshness.sql) against
its `warn_after` / `error_after` (cxloop.yaml `freshness_hours`); a source past `error_after` is
stale and `enforce_freshness` raises `StaleSourcesError` naming it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from cxloop.errors import QualityGateError
from cxloop.tables import QUALITY_RESULTS, ensure_tables
from cxloop.warehouse import release_dbt_connections, writer

RESULT_COLUMNS = [
    "run_id", "checked_at", "stage", "dataset", "check_name", "column_name", "severity",
    "success", "element_count", "unexpected_count", "unexpected_percent", "details",
]  # fmt: skip
TEST_TYPES = {"test", "unit_test"}


class StaleSourcesError(QualityGateError):
    """One or more sources are past their freshness `error_after`: the gate stays closed."""


@dataclass(frozen=True)
class SourceFreshness:
    """The freshness of one source table."""

    source: str  # <source>.<table>, as dbt names it
    relation: str  # schema.identifier in the warehouse
    status: str  # pass / warn / error / runtime error / empty
    max_loaded_at: datetime | None
    age_hours: float | None
    message: str = ""

    @property
    def is_stale(self) -> bool:
        return self.status in {"error", "runtime error"}


def utc_now() -> datetime:
    """Now in UTC, as the naive timestamp the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def _status(node_result: Any) -> str:
    return str(getattr(node_result.status, "value", node_result.status)).lower()


def _tested_dataset(node: Any) -> str:
    """The model a dbt test is attached to, as schema.name ('?' when unknown)."""
    attached = getattr(node, "attached_node", None) or next(
        iter(getattr(getattr(node, "depends_on", None), "nodes", []) or []), None
    )
    if not attached:
        return "?"
    return attached.split(".")[-1] if attached.count(".") < 2 else attached.split(".", 2)[-1]


def dbt_result_rows(result: Any, run_id: str, checked_at: datetime) -> pd.DataFrame:
    """One ops.quality_results row per dbt data test or unit test in a dbt run result."""
    rows = []
    for node_result in getattr(result, "results", None) or []:
        node = node_result.node
        if getattr(node, "resource_type", None) not in TEST_TYPES:
            continue
        status = _status(node_result)
        severity = str(getattr(getattr(node, "config", None), "severity", "ERROR") or "ERROR")
        rows.append(
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "stage": "dbt",
                "dataset": _tested_dataset(node),
                "check_name": node.name,
                "column_name": getattr(node, "column_name", None),
                "severity": "warning" if severity.lower() == "warn" else "critical",
                "success": status in {"pass", "success"},
                "element_count": None,
                "unexpected_count": getattr(node_result, "failures", None),
                "unexpected_percent": None,
                "details": json.dumps(
                    {
                        "unique_id": node.unique_id,
                        "resource_type": str(node.resource_type),
                        "status": status,
                        "message": (node_result.message or "").strip(),
                    },
                    default=str,
                ),
            }
        )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def insert_rows(warehouse: Path, frame: pd.DataFrame) -> int:
    """Append rows shaped like ops.quality_results in one transaction."""
    if frame.empty:
        return 0
    with writer(warehouse) as con:
        con.execute("create schema if not exists ops")
        ensure_tables(con, [QUALITY_RESULTS])
        con.register("quality_rows", frame)
        con.execute(
            f"insert into ops.quality_results ({', '.join(RESULT_COLUMNS)}) "
            "select run_id, checked_at::timestamp, stage, dataset, check_name, column_name, "
            "severity, success, element_count::bigint, unexpected_count::bigint, "
            "unexpected_percent::double, details::json from quality_rows"
        )
        con.unregister("quality_rows")
    return len(frame)


def record_dbt_results(warehouse: Path, result: Any, run_id: str) -> int:
    """Store the dbt tests of a run result as ops.quality_results rows (stage 'dbt')."""
    return insert_rows(warehouse, dbt_result_rows(result, run_id, utc_now()))


def _freshness_row(node_result: Any) -> SourceFreshness:
    node = node_result.node
    max_loaded = getattr(node_result, "max_loaded_at", None)
    age = getattr(node_result, "age", None)
    return SourceFreshness(
        source=f"{node.source_name}.{node.name}",
        relation=f"{node.schema}.{node.identifier}",
        status=_status(node_result),
        max_loaded_at=max_loaded.replace(tzinfo=None) if max_loaded else None,
        age_hours=round(age / 3600, 2) if age is not None else None,
        message=(getattr(node_result, "message", None) or "").strip(),
    )


def run_source_freshness(
    warehouse: Path,
    project_dir: Path,
    target_dir: Path,
    dbt_vars: dict[str, object] | None = None,
) -> list[SourceFreshness]:
    """`dbt source freshness` in-process: one result per source table with freshness."""
    from dbt.cli.main import dbtRunner

    os.environ["CXLOOP_WAREHOUSE"] = str(warehouse)
    args = ["source", "freshness", "--project-dir", str(project_dir)]
    args += ["--profiles-dir", str(project_dir), "--target-path", str(target_dir), "--quiet"]
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    try:
        res = dbtRunner().invoke(args)
    finally:
        release_dbt_connections()
    if res.result is None:
        raise QualityGateError(f"dbt source freshness could not run: {res.exception}")
    return [_freshness_row(r) for r in res.result.results]


def freshness_rows(rows: list[SourceFreshness], run_id: str, checked_at: datetime) -> pd.DataFrame:
    """ops.quality_results rows (stage 'freshness') for source freshness results."""
    frame = pd.DataFrame(
        [
            {
                "run_id": run_id,
                "checked_at": checked_at,
                "stage": "freshness",
                "dataset": r.relation,
                "check_name": "source_freshness",
                "column_name": "delivered_at",
                "severity": "critical" if r.is_stale else "warning",
                "success": r.status in {"pass", "empty"},
                "element_count": None,
                "unexpected_count": None,
                "unexpected_percent": None,
                "details": json.dumps(
                    {
                        "source": r.source,
                        "status": r.status,
                        "max_loaded_at": r.max_loaded_at,
                        "age_hours": r.age_hours,
                        "message": r.message,
                    },
                    default=str,
                ),
            }
            for r in rows
        ],
        columns=RESULT_COLUMNS,
    )
    return frame


def stale_message(rows: list[SourceFreshness]) -> str | None:
    """One line naming every stale source and how old its data is; None when all are fresh."""
    stale = [r for r in rows if r.is_stale]
    if not stale:
        return None
    parts = [
        f"{r.source} (newest delivery {r.max_loaded_at}, {r.age_hours} h old)"
        if r.max_loaded_at
        else f"{r.source} ({r.message or r.status})"
        for r in stale
    ]
    return f"stale sources, past their freshness error_after: {', '.join(parts)}"


def enforce_freshness(rows: list[SourceFreshness]) -> None:
    """Raise StaleSourcesError naming the stale sources, if any."""
    message = stale_message(rows)
    if message:
        raise StaleSourcesError(message)


def empty_tables(warehouse: Path, relations: list[str]) -> frozenset[str]:
    """The relations (schema.table) with no rows: a system not landed yet, never 'stale'."""
    from cxloop.warehouse import reader

    empty = set()
    with reader(warehouse) as con:
        for relation in relations:
            schema, table = relation.split(".", 1)
            if con.execute(f'select count(*) = 0 from "{schema}"."{table}"').fetchone()[0]:
                empty.add(relation)
    return frozenset(empty)


def check_freshness(
    warehouse: Path,
    project_dir: Path,
    home: Path,
    run_id: str,
    dbt_vars: dict[str, object] | None = None,
) -> list[SourceFreshness]:
    """Run dbt source freshness, record its rows (stage 'freshness'); return the results.

    `dbt_vars` carries the thresholds from cxloop.yaml (flows.build.dbt_vars). Raw tables of a
    system nothing has landed from yet are created empty first (reported `empty`, not an error).
    """
    from cxloop.sources.landing import ensure_raw_tables
    from cxloop.warehouse import writer

    with writer(warehouse) as con:
        ensure_raw_tables(con)
    rows = run_source_freshness(warehouse, project_dir, home / "dbt" / "freshness", dbt_vars)
    # dbt reports an empty table as max_loaded_at 0001-01-01 (status error)
    unknown = [r.relation for r in rows if r.max_loaded_at is None or r.max_loaded_at.year == 1]
    empty = empty_tables(warehouse, unknown) if unknown else frozenset()
    rows = [
        SourceFreshness(r.source, r.relation, "empty", None, None, "no rows landed")
        if r.relation in empty
        else r
        for r in rows
    ]
    insert_rows(warehouse, freshness_rows(rows, run_id, utc_now()))
    return rows
