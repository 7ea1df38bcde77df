"""The second dbt target: the tables Python writes, copied into PostgreSQL, then dbt on them.

The DuckDB warehouse stays the system of record. Ingest lands raw.*, the identity step writes
intermediate.identity_clusters (customer ids are minted once, in DuckDB's stable-id store), the
score flow writes ml.churn_scores and the act flow ops.playbook_actions. `postgres_build` copies
those tables with COPY (one transaction per table: readers see the old rows or the new, never
half) and runs `dbt build --target postgres`, which builds the same models (docs/postgres.md).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import duckdb

from cxloop.dbt import DbtRun, invoke_dbt, raise_for_failure
from cxloop.errors import ConfigError, CxloopError
from cxloop.sqlnames import quoted
from cxloop.tables import IDENTITY_MEMO_COLUMNS, ensure_warehouse
from cxloop.warehouse import connect, writer

# What dbt reads that Python writes: every raw table, plus these (schema, table).
PYTHON_TABLES = (
    ("intermediate", "identity_clusters"),
    ("ml", "churn_scores"),
    ("ml", "text_sentiment"),
    ("ml", "text_topics"),
    ("ops", "playbook_actions"),
    ("ops", "callback_tasks"),
    ("ops", "callback_events"),
    ("ops", "ingest_files"),  # read by source freshness (macros/freshness.sql)
)

# Columns of those tables no model reads: their writer's own state, not copied.
NOT_READ = {("intermediate", "identity_clusters"): IDENTITY_MEMO_COLUMNS}

# DuckDB column type -> PostgreSQL type, spelled as format_type() spells it (compared to tell
# an unchanged table). JSON stays text: the models read JSON text.
SCALAR_TYPES = {
    "VARCHAR": "text",
    "JSON": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(39,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time without time zone",
    "TIMESTAMP": "timestamp without time zone",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "UUID": "uuid",
    "INTERVAL": "interval",
}


LOCK_TIMEOUT_SECONDS = 120


class PostgresError(CxloopError):
    """PostgreSQL could not be reached, or a table could not be copied into it."""


@dataclass(frozen=True)
class PostgresTarget:
    """Where the second target lives; the same CXLOOP_PG_* variables dbt's profile reads."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "cxloop"
    sslmode: str = "prefer"

    @classmethod
    def from_env(cls) -> PostgresTarget:
        """From CXLOOP_PG_HOST/PORT/USER/PASSWORD/DATABASE/SSLMODE (profiles.yml's defaults)."""
        env = os.environ
        port = env.get("CXLOOP_PG_PORT", "5432")
        if not port.isdigit():
            raise ConfigError(f"CXLOOP_PG_PORT: {port!r} is not a port number")
        return cls(
            host=env.get("CXLOOP_PG_HOST", cls.host),
            port=int(port),
            user=env.get("CXLOOP_PG_USER", cls.user),
            password=env.get("CXLOOP_PG_PASSWORD", cls.password),
            dbname=env.get("CXLOOP_PG_DATABASE", cls.dbname),
            sslmode=env.get("CXLOOP_PG_SSLMODE", cls.sslmode),
        )

    @classmethod
    def from_dsn(cls, dsn: str) -> PostgresTarget:
        """From a URL: postgresql://user[:password]@host[:port]/dbname[?sslmode=...]."""
        parts = urlsplit(dsn)
        if parts.scheme not in {"postgres", "postgresql"} or not parts.hostname:
            raise ConfigError(
                "PostgreSQL DSN: expected postgresql://user[:password]@host[:port]/dbname, "
                f"got scheme {parts.scheme!r} and host {parts.hostname!r}"
            )
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        try:
            port = parts.port or cls.port
        except ValueError:
            raise ConfigError("PostgreSQL DSN: the port is not a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or cls.user),
            password=unquote(parts.password or ""),
            dbname=unquote(parts.path.lstrip("/")) or cls.dbname,
            sslmode=query.get("sslmode", cls.sslmode),
        )

    def env(self) -> dict[str, str]:
        """The CXLOOP_PG_* variables that point dbt's `postgres` output here."""
        return {
            "CXLOOP_PG_HOST": self.host,
            "CXLOOP_PG_PORT": str(self.port),
            "CXLOOP_PG_USER": self.user,
            "CXLOOP_PG_PASSWORD": self.password,
            "CXLOOP_PG_DATABASE": self.dbname,
            "CXLOOP_PG_SSLMODE": self.sslmode,
        }

    def describe(self) -> str:
        """host:port/dbname as user, for messages (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def connect(self) -> Any:  # a psycopg2 connection (psycopg2 ships no type hints)
        import psycopg2

        try:
            return psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.dbname,
                sslmode=self.sslmode,
                connect_timeout=10,
                application_name="cxloop",
            )
        except psycopg2.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PostgresError(f"PostgreSQL {self.describe()}: cannot connect ({first})") from None


def postgres_type(duckdb_type: str, where: str) -> str:
    """The PostgreSQL type for a DuckDB column type; refuses nested types, naming the column."""
    upper = duckdb_type.upper()
    if upper in SCALAR_TYPES:
        return SCALAR_TYPES[upper]
    if upper.startswith("DECIMAL"):
        return "numeric" + upper[len("DECIMAL") :].lower()
    raise PostgresError(
        f"{where}: DuckDB type {duckdb_type} has no PostgreSQL mapping here "
        f"(expected one of {', '.join(sorted(SCALAR_TYPES))} or DECIMAL)"
    )


def tables_to_copy(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every raw table and the Python-written tables dbt reads, as (schema, table)."""
    raw = con.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' "
        "and table_type = 'BASE TABLE' order by table_name"
    ).fetchall()
    present = {
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    return [("raw", name) for (name,) in raw] + [t for t in PYTHON_TABLES if t in present]


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, PostgreSQL type) of each column dbt may read, in order (not `NOT_READ`'s)."""
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    skipped = NOT_READ.get((schema, table), ())
    return [
        (name, postgres_type(kind, f"{schema}.{table}.{name}"))
        for name, kind in rows
        if name not in skipped
    ]


def existing_columns(cur: Any, schema: str, table: str) -> list[tuple[str, str]] | None:
    """(name, type) of a PostgreSQL table's columns in order, or None when it does not exist."""
    cur.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relname = %s and c.relkind = 'r' "
        "and a.attnum > 0 and not a.attisdropped order by a.attnum",
        (schema, table),
    )
    rows = cur.fetchall()
    return [(name, kind) for name, kind in rows] if rows else None


