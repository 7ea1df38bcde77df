"""dbt's data and unit tests as rows of ops.quality_results (stage `dbt`), beside GE's."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd

from cxloop.dbt import DbtRun, NodeResult
from cxloop.quality.results import insert_rows, result_frame, utc_now

TEST_TYPES = frozenset({"test", "unit_test"})


def tested_dataset(node: NodeResult) -> str:
    """The name of the node a dbt test is attached to ('?' when unknown)."""
    attached = node.attached_to
    if not attached:
        return "?"
    return attached.split(".")[-1] if attached.count(".") < 2 else attached.split(".", 2)[-1]


def dbt_result_rows(run: DbtRun, run_id: str, checked_at: datetime) -> pd.DataFrame:
    """One ops.quality_results row per dbt data test or unit test of an invocation."""
    rows = [
        {
            "run_id": run_id,
            "checked_at": checked_at,
            "stage": "dbt",
            "dataset": tested_dataset(node),
            "check_name": node.name,
            "column_name": node.column_name,
            "severity": "warning" if (node.severity or "ERROR").lower() == "warn" else "critical",
            "success": node.status in {"pass", "success"},
            "element_count": None,
            "unexpected_count": node.failures,
            "unexpected_percent": None,
            "details": json.dumps(
                {
                    "unique_id": node.unique_id,
                    "resource_type": node.resource_type,
                    "status": node.status,
                    "message": node.message,
                },
                default=str,
            ),
        }
        for node in run.nodes
        if node.resource_type in TEST_TYPES
    ]
    return result_frame(rows)


def record_dbt_results(warehouse: Path, run: DbtRun, run_id: str) -> int:
    """Store the dbt tests of an invocation as ops.quality_results rows; the count stored."""
    return insert_rows(warehouse, dbt_result_rows(run, run_id, utc_now()))
