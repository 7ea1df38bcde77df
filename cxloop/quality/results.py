"""Writing the gate's results: rows shaped like ops.quality_results (cxloop.tables), appended."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cxloop.tables import QUALITY_RESULTS, ensure_tables
from cxloop.warehouse import writer


def utc_now() -> datetime:
    """Now in UTC, as the naive timestamp the warehouse stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def result_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Rows as a frame with exactly the columns of ops.quality_results, in order."""
    return pd.DataFrame(rows, columns=list(QUALITY_RESULTS.column_names))


def insert_rows(warehouse: Path, frame: pd.DataFrame) -> int:
    """Append rows shaped like ops.quality_results in one transaction; the count appended."""
    if frame.empty:
        return 0
    with writer(warehouse) as con:
        ensure_tables(con, [QUALITY_RESULTS])
        con.register("quality_rows", frame)
        con.execute(
            f"insert into {QUALITY_RESULTS.qualified} ({', '.join(QUALITY_RESULTS.column_names)}) "
            "select run_id, checked_at::timestamp, stage, dataset, check_name, column_name, "
            "severity, success, element_count::bigint, unexpected_count::bigint, "
            "unexpected_percent::double, details::json from quality_rows"
        )
        con.unregister("quality_rows")
    return len(frame)
