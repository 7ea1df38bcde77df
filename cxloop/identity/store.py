"""Identity tables in the warehouse: read person records and the last map, write the new one."""

from __future__ import annotations

import duckdb
import pandas as pd

from cxloop.errors import CxloopError
from cxloop.identity.incremental import (
    BLOCK_COLUMNS,
    LINK_COLUMNS,
    RECORDS,
    RULE_COLUMNS,
    keys_sql,
    link_key_frame,
    record_hash_sql,
)
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


def load_person_records(
    con: duckdb.DuckDBPyConnection, reuse_phones: bool = False, within: str | None = None
) -> pd.DataFrame:
    """The phase-1 dbt model's columns identity reads, or an error naming the model when dbt
    has not built it.

    `reuse_phones`: each record also gets `phone_known` and the last map's three phone
    columns (`known_` + name) where its phone inputs are those of the last run (the last run
    was under the same identity code and phonenumbers; `normalize.prepare` uses them).
    `within`: only the records named in this table (source, source_record_id).
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
    if within is not None:
        relation += (
            f" semi join {within} as w on w.source = r.source"
            " and w.source_record_id = r.source_record_id"
        )
    return fetch_frame(
        con, f"select {columns} from {relation} order by r.source, r.source_record_id"
    )


def load_previous(con: duckdb.DuckDBPyConnection, within: str | None = None) -> dict[str, str]:
    """The last run's map: record key -> customer_id (empty on the first run); `within`: only
    the records named in this table (source, source_record_id)."""
    if not table_exists(con, *CLUSTERS):
        return {}
    only = (
        f" semi join {within} as w on w.source = m.source"
        " and w.source_record_id = m.source_record_id"
        if within is not None
        else ""
    )
    rows = fetch_frame(
        con,
        "select m.source || ':' || m.source_record_id as record_key, m.customer_id "
        f"from intermediate.identity_clusters as m{only}",
    )
    return dict(zip(rows["record_key"].tolist(), rows["customer_id"].tolist(), strict=True))


# computed in SQL when a map row is written (cxloop.identity.incremental)
COMPUTED = ("phone_input", "record_hash", "link_keys", "block_keys")


def save(
    con: duckdb.DuckDBPyConnection,
    clusters: pd.DataFrame,
    changes: pd.DataFrame,
    within: str | None = None,
    run: tuple[object, str] | None = None,
) -> None:
    """Write the map: `clusters` replace every row, or with `within` only the rows of the
    records that table names and those of records gone (an incremental run), the others
    taking `run` (resolved_at, run_id); append `changes` (stable_ids.change_log)."""
    ensure_identity_tables(con)
    if within is None:
        con.execute("delete from intermediate.identity_clusters")
    else:
        con.execute(
            "delete from intermediate.identity_clusters as m where exists (select 1 from "
            f"{within} as w where w.source = m.source and w.source_record_id = "
            f"m.source_record_id) or not exists (select 1 from {RECORDS} as r "
            "where r.source = m.source and r.source_record_id = m.source_record_id)"
        )
        if run is not None:
            con.execute(
                "update intermediate.identity_clusters set resolved_at = ?, run_id = ?", run
            )
    out = pd.concat(
        [
            clusters[[c for c in CLUSTER_COLUMNS if c not in COMPUTED] + list(PHONE_INPUTS)],
            link_key_frame(clusters),
        ],
        axis=1,
    )
    con.register("identity_out", out)
    written = con.execute(
        f"insert into {IDENTITY_CLUSTERS.sql_name} by name select o.* exclude "
        f"({', '.join((*PHONE_INPUTS, *LINK_COLUMNS))}), {phone_input_sql('o')} as phone_input, "
        f"{keys_sql('o', RULE_COLUMNS)} as link_keys, {keys_sql('o', BLOCK_COLUMNS)} as "
        f"block_keys, {record_hash_sql('r')} as record_hash "
        f"from identity_out as o join {RECORDS} as r "
        "on r.source = o.source and r.source_record_id = o.source_record_id"
    ).fetchone()
    con.unregister("identity_out")
    if written is None or written[0] != len(out):  # each row resolved is a person record
        raise IdentityError(
            f"{IDENTITY_CLUSTERS.qualified}: {written[0] if written else 0} of {len(out)} "
            f"resolved records found in {RECORDS} (source, source_record_id) to write"
        )
    if len(changes):
        frame = changes[list(IDENTITY_CHANGES.column_names)]
        con.register("identity_changes_out", frame)
        con.execute(
            f"insert into {IDENTITY_CHANGES.sql_name} by name select * from identity_changes_out"
        )
        con.unregister("identity_changes_out")
