"""The publish stage: an atomic, read-only BI snapshot of the marts (DuckDB file + Parquet).

BI tools never read the working warehouse (DuckDB takes one writer); they read
`$CXLOOP_HOME/bi/cx.duckdb`, replaced in one rename, so a reader never sees a half-written one,
and `bi/parquet/`, a link switched in one rename (`swap_parquet`).
It is written in DuckDB's v1.4.0 storage format, which the DuckDB 1.4 LTS inside BI tools'
drivers opens (docs/bi.md). Only marts a passing check cleared are published (cxloop.quality.gate).
Personal data is masked by default (cxloop.privacy decides what is personal): a salted sha256
replaces identifiers and names and still joins; open text is redacted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cxloop.config import ProjectConfig
from cxloop.errors import CxloopError
from cxloop.privacy import classify, redact, redact_sql
from cxloop.publish_manifest import (
    Manifest,
    carried_over,
    erasures,
    file_identity,
    forget_manifest,
    read_manifest,
    settings_key,
    table_states,
    write_manifest,
)
from cxloop.quality.gate import require_checked_marts
from cxloop.report import RenderedReport, render_cx_report, write_rendered
from cxloop.settings import Paths
from cxloop.sqlnames import quoted
from cxloop.warehouse import connect, held_open

log = logging.getLogger("cxloop.publish")

PUBLISHED_SCHEMAS = ("marts",)
EXTRA_TABLES = (("ml", "churn_scores"), ("ml", "text_sentiment"), ("ml", "text_topics"))
# The oldest storage format DuckDB 2.0 writes that DuckDB 1.4 LTS (BI drivers) can open.
STORAGE_VERSION = "v1.4.0"
OPT_OUT_WARNING = (
    "publish.mask_personal_data is false: e-mail addresses, phones, names and open text are "
    "published in clear in the BI snapshot"
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


def column_expression(column: str, data_type: str, mask: bool, show_csm_names: bool) -> str:
    """The select expression publishing one column (cxloop.privacy decides the treatment)."""
    name = quoted(column)
    treatment = classify(column) if mask else "keep"
    if treatment == "staff_name" and show_csm_names:
        treatment = "keep"
    if treatment in ("hash", "staff_name") and data_type.upper() == "BOOLEAN":
        treatment = "keep"  # a yes/no flag: its salted hash is one of two strings, hiding nothing
    if treatment in ("hash", "staff_name"):
        return f"sha256(getvariable('cx_salt') || cast({name} as varchar)) as {name}"
    if treatment == "redact" and data_type.upper() == "VARCHAR":
        return f"{redact_sql(name, 'cx_redact')} as {name}"
    return name


def select_masked(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    mask: bool,
    show_csm_names: bool = False,
) -> str:
    """SQL selecting the table with personal columns hashed and open text redacted."""
    cols = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, table],
    ).fetchall()
    exprs = [column_expression(c, t, mask, show_csm_names) for c, t in cols]
    return f'select {", ".join(exprs)} from {schema}."{table}"'


def publish_snapshot(
    warehouse: Path,
    bi_dir: Path,
    salt: str,
    *,
    mask: bool = True,
    show_csm_names: bool = False,
    only: list[str] | None = None,
    full: bool = False,
    outcome: dict[str, list[str]] | None = None,
) -> dict[str, int]:
    """Copy the checked marts to bi/cx.duckdb and bi/parquet/ atomically; rows per table.

    Only the tables that changed since the snapshot in place are copied from the warehouse; the
    others are carried over from it (cxloop.publish_manifest): the previous file is copied and
    its changed tables replaced, unchanged Parquet files hard-linked into the new version.
    `full` republishes every table (so does a new erasure: ops.tombstones). `outcome`, when
    given, receives the `republished` and `carried_over` table names.
    Raises MartsNotCheckedError (nothing written, the previous snapshot stays) unless the
    quality gate cleared the marts' latest build.
    """
    con = connect(warehouse)
    try:
        require_checked_marts(con, "publish")
    except BaseException:
        con.close()
        raise
    bi_dir.mkdir(parents=True, exist_ok=True)
    target, tmp = bi_dir / "cx.duckdb", bi_dir / "cx.duckdb.tmp"
    parquet_tmp = bi_dir / "parquet.tmp"
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(parquet_tmp, ignore_errors=True)
    parquet_tmp.mkdir()
    counts: dict[str, int] = {}
    try:
        key = settings_key(salt, mask, show_csm_names, STORAGE_VERSION, erasures(con))
        tables = tables_to_publish(con, only)
        states = table_states(con, tables)
        previous = None if full else read_manifest(bi_dir, key)
        keep = {  # carried over when the previous version still holds its Parquet file
            name
            for name in carried_over(previous, states)
            if (bi_dir / str(previous.parquet_version) / f"{name}.parquet").is_file()  # type: ignore[union-attr]
        }
        forget_manifest(bi_dir)  # from here on the snapshot changes
        if keep:
            shutil.copyfile(target, tmp)
        con.execute("set variable cx_salt = ?", [salt])
        con.create_function("cx_redact", redact, ["VARCHAR"], "VARCHAR")
        con.execute(f"attach '{tmp}' as snap (storage_version '{STORAGE_VERSION}')")
        drop_stale(con, {f"{s}.{t}" for s, t in tables} & keep)
        # each table's Parquet file is written beside the next table's copy (DuckDB runs both
        # off the GIL; one statement alone leaves a core idle: ~1 s of 5.5 at scale 10)
        exports = ThreadPoolExecutor(1, "publish-parquet")
        try:
            written = []
            for schema, table in tables:
                name = f"{schema}.{table}"
                parquet = parquet_tmp / f"{name}.parquet"
                if name in keep:
                    os.link(bi_dir / previous.parquet_version / parquet.name, parquet)  # type: ignore[union-attr,operator]
                    counts[name] = int(states[name][1])
                    continue
                con.execute(f"create schema if not exists snap.{schema}")
                query = select_masked(con, schema, table, mask, show_csm_names)
                con.execute(f'create table snap.{schema}."{table}" as {query}')
                relation = f'snap.{schema}."{table}"'
                written.append(exports.submit(export_parquet, con.cursor(), relation, parquet))
                row = con.execute(f"select count(*) from {relation}").fetchone()
                counts[name] = int(row[0]) if row else 0
            for export in written:  # the first failure is raised
                export.result()
        finally:  # on a failure, the exports not yet begun are dropped
            exports.shutdown(wait=True, cancel_futures=True)
        con.execute("detach snap")
        wait_written_out(tmp)
    finally:  # a held database keeps both after this connection: undo them (a failed copy too)
        with contextlib.suppress(duckdb.Error):
            con.execute("detach database if exists snap")
        with contextlib.suppress(duckdb.Error):  # a leftover Python function crashes on use
            con.remove_function("cx_redact")
        con.close()
    os.replace(tmp, target)
    version = swap_parquet(bi_dir, parquet_tmp)
    write_manifest(bi_dir, Manifest(key, states, file_identity(target), version.name))
    if outcome is not None:
        outcome["republished"] = sorted(set(counts) - keep)
        outcome["carried_over"] = sorted(keep & set(counts))
    return counts


def export_parquet(cursor: duckdb.DuckDBPyConnection, relation: str, path: Path) -> None:
    """Write one table of the new snapshot as a Parquet file, on a cursor of its own (closed)."""
    try:
        cursor.execute(f"copy (select * from {relation}) to '{path}' (format parquet)")
    finally:
        cursor.close()


def wait_written_out(snapshot: Path, seconds: float = 60.0) -> None:
    """Wait until DuckDB has written the detached snapshot file out (its WAL gone).

    A transaction of another connection of the held warehouse that read every database's
    catalog while the snapshot was attached (a catalog query without `current_database()`)
    defers the detach's checkpoint until it ends; renamed before that, the published file
    would lack its tables. Raises CxloopError past `seconds` (nothing is published; the
    previous snapshot stays)."""
    wal = Path(f"{snapshot}.wal")
    deadline = time.monotonic() + seconds
    while wal.exists():
        if time.monotonic() > deadline:
            raise CxloopError(
                f"{snapshot}: the new snapshot was not written out within {seconds:g} s "
                f"({wal.name} remains: another connection's transaction still holds it); "
                "the previous snapshot stays"
            )
        time.sleep(0.02)


def drop_stale(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Drop from the copied snapshot (`snap`) every table not carried over."""
    rows = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'snap'"
    ).fetchall()
    for schema, table in rows:
        if f"{schema}.{table}" not in keep:
            con.execute(f'drop table snap.{schema}."{table}"')


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