def copy_table(
    duck: duckdb.DuckDBPyConnection,
    pg: Any,
    schema: str,
    table: str,
    scratch: Path,
) -> int:
    """Replace schema.table in PostgreSQL with the DuckDB table's rows, in one transaction.

    DuckDB writes the rows as CSV (NULL unquoted-empty, '' quoted, so the two stay apart) and
    COPY reads it. Same columns: truncate and load, so views over the table survive; columns
    changed: drop (with its dependent views, which dbt rebuilds) and create.
    """
    columns = table_columns(duck, schema, table)
    csv_path = scratch / f"{schema}.{table}.csv"
    select_list = ", ".join(quoted(name) for name, _ in columns)
    duck.execute(
        f"copy (select {select_list} from {quoted(schema)}.{quoted(table)}) "
        f"to '{csv_path}' (format csv, header false)"
    )
    target = f"{quoted(schema)}.{quoted(table)}"
    try:
        with pg, pg.cursor() as cur:  # one transaction: committed on success, else rolled back
            # a reader holding the table (an open BI transaction) makes us wait, not hang forever
            cur.execute(f"set local lock_timeout = '{LOCK_TIMEOUT_SECONDS}s'")
            cur.execute(f"create schema if not exists {quoted(schema)}")
            if existing_columns(cur, schema, table) == columns:
                cur.execute(f"truncate table {target}")
            else:
                cur.execute(f"drop table if exists {target} cascade")
                definition = ", ".join(f"{quoted(name)} {kind}" for name, kind in columns)
                cur.execute(f"create table {target} ({definition})")
            with csv_path.open("rb") as data:
                cur.copy_expert(f"copy {target} ({select_list}) from stdin with (format csv)", data)
            copied = cur.rowcount
    except Exception as exc:  # psycopg2.Error: name the table, keep the server's first line
        message = str(exc).strip().splitlines()
        raise PostgresError(
            f"copying {schema}.{table} into PostgreSQL failed: {message[0] if message else exc}"
        ) from exc
    finally:
        csv_path.unlink(missing_ok=True)
    return copied


def copy_python_tables(warehouse: Path, target: PostgresTarget) -> dict[str, int]:
    """Copy every table dbt reads as a source from the DuckDB warehouse; rows per table."""
    if not warehouse.exists():
        raise CxloopError(f"{warehouse}: no warehouse yet (run `cxloop run` or `cxloop build`)")
    with writer(warehouse) as con:  # the sources exist (empty) even before their first writer
        ensure_warehouse(con)
    pg = target.connect()
    copied: dict[str, int] = {}
    try:
        duck = connect(warehouse, read_only=True)
        try:
            with tempfile.TemporaryDirectory(prefix="cxloop-pg-copy-") as scratch:
                for schema, table in tables_to_copy(duck):
                    copied[f"{schema}.{table}"] = copy_table(duck, pg, schema, table, Path(scratch))
        finally:
            duck.close()
    finally:
        pg.close()
    return copied


def run_dbt_postgres(
    args: list[str], target: PostgresTarget, vars_: dict[str, object], home: Path
) -> DbtRun:
    """Invoke dbt once with `--target postgres` (its tests stay out of DuckDB's results).

    CXLOOP_PG_* (and PGTZ=UTC for the session) are set for dbt's profile while it runs; its own
    target dir, since a manifest parsed for DuckDB is not reused for PostgreSQL.
    """
    run = invoke_dbt(
        [*args, "--target", "postgres"],
        home=home,
        vars_=vars_,
        env={**target.env(), "PGTZ": "UTC"},
        target_dir="target-postgres",
    )
    raise_for_failure(run)
    return run
