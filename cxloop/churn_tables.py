"""The DDL of ml.churn_scores in one place: the score flow writes it, the build creates it empty.

dbt reads the table as the source `ml.churn_scores` (int_churn_scores__latest, dim_accounts), so
it must exist before the first build, when nothing has been scored yet.
"""

from __future__ import annotations

import duckdb

SCORES_DDL = """
create table if not exists ml.churn_scores (
    account_id         varchar not null,
    scored_at          timestamp not null,   -- UTC
    model_version      varchar not null,
    churn_probability  double not null,
    risk_band          varchar not null,     -- high / medium / low
    top_drivers        varchar not null,     -- JSON list of {feature, value, contribution}
    snapshot_date      date not null         -- the snapshot scored; with model_version, the run
)
"""
SCORE_COLUMNS = (
    "account_id",
    "scored_at",
    "model_version",
    "churn_probability",
    "risk_band",
    "top_drivers",
    "snapshot_date",
)


def ensure_churn_scores_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ml.churn_scores (empty) if it does not exist yet."""
    con.execute("create schema if not exists ml")
    con.execute(SCORES_DDL)
