"""Erasure in files: the Parquet lake, the outbox, the BI snapshot's versions, pulled source
files, and every other file under CXLOOP_HOME that can hold values (GE results and Data Docs,
dbt logs and artifacts, reports, model files).

Every file is replaced whole (written beside it, then renamed over it), so no old bytes stay
in the file, and a crash leaves either the old or the new one.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from cxloop.erasure.identifiers import row_match_sql
from cxloop.erasure.tombstones import registered_hashes
from cxloop.sources.digests import DIGESTS_FILE

TMP_SUFFIX = ".parquet.tmp"
REDACTED = "[erased]"
PULL_MANIFEST = Path(".cxloop-pull") / "manifest.jsonl"


def _replace_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".erase-tmp")
    tmp.write_bytes(data)
    with contextlib.suppress(OSError):
        shutil.copymode(path, tmp)
    os.replace(tmp, path)


def rewrite_lake(lake_dir: Path, hashes: dict[str, str], salt: str) -> dict[str, int]:
    """Drop the person's rows from every lake file (`*.parquet` and leftover `*.parquet.tmp`).

    Returns rows removed per `source.entity`; a file with none of their rows is not touched.
    """
    removed: dict[str, int] = {}
    # an ingest killed before its entity landed leaves the prepared rows in lake/.spill
    # (cxloop/sources/spill.py); no ingest runs beside an erasure (both hold warehouse-writer)
    shutil.rmtree(Path(lake_dir) / ".spill", ignore_errors=True)
    # the ingest's file-hash memo keeps source files' paths, which can name a person: it is a
    # cache, so it goes whole (the next ingest hashes every file once more)
    for memo in (DIGESTS_FILE, f"{DIGESTS_FILE}.tmp"):  # .tmp: an ingest killed mid-write
        (Path(lake_dir) / memo).unlink(missing_ok=True)
    root = Path(lake_dir) / "raw"
    if not root.is_dir() or not hashes:
        return removed
    con = duckdb.connect()
    try:
        with registered_hashes(con, hashes, salt):
            for path in sorted([*root.glob("*/*/*.parquet"), *root.glob(f"*/*/*{TMP_SUFFIX}")]):
                source, entity = path.parent.parent.name, path.parent.name
                n = _rewrite_parquet(con, path, f"{source}__{entity}")
                if n:
                    key = f"{source}.{entity}"
                    removed[key] = removed.get(key, 0) + n
    finally:
        con.close()
    return removed


def _rewrite_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> int:
    relation = f"read_parquet('{path}')"
    columns = [r[0] for r in con.execute(f"describe select * from {relation}").fetchall()]
    predicate = row_match_sql(table, columns)
    row = con.execute(f"select count(*) from {relation} where {predicate}").fetchone()
    n = int(row[0]) if row else 0
    if n:
        out = path.with_name(path.name + ".erase-tmp")
        con.execute(
            f"copy (select * from {relation} where not {predicate}) to '{out}' (format parquet)"
        )
        os.replace(out, path)
    return n


def remove_outbox_files(outbox: Path, paths: Iterable[str], needles: list[str]) -> int:
    """Delete the removed messages' .eml files and any other outbox file naming the person."""
    gone = 0
    for p in paths:
        path = Path(p) if Path(p).is_absolute() else Path(outbox) / p
        if path.exists():
            path.unlink()
            gone += 1
    if Path(outbox).is_dir():
        for path in Path(outbox).rglob("*"):
            if path.is_file() and _holds(path.read_bytes(), needles):
                path.unlink()
                gone += 1
    return gone


def withdraw_old_snapshots(bi_dir: Path, keep_current: bool) -> int:
    """Remove every `bi/parquet-*` version but the one `bi/parquet` links to (none when the
    snapshot could not be republished: then `bi/cx.duckdb` and the link go too)."""
    bi_dir = Path(bi_dir)
    link = bi_dir / "parquet"
    current = os.readlink(link) if keep_current and link.is_symlink() else None
    removed = 0
    for old in bi_dir.glob("parquet-*"):
        if Path(old.name).name != (Path(current).name if current else None):
            shutil.rmtree(old, ignore_errors=True)
            removed += 1
    for leftover in ("parquet.tmp", "parquet.old", "cx.duckdb.tmp", "cx.duckdb.tmp.wal"):
        path = bi_dir / leftover
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if not keep_current:
        for name in ("cx.duckdb", "cx.duckdb.wal", "parquet"):
            (bi_dir / name).unlink(missing_ok=True)
    return removed


