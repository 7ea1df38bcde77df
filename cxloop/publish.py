"""The publish stage: an atomic, read-only BI snapshot of the marts (DuckDB file + Parquet).

BI tools never read the working warehouse (DuckDB takes one writer); they read
`$CXLOOP_HOME/bi/cx.duckdb`, replaced in one rename, so a reader never sees a half-written one,
and `bi/parquet/`, a link switched in one rename (`swap_parquet`).
Personal data is masked by default: a salted sha256 replaces it and still joins.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cxloop.config import ProjectConfig
from cxloop.settings import Paths
from cxloop.warehouse import connect

PUBLISHED_SCHEMAS = ("marts",)
EXTRA_TABLES = (("ml", "churn_scores"),)
PERSONAL_COLUMNS = frozenset(
    {
        "email",
        "respondent_email",
        "phone_e164",
        "phone",
        "first_name",
        "last_name",
        "full_name",
        "recipient",
        "email_normalized",
    }
)


def publish_salt(paths: Paths) -> str:
    """The masking salt: CXLOOP_PUBLISH_SALT, else one random salt kept under CXLOOP_HOME."""
    if os.environ.get("CXLOOP_PUBLISH_SALT"):
        return os.environ["CXLOOP_PUBLISH_SALT"]
    salt_file = paths.bi / ".salt"
    if not salt_file.exists():
        salt_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = salt_file.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(16))
        tmp.chmod(0o600)
        os.replace(tmp, salt_file)
    return salt_file.read_text().strip()


def tables_to_publish(con: duckdb.DuckDBPyConnection, only: list[str] | None) -> list[tuple]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() order by 1, 2"
    ).fetchall()
    wanted = [(s, t) for s, t in rows if s in PUBLISHED_SCHEMAS or (s, t) in EXTRA_TABLES]
    if only:
        wanted = [(s, t) for s, t in wanted if t in only or f"{s}.{t}" in only]
    return wanted


def select_masked(con: duckdb.DuckDBPyConnection, schema: str, table: str, mask: bool) -> str:
    """SQL selecting the table with personal columns replaced by a salted hash."""
    cols = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    exprs = [
        f'sha256(getvariable(\'cx_salt\') || cast("{c}" as varchar)) as "{c}"'
        if mask and c in PERSONAL_COLUMNS
        else f'"{c}"'
        for c in cols
    ]
    return f'select {", ".join(exprs)} from {schema}."{table}"'


def publish_snapshot(
    warehouse: Path, bi_dir: Path, salt: str, *, mask: bool = True, only: list[str] | None = None
) -> dict[str, int]:
    """Copy the marts to bi/cx.duckdb and bi/parquet/ atomically; returns rows per table."""
    bi_dir.mkdir(parents=True, exist_ok=True)
    target, tmp = bi_dir / "cx.duckdb", bi_dir / "cx.duckdb.tmp"
    parquet_tmp = bi_dir / "parquet.tmp"
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(parquet_tmp, ignore_errors=True)
    parquet_tmp.mkdir()
    counts: dict[str, int] = {}
    con = connect(warehouse)
    try:
        con.execute("set variable cx_salt = ?", [salt])
        con.execute(f"attach '{tmp}' as snap")
        for schema, table in tables_to_publish(con, only):
            con.execute(f"create schema if not exists snap.{schema}")
            query = select_masked(con, schema, table, mask)
            con.execute(f'create table snap.{schema}."{table}" as {query}')
            con.execute(
                f'copy (select * from snap.{schema}."{table}") to '
                f"'{parquet_tmp / f'{schema}.{table}.parquet'}' (format parquet)"
            )
            row = con.execute(f'select count(*) from snap.{schema}."{table}"').fetchone()
            counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        con.execute("detach snap")
    finally:
        con.close()
    os.replace(tmp, target)
    swap_parquet(bi_dir, parquet_tmp)
    return counts


def swap_parquet(bi_dir: Path, staged: Path) -> Path:
    """Make `staged` the published `bi/parquet/` in one rename, never leaving it missing.

    `bi/parquet` is a symbolic link to a versioned folder `bi/parquet-<time>`; the new version
    is linked by renaming a new link over the old one (atomic), so a process killed at any
    moment leaves one whole snapshot readable. The version it replaced is kept for readers
    still on it; older ones (and a kill's orphan) are removed. Returns the new version folder.
    """
    link = bi_dir / "parquet"
    version = bi_dir / f"parquet-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    os.replace(staged, version)
    previous = Path(os.readlink(link)).name if link.is_symlink() else None
    if link.is_dir() and not link.is_symlink():  # a folder from before the link: once
        previous = f"{version.name}-before"
        os.replace(link, bi_dir / previous)
    new_link = bi_dir / "parquet.link.tmp"
    new_link.unlink(missing_ok=True)
    new_link.symlink_to(version.name, target_is_directory=True)
    os.replace(new_link, link)
    for old in bi_dir.glob("parquet-*"):
        if old.name not in (version.name, previous):
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(bi_dir / "parquet.old", ignore_errors=True)  # the layout before the link
    return version


def publish_configured(paths: Paths, config: ProjectConfig | None) -> dict[str, int]:
    """Publish as cxloop.yaml's `publish` section says (masked, all marts by default)."""
    cfg = config.publish if config else None
    return publish_snapshot(
        paths.warehouse,
        paths.bi,
        publish_salt(paths),
        mask=cfg.mask_personal_data if cfg else True,
        only=cfg.tables if cfg else None,
    )
