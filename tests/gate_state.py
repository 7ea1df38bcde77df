"""Test helper: record that a hand-made warehouse's marts were built and passed their check.

For tests about something else (playbooks, the snapshot) on small hand-made marts: the gate
(cxloop.quality.gate) is then open, as after `cxloop build` and a passing `cxloop check`.
tests/quality/test_gate.py runs the real check instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from cxloop.quality.gate import finish_build, start_build
from cxloop.quality.results import utc_now
from cxloop.tables import GATE_VERDICTS
from cxloop.warehouse import reader, writer


def marts_in(warehouse: Path) -> list[str]:
    """`schema.table` of every table in marts and ml."""
    with reader(warehouse) as con:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'ml') and table_catalog = current_database()"
        ).fetchall()
    return sorted(r[0] for r in rows)


def mark_checked(warehouse: Path, datasets: Sequence[str] | None = None) -> str:
    """A succeeded build of `datasets` (default: every mart) and a passing verdict for each."""
    names = list(datasets) if datasets is not None else marts_in(warehouse)
    build_id = f"test-build-{uuid.uuid4()}"
    start_build(warehouse, build_id, None)
    finish_build(warehouse, build_id, names, ok=True)
    with writer(warehouse) as con:
        con.executemany(
            GATE_VERDICTS.insert_sql,
            [
                GATE_VERDICTS.row(
                    {
                        "check_run_id": f"test-check-{build_id}",
                        "checked_at": utc_now(),
                        "stage": "marts",
                        "dataset": name,
                        "build_id": build_id,
                        "passed": True,
                        "failed_checks": [],
                    }
                )
                for name in names
            ],
        )
    return build_id