def publish_warnings(config: ProjectConfig | None) -> list[str]:
    """What the run summary must say about a publish under this config (the masking opt-out)."""
    cfg = config.publish if config else None
    return [] if (cfg.mask_personal_data if cfg else True) else [OPT_OUT_WARNING]


def publish_configured(
    paths: Paths, config: ProjectConfig | None, full: bool = False
) -> dict[str, object]:
    """Publish as cxloop.yaml's `publish` section says (masked, all marts by default).

    Returns rows per table, which were republished and which carried over (`full`: none),
    whether personal data was masked, the storage version, and the
    warnings for the run summary (the masking opt-out is one).
    """
    cfg = config.publish if config else None
    mask = cfg.mask_personal_data if cfg else True
    warnings = publish_warnings(config)
    for warning in warnings:
        log.warning(warning)
    outcome: dict[str, list[str]] = {}
    # The CX report is drawn beside the snapshot (whose copies run in DuckDB, off the GIL) and
    # written only once the snapshot is in place; both read the one open database.
    with held_open(paths.warehouse), ThreadPoolExecutor(1, "cx-report") as pool:
        gate = connect(paths.warehouse)
        try:  # a refused publish refuses at once, before any drawing
            require_checked_marts(gate, "publish")
        finally:
            gate.close()
        drawing = pool.submit(render_cx_report, paths, config)
        counts = publish_snapshot(
            paths.warehouse,
            paths.bi,
            publish_salt(paths),
            mask=mask,
            show_csm_names=cfg.show_csm_names if cfg else False,
            only=cfg.tables if cfg else None,
            full=full,
            outcome=outcome,
        )
        report = refresh_report(paths, drawing, warnings)
    return {
        "tables": counts,
        **outcome,
        "masked": mask,
        "storage_version": STORAGE_VERSION,
        "warnings": warnings,
        "report": report,
    }


def refresh_report(
    paths: Paths, drawing: Future[RenderedReport], warnings: list[str]
) -> str | None:
    """Write the CX report (docs/report.md) drawn beside the snapshot; a failure is a warning,
    since the snapshot is already published."""
    try:
        return write_rendered(paths, drawing.result())["path"]
    except Exception as exc:  # noqa: BLE001 - the report must never undo a good publish
        log.exception("the CX report was not refreshed")
        warnings.append(f"the CX report was not refreshed: {exc}")
        return None
