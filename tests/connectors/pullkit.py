"""Helpers of the connector tests: a cxloop.yaml for the local servers, raw rows after ingest."""

from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb
import yaml

from cxloop.settings import Settings
from cxloop.sources.ingest import ingest_entity, plan_ingest, resolve_run

METADATA = ("_batch_id", "_loaded_at", "_source_file", "_row_number")


def write_config(sources: Path, sources_cfg: dict) -> Path:
    """A cxloop.yaml with these sources in a sources folder; returns its path."""
    sources.mkdir(parents=True, exist_ok=True)
    path = sources / "cxloop.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": sources_cfg}), encoding="utf-8")
    return path


def zendesk_source(url: str, **api: object) -> dict:
    return {
        "kind": "zendesk",
        "path": "zendesk",
        "api": {
            "base_url": url,
            "credentials": {"email": "TEST_ZENDESK_EMAIL", "token": "TEST_ZENDESK_TOKEN"},
            **api,
        },
    }


def ingest_raw(sources: Path, home: Path) -> dict[str, list[tuple]]:
    """Ingest a sources folder into a fresh warehouse; each raw table's rows without the
    per-file metadata (batch, load time, file, row number), sorted, and the quarantine."""
    warehouse, lake = home / "cx.duckdb", home / "lake"
    run = resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=lake)
    for job in plan_ingest(run):
        ingest_entity(run, job)
    tables: dict[str, list[tuple]] = {}
    with contextlib.closing(duckdb.connect(str(warehouse))) as con:
        names = con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
        for (name,) in names:
            cols = [c for (c,) in con.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = ? order by column_name", [name]).fetchall()
                if c not in METADATA]  # fmt: skip
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f"select {select} from raw.{name}").fetchall()
            if rows:
                tables[name] = sorted(rows, key=repr)
        quarantine = con.execute(
            "select source, entity, field, reason from ops.quarantine"
        ).fetchall()
        # a bad record repeated at a time-based page boundary is quarantined once per page it
        # is on (quarantine ids are per file and row): compare what was quarantined, not how often
        tables["ops.quarantine"] = sorted(set(quarantine), key=repr)
    return tables
