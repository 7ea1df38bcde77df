"""Ingest: plan each configured source's entity files, land them, count what happened.

`resolve_run` fills in the paths, `plan_ingest` finds one job per entity (`select_jobs` keeps
the named sources), `ingest_entity` lands one job's new files, `entity_counts` and `build_report`
make the run report (rows read = landed + quarantined + duplicate + erased, the last being
rows of erased people that their tombstones dropped: cxloop.erasure). The `ingest` flow runs one
task per job; nothing here imports Prefect.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import duckdb

from cxloop.config import find_config, load_config
from cxloop.errors import ConfigError, SourceError
from cxloop.settings import Paths, Settings
from cxloop.sources import ADAPTERS
from cxloop.sources.jobs import EntityJob, IngestRun
from cxloop.sources.landing import (
    EntityLanding,
    LandResult,
    PreparedBatch,
    landed_files,
    note_redeliveries,
    raw_has_rows,
)
from cxloop.sources.recovery import recover_lake
from cxloop.sources.spill import Spill
from cxloop.sources.workers import EntityFile, Preparer, inline_files, paused_gc, worker_count
from cxloop.warehouse import connect, held_open

# prepared rows (Arrow IPC bytes) landed in one transaction: DuckDB holds a transaction's
# rows in memory until it commits (an entity of 1 GB in one took ~1 GB more at scale 10)
TRANSACTION_BYTES = 128 * 1024 * 1024
COUNTS = ("files", "read", "landed", "quarantined", "duplicate", "erased", "skipped_files")


def resolve_run(
    paths: Paths,
    sources_dir: str | Path,
    config_path: str | Path | None = None,
    warehouse: str | Path | None = None,
    lake_dir: str | Path | None = None,
) -> IngestRun:
    """Fill in defaults: config from find_config, warehouse and lake from CXLOOP_HOME's paths."""
    root = Path(sources_dir)
    config_file = find_config(root, Path(config_path) if config_path else None)
    return IngestRun(
        root,
        load_config(config_file),
        Path(warehouse or paths.warehouse),
        Path(lake_dir or paths.lake),
    )


def plan_ingest(run: IngestRun) -> list[EntityJob]:
    """One job per entity of every configured source we have an adapter for; folders must exist."""
    jobs: list[EntityJob] = []
    for name, source in run.config.sources.items():
        adapter = ADAPTERS.get(source.kind)
        if adapter is None:  # a kind cxloop.yaml allows but no adapter reads yet
            continue
        folder = run.sources_dir / source.path
        if not folder.is_dir():
            raise SourceError(
                str(folder),
                f"source folder of '{name}' is missing",
                expected=f"a folder of {source.kind} exports (sources.{name}.path in cxloop.yaml)",
            )
        files = adapter.find_files(folder, source)
        jobs += [
            EntityJob(name, source.kind, entity, files.get(entity, []))
            for entity in adapter.entities(source)
        ]
    return jobs


def select_jobs(jobs: list[EntityJob], only: list[str] | None) -> list[EntityJob]:
    """The jobs of the named sources (as in cxloop.yaml); all when none are named."""
    if not only:
        return jobs
    unknown = set(only) - {job.source_name for job in jobs}
    if unknown:
        raise ConfigError(f"ingest: no configured source named {', '.join(sorted(unknown))}")
    return [job for job in jobs if job.source_name in only]


def ingest_entity(
    run: IngestRun,
    job: EntityJob,
    con: duckdb.DuckDBPyConnection | None = None,
    preparer: Preparer | None = None,
) -> list[LandResult]:
    """Land every new file of one entity in one transaction, committed once all of them parsed.

    Each file is validated and hashed as soon as it is parsed (`prepare_batch`) and its rows
    wait on disk (`Spill`), so memory does not grow with the number of files; `EntityLanding`
    asks the warehouse once per entity and lands each file as soon as it is prepared, in the
    entity's transaction (when raw holds rows already, every file is parsed first: what raw
    holds is asked once for all of them). With a `preparer` (cxloop.sources.workers) its
    worker processes parsed the files.
    """
    if con is None:
        with contextlib.closing(connect(run.warehouse)) as own:
            return ingest_entity(run, job, own, preparer)
    with paused_gc():
        return _ingest_entity(run, job, con, preparer)


def preparer_for(
    run: IngestRun, jobs: list[EntityJob], workers: int | None = None
) -> contextlib.AbstractContextManager[Preparer | None]:
    """Worker processes for the jobs' files (`workers`, else the `ingest_workers` setting, else
    the machine's cores); with 0, a context of None: every file is parsed as its entity lands."""
    count = worker_count(Settings().ingest_workers if workers is None else workers)
    return Preparer(run, jobs, count) if count else contextlib.nullcontext()


def ingest_jobs(
    run: IngestRun, jobs: list[EntityJob], workers: int | None = None
) -> Iterator[tuple[EntityJob, list[LandResult]]]:
    """Land the jobs in order, their files parsed by worker processes (`preparer_for`).

    Each entity gets its own warehouse connection, as the flow's tasks do; the warehouse is
    held open meanwhile (cxloop.warehouse.held_open), as the flow holds it.
    """
    with held_open(run.warehouse), preparer_for(run, jobs, workers) as preparer:
        for job in jobs:
            yield job, ingest_entity(run, job, preparer=preparer)


