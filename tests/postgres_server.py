"""A PostgreSQL server for tests: the one CI or the developer names, else a throwaway cluster.

Order: CXLOOP_TEST_PG_DSN (postgresql://user[:password]@host:port/dbname), else
CXLOOP_TEST_PG_HOST (+ _PORT, _USER, _PASSWORD, _DATABASE), else a cluster started with
scripts/pg-throwaway when Debian's server binaries are installed, else none: the caller skips,
or fails when CXLOOP_REQUIRE_POSTGRES=1 (CI, where .ci/run provides the server).
The tests write the schemas raw, staging, intermediate, marts, ml and ops of that database:
name a scratch database, never a shared one.
"""

from __future__ import annotations

import glob
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pg-throwaway"


class NoPostgres(RuntimeError):
    """No server configured and none can be started here."""


def required() -> bool:
    """CXLOOP_REQUIRE_POSTGRES=1: a missing server is a failure, not a skip."""
    return os.environ.get("CXLOOP_REQUIRE_POSTGRES", "") == "1"


def configured_dsn() -> str | None:
    """The DSN of a server named in the environment, if any."""
    if os.environ.get("CXLOOP_TEST_PG_DSN"):
        return os.environ["CXLOOP_TEST_PG_DSN"]
    host = os.environ.get("CXLOOP_TEST_PG_HOST")
    if not host:
        return None
    user = quote(os.environ.get("CXLOOP_TEST_PG_USER", "postgres"), safe="")
    password = os.environ.get("CXLOOP_TEST_PG_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = os.environ.get("CXLOOP_TEST_PG_PORT", "5432")
    database = os.environ.get("CXLOOP_TEST_PG_DATABASE", "cxloop")
    return f"postgresql://{auth}@{host}:{port}/{database}"


def server_binaries() -> bool:
    """Whether pg-throwaway can start a cluster here (Debian's initdb or $PG_BINDIR)."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"], "initdb").exists()
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a DSN: the configured server's, or a throwaway cluster's (stopped afterwards)."""
    dsn = configured_dsn()
    if dsn:
        yield dsn
        return
    if not server_binaries():
        raise NoPostgres(
            "no PostgreSQL: set CXLOOP_TEST_PG_DSN, or install the server "
            "(apt-get install postgresql) so that scripts/pg-throwaway can start one"
        )
    started = subprocess.run(
        [str(SCRIPT), "start"], capture_output=True, text=True, timeout=120, check=False
    )
    if started.returncode != 0:
        raise NoPostgres(f"scripts/pg-throwaway start failed: {started.stderr.strip()}")
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    try:
        yield values["CXLOOP_TEST_PG_DSN"]
    finally:
        subprocess.run([str(SCRIPT), "stop", values["PG_THROWAWAY_DIR"]], timeout=120, check=False)


class ScratchDatabaseError(RuntimeError):
    """The server would not create a database (no CREATEDB right, an old server...)."""


@contextmanager
def scratch_database(dsn: str, prefix: str) -> Iterator[str]:
    """A new, empty database on `dsn`'s server (its user must be allowed to create one; the
    drop needs PostgreSQL 13 or later), dropped afterwards; yields its DSN."""
    import psycopg2  # dbt-postgres's driver

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    def admin(statement: str) -> None:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True  # create and drop database refuse to run in a transaction
        try:
            conn.cursor().execute(statement)
        finally:
            conn.close()

    try:
        admin(f'create database "{name}"')
    except psycopg2.Error as exc:
        raise ScratchDatabaseError(f"could not create a scratch database: {exc}") from exc
    try:
        yield urlsplit(dsn)._replace(path=f"/{name}").geturl()
    finally:
        admin(f'drop database if exists "{name}" with (force)')
