"""Identity tables in the warehouse: read person records and the last map, write the new one."""

from __future__ import annotations

import duckdb
import pandas as pd

from cxloop.errors import CxloopError
from cxloop.identity.normalize import PHONE_INPUTS, PHONE_OUTPUTS, RECORD_COLUMNS
from cxloop.tables import IDENTITY_CHANGES, IDENTITY_CLUSTERS, IDENTITY_TABLES, ensure_tables
from cxloop.warehouse import fetch_frame, table_exists

PERSON_RECORDS = ("intermediate", "int_person_records__unioned")
CLUSTERS = ("intermediate", "identity_clusters")
CLUSTER_COLUMNS = list(IDENTITY_CLUSTERS.column_names)  # defined in cxloop.tables


class IdentityError(CxloopError):
    """Identity resolution cannot run: its input table is missing."""


def ensure_identity_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the identity output tables when absent (dbt declares them as sources)."""
    ensure_tables(con, IDENTITY_TABLES)


def phone_input_sql(alias: str) -> str:
    """SQL for the md5 of a record's three phone inputs (`identity_clusters.phone_input`)."""
    parts = ", ".join(f"{alias}.{c}::varchar" for c in PHONE_INPUTS)
    return f"md5(to_json([{parts}]))"


def load_person_records(con: duckdb.DuckDBPyConnection, reuse_phones: bool = False) -> pd.DataFrame:
    """The phase-1 dbt model's columns identity reads, or an error naming the model when dbt
    has not built it.

    `reuse_phones`: each record also gets `phone_known` and the last map's three phone
    columns (`known_` + name) where its phone inputs are those of the last run (the last run
    was under the same identity code and phonenumbers; `normalize.prepare` uses them).
    """
    if not table_exists(con, *PERSON_RECORDS):
        raise IdentityError(
            "intermediate.int_person_records__unioned does not exist: run the dbt phase 1 "
            "(dbt build --select +int_person_records__unioned) before identity resolution"
        )
    columns = ", ".join(f"r.{c}" for c in RECORD_COLUMNS)
    relation = "intermediate.int_person_records__unioned as r"
    if reuse_phones and table_exists(con, *CLUSTERS):
        known = ", ".join(f"m.{c} as known_{c}" for c in PHONE_OUTPUTS)
        columns += f", m.phone_input is not null as phone_known, {known}"
        relation += (
            " left join intermediate.identity_clusters as m on m.source = r.source"
            " and m.source_record_id = r.source_record_id"
            f" and m.phone_input = {phone_input_sql('r')}"
        )
    return fetch_frame(
        con, f"select {columns} from {relation} order by r.source, r.source_record_id"
    )


def load_previous(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The last run's map: record key -> customer_id (empty on the first run)."""
    if not table_exists(con, *CLUSTERS):
        return {}
    rows = fetch_frame(
        con,
        "select source || ':' || source_record_id as record_key, customer_id "
        "from intermediate.identity_clusters",
    )
    return dict(zip(rows["record_key"].tolist(), rows["customer_id"].tolist(), strict=True))


def save(con: duckdb.DuckDBPyConnection, clusters: pd.DataFrame, changes: pd.DataFrame) -> None:
    """Replace the cluster table with `clusters`; append `changes` (stable_ids.change_log)."""
    out = clusters[[c for c in CLUSTER_COLUMNS if c != "phone_input"] + list(PHONE_INPUTS)]
    ensure_identity_tables(con)
    con.execute("delete from intermediate.identity_clusters")
    con.register("identity_out", out)
    con.execute(
        f"insert into {IDENTITY_CLUSTERS.sql_name} by name select * exclude "
        f"({', '.join(PHONE_INPUTS)}), {phone_input_sql('o')} as phone_input "
        "from identity_out as o"
    )
    con.unregister("identity_out")
    if len(changes):
        frame = changes[list(IDENTITY_CHANGES.column_names)]
        con.register("identity_changes_out", frame)
        con.execute(
            f"insert into {IDENTITY_CHANGES.sql_name} by name select * from identity_changes_out"
        )
        con.unregister("identity_changes_out")
