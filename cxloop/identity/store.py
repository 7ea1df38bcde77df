"""Identity tables in the warehouse: read person records and the last map, write the new one."""

from __future__ import annotations

import duckdb
import pandas as pd

from cxloop.errors import CxloopError
from cxloop.tables import IDENTITY_CHANGES, IDENTITY_CLUSTERS, IDENTITY_TABLES, ensure_tables
from cxloop.warehouse import table_exists

PERSON_RECORDS = ("intermediate", "int_person_records__unioned")
CLUSTERS = ("intermediate", "identity_clusters")
CLUSTER_COLUMNS = list(IDENTITY_CLUSTERS.column_names)  # defined in cxloop.tables


class IdentityError(CxloopError):
    """Identity resolution cannot run: its input table is missing."""


def ensure_identity_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the identity output tables when absent (dbt declares them as sources)."""
    ensure_tables(con, IDENTITY_TABLES)


def load_person_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The phase-1 dbt model, or an error naming it when dbt has not built it."""
    if not table_exists(con, *PERSON_RECORDS):
        raise IdentityError(
            "intermediate.int_person_records__unioned does not exist: run the dbt phase 1 "
            "(dbt build --select +int_person_records__unioned) before identity resolution"
        )
    return con.execute(
        "select * from intermediate.int_person_records__unioned order by source, source_record_id"
    ).df()


def load_previous(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The last run's map: record key -> customer_id (empty on the first run)."""
    if not table_exists(con, *CLUSTERS):
        return {}
    rows = con.execute(
        "select source || ':' || source_record_id, customer_id from intermediate.identity_clusters"
    ).fetchall()
    return dict(rows)


def save(con: duckdb.DuckDBPyConnection, clusters: pd.DataFrame, changes: pd.DataFrame) -> None:
    """Replace the cluster table with `clusters`; append `changes` (stable_ids.change_log)."""
    out = clusters[CLUSTER_COLUMNS]
    ensure_identity_tables(con)
    con.execute("delete from intermediate.identity_clusters")
    con.register("identity_out", out)
    con.execute(f"insert into {IDENTITY_CLUSTERS.sql_name} by name select * from identity_out")
    con.unregister("identity_out")
    if len(changes):
        frame = changes[list(IDENTITY_CHANGES.column_names)]
        con.register("identity_changes_out", frame)
        con.execute(
            f"insert into {IDENTITY_CHANGES.sql_name} by name select * from identity_changes_out"
        )
        con.unregister("identity_changes_out")