def _ingest_entity(
    run: IngestRun, job: EntityJob, con: duckdb.DuckDBPyConnection, preparer: Preparer | None
) -> list[LandResult]:
    recover_lake(con, run.lake_dir, job.kind, job.entity)  # what a killed run left half done
    landed = landed_files(con, job.entity, job.kind)
    with contextlib.ExitStack() as stack:
        if preparer is None:
            spill = stack.enter_context(Spill(run.lake_dir, job.kind, job.entity))
            files: Iterable[EntityFile] = inline_files(run, job, landed, spill)
        else:  # the workers' spill folder, emptied when the entity is done
            files = preparer.files(job, landed)
            stack.callback(shutil.rmtree, preparer.spill_folder(job), ignore_errors=True)
        candidates: list[str] = []  # the new files' content hashes: what raw may hold already
        if raw_has_rows(con, job.kind, job.entity):  # asked once: every file parsed first
            files = list(files)
            candidates = [h for f in files if f.spilled for h in Spill.hashes(f.spilled)]
        results = _land_entity(con, job, files, candidates, run)
    run.digests.save()  # the files hashed so far, read again next run only if they changed
    return results


def _land_entity(
    con: duckdb.DuckDBPyConnection,
    job: EntityJob,
    files: Iterable[EntityFile],
    candidates: list[str],
    run: IngestRun,
) -> list[LandResult]:
    """Land the entity's new files in one transaction, each as soon as it is prepared.

    Nothing commits before every file parsed, so a file that fails to parse still leaves
    nothing of the entity landed. A file that fails to land leaves the files before it
    landed once the others parsed (a parse error is raised before a landing one), as when
    each file had its own transaction. The files landed before are noted as delivered again.
    Once `TRANSACTION_BYTES` of prepared files are in the open transaction, the next files
    wait until all have parsed; after the commit they land in transactions of that size.
    """
    skipped: list[LandResult] = []
    redelivered: list[EntityFile] = []
    done: list[EntityFile] = []  # landed in the open transaction
    later: list[EntityFile] = []  # to land after its commit
    open_bytes = 0
    results: list[LandResult] = []
    landing: EntityLanding | None = None  # made, and the transaction begun, at the first new file
    remaining = iter(files)
    try:
        for file in remaining:  # a file that fails to parse raises here
            if file.spilled is None:  # landed before
                batch_id = f"{job.kind}-{job.entity}-{file.sha[:12]}"
                skipped.append(
                    LandResult(batch_id, job.kind, job.entity, file.rel, 0, 0, 0, 0, True)
                )
                redelivered.append(file)
                continue
            if landing is None:
                landing = EntityLanding(con, job.kind, job.entity, candidates)
                landing.begin()
            if open_bytes >= TRANSACTION_BYTES:
                later.append(file)
                continue
            open_bytes += _size(file)
            batch = Spill.load(file.spilled, keep=True)  # kept to land again after an error
            try:
                results.append(landing.add(batch, run.lake_dir, file.mtime))
            except Exception as exc:
                landing.rollback()
                for _ in remaining:  # the other files' parse errors come first
                    pass
                landing.land_again(_reloaded(done), run.lake_dir, exc)
                raise
            done.append(file)
        _note_redeliveries(con, job, redelivered)  # in the open transaction, if any
        if landing is not None:
            landing.commit()
        redelivered.clear()  # noted for good
    except BaseException:
        if landing is not None:
            landing.rollback()  # (again, when a landing error already did: then a no-op)
        with contextlib.suppress(duckdb.Error):  # best effort: the error raised is the first
            _note_redeliveries(con, job, redelivered)
        raise
    for group in _groups(later):  # an error: the groups and files before it stay landed
        assert landing is not None
        results += landing.land_files(
            [(Spill.load(f.spilled), f.mtime) for f in group if f.spilled], run.lake_dir
        )
    return skipped + results


def _size(file: EntityFile) -> int:
    """The size of a file's prepared rows on disk (what a transaction's size is counted in)."""
    return file.spilled.path.stat().st_size if file.spilled else 0


def _groups(files: list[EntityFile]) -> Iterator[list[EntityFile]]:
    """The files in order, in groups of up to `TRANSACTION_BYTES` (at least one file each)."""
    group: list[EntityFile] = []
    size = 0
    for file in files:
        if group and size + _size(file) > TRANSACTION_BYTES:
            yield group
            group, size = [], 0
        group.append(file)
        size += _size(file)
    if group:
        yield group


def _reloaded(done: list[EntityFile]) -> list[tuple[PreparedBatch, datetime | None]]:
    return [(Spill.load(f.spilled), f.mtime) for f in done if f.spilled is not None]


def _note_redeliveries(
    con: duckdb.DuckDBPyConnection, job: EntityJob, files: list[EntityFile]
) -> None:
    """Record the files landed before as delivered again (a fresh source)."""
    if files:
        note_redeliveries(con, job.kind, job.entity, [(f.sha, f.mtime) for f in files])


def entity_counts(results: list[LandResult]) -> dict[str, int]:
    """Sum one entity's file results into the report's counts."""
    return {
        "files": len(results),
        "read": sum(r.rows_read for r in results),
        "landed": sum(r.rows_landed for r in results),
        "quarantined": sum(r.rows_quarantined for r in results),
        "duplicate": sum(r.rows_duplicate for r in results),
        "erased": sum(r.rows_erased for r in results),
        "skipped_files": sum(r.skipped for r in results),
    }


def build_report(per_entity: list[tuple[str, dict[str, int]]]) -> dict[str, dict]:
    """The JSON-able run report: counts per `source.entity` and totals."""
    entities: dict[str, dict[str, int]] = {}
    for key, counts in per_entity:
        merged = entities.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            merged[name] += counts[name]
    totals = {name: sum(c[name] for c in entities.values()) for name in COUNTS}
    return {"entities": entities, "totals": totals}
