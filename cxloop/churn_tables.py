"""ml.churn_scores: the score flow writes it, the build creates it empty (defined in cxloop.tables).

dbt reads the table as the source `ml.churn_scores` (int_churn_scores__latest, dim_accounts), so
it must exist before the first build, when nothing has been scored yet.
"""

from __future__ import annotations

import duckdb

from cxloop.tables import CHURN_SCORES, ensure_tables

SCORE_COLUMNS = CHURN_SCORES.column_names


def ensure_churn_scores_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ml.churn_scores (empty) if it does not exist yet."""
    ensure_tables(con, [CHURN_SCORES])
