"""Whether identity must run again: fingerprints of its input, settings and output.

Resolution is idempotent (a rerun on the same records, with the last map as `previous`, gives
that map; tests/identity/test_resolve.py), so a build may skip it when its input rows, its
settings and code, and the current map are all those of the identity run the last
*successful* build consumed. That run, not simply the last one: a build that resolved and
then failed left marts built from an older map, which the next build must bring up to date.
Each identity run writes its row of ops.identity_runs in the transaction that writes its map,
so a killed run leaves neither. docs/identity.md "When identity runs again".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from cxloop.identity.splink_match import SplinkModel
from cxloop.tables import BUILDS, IDENTITY_CLUSTERS, IDENTITY_MODELS, IDENTITY_RUNS
from cxloop.warehouse import table_exists

PACKAGE_DIR = Path(__file__).parent
RUN_COLUMNS = ("resolved_at", "run_id")  # differ on every run, read by nothing downstream
MAP_COLUMNS = tuple(c for c in IDENTITY_CLUSTERS.column_names if c not in RUN_COLUMNS)


MAP_LIBRARIES = ("splink", "duckdb", "pandas", "phonenumbers")


@dataclass(frozen=True)
class IdentityState:
    """What identity read and wrote, as fingerprints."""

    settings: str
    records: str
    clusters: str


def settings_fingerprint(threshold: float, max_cluster_size: int) -> str:
    """sha256 of the identity settings, the identity code, the map's columns (defined in
    cxloop.tables) and the versions of the libraries the map depends on (Splink and the
    DuckDB and pandas under it, phonenumbers' parsing)."""
    digest = hashlib.sha256(json.dumps([threshold, max_cluster_size]).encode())
    digest.update(IDENTITY_CLUSTERS.ddl.encode())
    for path in sorted(PACKAGE_DIR.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for library in MAP_LIBRARIES:
        try:
            digest.update(f"{library}=={version(library)}".encode())
        except PackageNotFoundError:
            digest.update(f"{library}-".encode())
    return digest.hexdigest()


def _rows_fingerprint(con: duckdb.DuckDBPyConnection, relation: str, columns: str) -> str:
    """The rows' count and the sum of their DuckDB hashes: row order does not count, and a
    repeated row counts twice. One scan, no sort (an md5 over the sorted rows' JSON took ~0.6 s
    per table at scale 10, computed up to four times a build); the same fingerprint as a
    publish's (cxloop.publish_manifest). DuckDB's version is part of the settings fingerprint,
    so a hash that changes with it reruns identity once."""
    row = con.execute(
        f"select count(*), coalesce(sum(hash({columns})), 0) from {relation} as r"
    ).fetchone()
    return f"{row[0]}:{row[1]}" if row else "0:0"


def records_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The person records' fingerprint (every column); None when dbt has not built them."""
    if not table_exists(con, "intermediate", "int_person_records__unioned"):
        return None
    return _rows_fingerprint(con, "intermediate.int_person_records__unioned", "r")


def clusters_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The map's fingerprint (every column but the run's id and time); None when absent."""
    if not table_exists(con, IDENTITY_CLUSTERS.schema, IDENTITY_CLUSTERS.name):
        return None
    return _rows_fingerprint(
        con, IDENTITY_CLUSTERS.qualified, f"struct_pack({', '.join(MAP_COLUMNS)})"
    )


def current_state(con: duckdb.DuckDBPyConnection, settings: str) -> IdentityState | None:
    """The fingerprints of the warehouse as it is; None when a table is missing."""
    records, clusters = records_fingerprint(con), clusters_fingerprint(con)
    if records is None or clusters is None:
        return None
    return IdentityState(settings, records, clusters)


def consumed_state(con: duckdb.DuckDBPyConnection) -> IdentityState | None:
    """The state of the latest identity run of a build that succeeded; None when none did."""
    if not (
        table_exists(con, IDENTITY_RUNS.schema, IDENTITY_RUNS.name)
        and table_exists(con, BUILDS.schema, BUILDS.name)
    ):
        return None
    row = con.execute(
        "select runs.settings_fingerprint, runs.records_fingerprint, runs.clusters_fingerprint "
        f"from {IDENTITY_RUNS.qualified} as runs join {BUILDS.qualified} as builds "
        "on builds.build_id = runs.build_id and builds.status = 'succeeded' "
        "order by runs.resolved_at desc limit 1"
    ).fetchall()
    return IdentityState(*row[0]) if row else None


@dataclass(frozen=True)
class LastRun:
    """The last identity run (the one that wrote the map): its id, settings and the map's
    fingerprint as it wrote it."""

    run_id: str
    settings: str
    clusters: str


def last_run(con: duckdb.DuckDBPyConnection) -> LastRun | None:
    """The last identity run; None before the first."""
    if not table_exists(con, IDENTITY_RUNS.schema, IDENTITY_RUNS.name):
        return None
    row = con.execute(
        f"select run_id, settings_fingerprint, clusters_fingerprint from "
        f"{IDENTITY_RUNS.qualified} order by resolved_at desc limit 1"
    ).fetchall()
    return LastRun(*row[0]) if row else None


def record_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    build_id: str | None,
    resolved_at: datetime,
    state: IdentityState,
    records: int,
) -> None:
    """Append the run's row of ops.identity_runs (in the transaction that wrote its map)."""
    values = {
        "run_id": run_id,
        "build_id": build_id,
        "resolved_at": resolved_at,
        "settings_fingerprint": state.settings,
        "records_fingerprint": state.records,
        "clusters_fingerprint": state.clusters,
        "records": records,
    }
    con.execute(IDENTITY_RUNS.insert_sql, IDENTITY_RUNS.row(values))


def last_model(con: duckdb.DuckDBPyConnection, settings: str) -> SplinkModel | None:
    """The Splink model last trained under these settings (code and libraries); None if none."""
    if not table_exists(con, IDENTITY_MODELS.schema, IDENTITY_MODELS.name):
        return None
    row = con.execute(
        f"select model, records from {IDENTITY_MODELS.qualified} "
        "where settings_fingerprint = ? order by trained_at desc limit 1",
        [settings],
    ).fetchall()
    return SplinkModel(json.loads(row[0][0]), int(row[0][1])) if row else None


def save_model(
    con: duckdb.DuckDBPyConnection,
    model: SplinkModel,
    run_id: str,
    trained_at: datetime,
    settings: str,
) -> None:
    """Keep `model` as the one to reuse (in the transaction that writes its run's map): the
    models trained before it are deleted."""
    con.execute(f"delete from {IDENTITY_MODELS.qualified}")
    values = {
        "run_id": run_id,
        "trained_at": trained_at,
        "settings_fingerprint": settings,
        "records": model.records,
        "model": json.dumps(model.settings, sort_keys=True),
    }
    con.execute(IDENTITY_MODELS.insert_sql, IDENTITY_MODELS.row(values))
