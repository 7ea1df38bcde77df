"""Identity tables in the warehouse: read person records and the last map, write the new one."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from cxloop.errors import CxloopError
from cxloop.identity.clusters import Resolution, resolve
from cxloop.warehouse import table_exists, writer

PERSON_RECORDS = ("intermediate", "int_identity__person_records")
CLUSTERS = ("intermediate", "identity_clusters")
CLUSTER_COLUMNS = [
    "source", "source_record_id", "customer_id", "account_id", "match_rule",
    "match_probability", "email_normalized", "is_email_valid", "phone_e164", "is_phone_valid",
    "first_name_latin", "last_name_latin", "resolved_at", "run_id",
]  # fmt: skip
IDENTITY_DDL = """
create table if not exists intermediate.identity_clusters (
    source varchar not null, source_record_id varchar not null, customer_id varchar not null,
    account_id varchar, match_rule varchar not null, match_probability double,
    email_normalized varchar, is_email_valid boolean, phone_e164 varchar, is_phone_valid boolean,
    first_name_latin varchar, last_name_latin varchar, resolved_at timestamp not null,
    run_id varchar not null
);
create table if not exists ops.identity_changes (
    run_id varchar not null, changed_at timestamp not null, change_type varchar not null,
    source varchar, source_record_id varchar, previous_customer_id varchar,
    customer_id varchar, detail json
);
"""


class IdentityError(CxloopError):
    """Identity resolution cannot run: its input table is missing."""


def ensure_identity_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the identity output tables when absent (dbt declares them as sources)."""
    con.execute("create schema if not exists intermediate")
    con.execute("create schema if not exists ops")
    con.execute(IDENTITY_DDL)


def load_person_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The phase-1 dbt model, or an error naming it when dbt has not built it."""
    if not table_exists(con, *PERSON_RECORDS):
        raise IdentityError(
            "intermediate.int_identity__person_records does not exist: run the dbt phase 1 "
            "(dbt build --select +int_identity__person_records) before identity resolution"
        )
    return con.execute(
        "select * from intermediate.int_identity__person_records order by source, source_record_id"
    ).df()


def load_previous(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The last run's map: record key -> customer_id (empty on the first run)."""
    if not table_exists(con, *CLUSTERS):
        return {}
    rows = con.execute(
        "select source || ':' || source_record_id, customer_id from intermediate.identity_clusters"
    ).fetchall()
    return dict(rows)


def save(con: duckdb.DuckDBPyConnection, result: Resolution, run_id: str) -> None:
    """Replace the cluster table; append this run's changes and guard hits."""
    now = datetime.now(UTC).replace(tzinfo=None)
    out = result.records.assign(resolved_at=now, run_id=run_id)[CLUSTER_COLUMNS]
    ensure_identity_tables(con)
    con.execute("delete from intermediate.identity_clusters")
    con.register("identity_out", out)
    con.execute("insert into intermediate.identity_clusters select * from identity_out")
    con.unregister("identity_out")
    changes = result.changes.assign(run_id=run_id, changed_at=now, detail=None)
    hits = [
        {
            "run_id": run_id,
            "changed_at": now,
            "change_type": "over_merge_guard",
            "source": None,
            "source_record_id": None,
            "previous_customer_id": None,
            "customer_id": None,
            "detail": json.dumps(hit),
        }
        for hit in result.report["guard_hits"]  # type: ignore[union-attr]
    ]
    frame = pd.concat([changes, pd.DataFrame(hits)], ignore_index=True) if hits else changes
    if len(frame):
        frame = frame[
            ["run_id", "changed_at", "change_type", "source", "source_record_id",
             "previous_customer_id", "customer_id", "detail"]
        ]  # fmt: skip
        con.register("identity_changes_out", frame)
        con.execute("insert into ops.identity_changes select * from identity_changes_out")
        con.unregister("identity_changes_out")


def resolve_warehouse(
    warehouse: Path, *, threshold: float, max_cluster_size: int, full_refresh: bool = False
) -> dict[str, object]:
    """Read person records and the last map, resolve, write both tables in one transaction."""
    run_id = uuid.uuid4().hex[:12]
    with writer(warehouse) as con:
        t0 = time.perf_counter()
        records = load_person_records(con)
        previous = load_previous(con)
        load_s = time.perf_counter() - t0
        result = resolve(
            records,
            previous,
            threshold=threshold,
            max_cluster_size=max_cluster_size,
            full_refresh=full_refresh,
        )
        t0 = time.perf_counter()
        save(con, result, run_id)
    save_s = time.perf_counter() - t0  # with the commit
    report = dict(result.report)
    report["run_id"] = run_id
    report["timings"] = {
        "load": round(load_s, 2),
        **result.report.get("timings", {}),  # type: ignore[dict-item]
        "save": round(save_s, 2),
    }
    report["guard_hits"] = [
        {"stage": h["stage"], "size": h["size"], "records": h["records"][:5]}  # type: ignore[index]
        for h in result.report["guard_hits"]  # type: ignore[union-attr]
    ]
    return report