def _variants(needles: Iterable[str]) -> list[bytes]:
    """Each needle as UTF-8, JSON-escaped (non-ASCII as \\uXXXX) and HTML-escaped bytes."""
    out: set[bytes] = set()
    for needle in needles:
        for form in (needle, json.dumps(needle)[1:-1], html.escape(needle)):
            out.add(form.encode("utf-8"))
    return sorted(out, key=len, reverse=True)


def _holds(data: bytes, needles: list[str]) -> bool:
    lower = data.lower()
    return any(v.lower() in lower for v in _variants(needles))


def scrub_files(root: Path, needles: list[str], skip: Iterable[Path]) -> dict[str, int]:
    """Every file under `root` (but `skip`) naming the person: text files have the mentions
    replaced by `[erased]`, other files are deleted. Returns files per first folder, by action.
    """
    skipped = [Path(s).resolve() for s in skip]
    done: dict[str, int] = {}
    if not needles or not Path(root).is_dir():
        return done
    patterns = [re.compile(re.escape(v), re.IGNORECASE) for v in _variants(needles)]
    for path in sorted(Path(root).rglob("*")):
        resolved = path.resolve()
        if not path.is_file() or path.is_symlink():
            continue
        if any(resolved == s or s in resolved.parents for s in skipped):
            continue
        data = path.read_bytes()
        if not _holds(data, needles):
            continue
        top = path.relative_to(root).parts[0]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            path.unlink()
            done[f"{top} deleted"] = done.get(f"{top} deleted", 0) + 1
            continue
        for pattern in patterns:
            data = pattern.sub(REDACTED.encode(), data)
        _replace_bytes(path, data)
        done[f"{top} redacted"] = done.get(f"{top} redacted", 0) + 1
    return done


def pulled_files(folder: Path) -> list[Path]:
    """The files `cxloop pull` wrote into a source folder, from its manifest (none without)."""
    manifest = Path(folder) / PULL_MANIFEST
    if not manifest.is_file():
        return []
    out = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(Path(folder) / json.loads(line)["path"])
    return [p for p in out if p.is_file()]


def rewrite_pulled_file(path: Path, drop_rows: set[int], header_rows: int) -> int:
    """Drop data rows (1-based, as landing numbers them) from a pulled JSON page or CSV file."""
    if not drop_rows:
        return 0
    data = path.read_bytes()
    if path.suffix.lower() == ".json":
        body = json.loads(data)
        items = body if isinstance(body, list) else _page_items(body)
        kept = [item for n, item in enumerate(items, start=1) if n not in drop_rows]
        removed = len(items) - len(kept)
        items[:] = kept
        _replace_bytes(path, json.dumps(body, ensure_ascii=False, indent=None).encode("utf-8"))
        return removed
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    out, removed = io.StringIO(newline=""), 0
    for index, record in enumerate(csv.reader(io.StringIO(text, newline=""), strict=True)):
        if index >= header_rows and index - header_rows + 1 in drop_rows:
            removed += 1
            continue
        csv.writer(out, lineterminator="\r\n").writerow(record)
    _replace_bytes(path, (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))
    return removed


def _page_items(body: object) -> list:
    """The list of records in a page's envelope (`results`, `tickets`, `comments`, ...)."""
    if isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if lists:
            return max(lists, key=len)
    return []


def matching_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list) -> set[int]:
    """Row numbers of parsed rows (`ParsedRow`) that belong to the person."""
    records = [{**row.values, "_row_number": row.row_number} for row in rows if row.values]
    if not records:
        return set()
    names = list(dict.fromkeys(k for r in records for k in r))
    frame = pa.Table.from_pylist(
        records,
        schema=pa.schema([(n, pa.int64() if n == "_row_number" else pa.string()) for n in names]),
    )
    con.register("_pulled_rows", frame)
    try:
        found = con.execute(
            "select _row_number from _pulled_rows where " + row_match_sql(table, names)
        ).fetchall()
    finally:
        con.unregister("_pulled_rows")
    return {int(n) for (n,) in found}
