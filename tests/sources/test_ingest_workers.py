"""Ingest with worker processes (cxloop.sources.workers) lands what ingest in one process does.

On the hand-written fixture folder: two workers and none give the same report, raw tables, lake
files and ops records; a file a worker cannot parse raises the same one-line error, in the main
process, as it does without workers, and what came before it stays landed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import ingest_report, ingest_run

from cxloop.errors import SourceError
from cxloop.sources import workers
from cxloop.sources.digests import DIGESTS_FILE
from cxloop.sources.ingest import IngestRun, plan_ingest

VOLATILE = {"_loaded_at", "loaded_at", "last_delivered_at", "quarantined_at", "file_mtime"}


def _contents(run: IngestRun) -> dict[str, list[tuple]]:
    """Every table of raw and ops, rows in landing order, without the landing times."""
    con = duckdb.connect(str(run.warehouse), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('raw', 'ops') order by all"
        ).fetchall()
        found = {}
        for schema, table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() "
                    "where schema_name = ? and table_name = ? order by column_index",
                    [schema, table],
                ).fetchall()
                if name not in VOLATILE
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            found[f"{schema}.{table}"] = con.execute(
                f'select {select} from {schema}."{table}"'  # insertion order: landing order
            ).fetchall()
        return found
    finally:
        con.close()


def _lake(run: IngestRun) -> list[str]:
    """The lake's files, but the hash memo (written only for files that settled in time)."""
    return sorted(
        p.relative_to(run.lake_dir).as_posix()
        for p in run.lake_dir.rglob("*")
        if p.name != DIGESTS_FILE
    )


@pytest.fixture(autouse=True)
def workers_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the workers for the fixtures' few KB (else they are parsed in the main process)."""
    monkeypatch.setattr(workers, "START_BYTES", 0)


def test_two_workers_land_what_one_process_lands(sources: Path, tmp_path: Path) -> None:
    alone, pooled = (
        ingest_run(sources, tmp_path / "alone"),
        ingest_run(sources, tmp_path / "pooled"),
    )
    report = ingest_report(alone, 0)
    assert ingest_report(pooled, 2) == report
    assert report["totals"]["files"] == 13 and report["totals"]["landed"] == 21
    assert _contents(pooled) == _contents(alone)
    assert _lake(pooled) == _lake(alone)
    assert not (pooled.lake_dir / ".spill").exists() or not any(
        (pooled.lake_dir / ".spill").rglob("*.arrow")
    )
    again = ingest_report(pooled, 2)  # every file landed before: skipped by its sha256, none parsed
    assert again["totals"]["skipped_files"] == 13 and again["totals"]["landed"] == 0


def test_a_workers_parse_error_is_the_same_one_line_error(sources: Path, tmp_path: Path) -> None:
    bad = sources / "zendesk" / "users" / "zz-truncated.json"
    bad.write_text('{"users": [{"id": 9, "name": "Cut', encoding="utf-8")
    errors = {}
    for count in (0, 2):
        run = ingest_run(sources, tmp_path / f"w{count}")
        with pytest.raises(SourceError) as raised:
            ingest_report(run, count)
        errors[count] = str(raised.value)
        landed = _contents(run)
        assert "raw.zendesk__users" not in landed  # nothing of the entity lands
        assert landed["raw.salesforce__account"]  # what landed before it stays
    assert errors[2] == errors[0]
    assert errors[0].startswith("zendesk/users/zz-truncated.json") and "\n" not in errors[0]
    shutil.rmtree(tmp_path / "w0")


def test_workers_start_before_hashing_only_for_files_of_new_names(
    sources: Path, tmp_path: Path
) -> None:
    run = ingest_run(sources, tmp_path / "home")
    jobs = plan_ingest(run)
    everything = sum(path.stat().st_size for job in jobs for path in job.files)
    with workers.Preparer(run, jobs, 1) as preparer:  # a first run: every name is new
        assert preparer._unseen_bytes(preparer.con) == everything > 0
    ingest_report(run, 0)
    page = sources / "zendesk" / "users" / "zz-new.json"
    page.write_text('{"users": [{"id": 9, "name": "New"}]}', encoding="utf-8")
    jobs = plan_ingest(run)
    with workers.Preparer(run, jobs, 1) as preparer:  # only the new page's name is unseen
        assert preparer._unseen_bytes(preparer.con) == page.stat().st_size


def test_a_source_file_gone_before_it_was_hashed_leaves_no_worker_and_no_connection(
    sources: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = ingest_run(sources, tmp_path / "home")
    jobs = plan_ingest(run)
    started: list[workers.Preparer] = []
    hash_ahead = workers.Preparer._hash_ahead

    def file_gone(self: workers.Preparer, *args: object) -> None:
        started.append(self)
        jobs[0].files[0].unlink()  # moved away by an operator once the workers started
        hash_ahead(self, *args)

    monkeypatch.setattr(workers.Preparer, "_hash_ahead", file_gone)
    with pytest.raises(FileNotFoundError), workers.Preparer(run, jobs, 1):
        pass
    (preparer,) = started
    assert preparer.con is None  # the warehouse is let go
    assert preparer.pool is not None  # a first run: started before hashing ...
    assert all(w.process.poll() is not None for w in preparer.pool.workers)  # ... and stopped
    duckdb.connect(str(run.warehouse)).close()  # the file lock is free
