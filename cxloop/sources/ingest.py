"""Ingest: plan each configured source's entity files, land them, count what happened.

`resolve_run` fills in the paths, `plan_ingest` finds one job per entity (`select_jobs` keeps
the named sources), `ingest_entity` lands one job's new files, `entity_counts` and `build_report`
make the run report (rows read = landed + quarantined + duplicate + erased, the last being
rows of erased people that their tombstones dropped: cxloop.erasure). The `ingest` flow runs one
task per job; nothing here imports Prefect.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cxloop.config import ProjectConfig, find_config, load_config
from cxloop.errors import ConfigError, SourceError
from cxloop.settings import Paths
from cxloop.sources import ADAPTERS
from cxloop.sources.landing import (
    EntityLanding,
    LandResult,
    landed_files,
    note_redelivery,
    prepare_batch,
    raw_exists,
)
from cxloop.sources.readers import file_sha256
from cxloop.sources.recovery import recover_lake
from cxloop.sources.spill import Spill, Spilled
from cxloop.warehouse import connect

COUNTS = ("files", "read", "landed", "quarantined", "duplicate", "erased", "skipped_files")


@dataclass(frozen=True)
class IngestRun:
    """Where one ingest run reads and writes."""

    sources_dir: Path
    config: ProjectConfig
    warehouse: Path
    lake_dir: Path


@dataclass(frozen=True)
class EntityJob:
    """The files of one entity of one configured source."""

    source_name: str
    kind: str
    entity: str
    files: list[Path] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Report key, e.g. `salesforce.account`."""
        return f"{self.kind}.{self.entity}"


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
    run: IngestRun, job: EntityJob, con: duckdb.DuckDBPyConnection | None = None
) -> list[LandResult]:
    """Parse every new file of one entity (all before any lands), then land each in turn.

    Each file is validated and hashed as soon as it is parsed (`prepare_batch`) and its rows
    wait on disk (`Spill`), so memory does not grow with the number of files; `EntityLanding`
    then asks the warehouse once per entity and lands each file in its own transaction.
    """
    if con is None:
        with contextlib.closing(connect(run.warehouse)) as own:
            return ingest_entity(run, job, own)
    with paused_gc():
        return _ingest_entity(run, job, con)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (restored after; reference counting goes on).

    Parsing a JSON page allocates containers by the hundred thousand, and every collection they
    trigger walks the objects kept alive so far again (about 40% of Zendesk parsing time at
    scale 1, docs/ingest.md). Parsed rows hold no reference cycles, so nothing is kept longer.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _ingest_entity(
    run: IngestRun, job: EntityJob, con: duckdb.DuckDBPyConnection
) -> list[LandResult]:
    source = run.config.sources[job.source_name]
    adapter = ADAPTERS[job.kind]
    recover_lake(con, run.lake_dir, job.kind, job.entity)  # what a killed run left half done
    landed = landed_files(con, job.entity, job.kind)
    skipped: list[LandResult] = []
    with Spill(run.lake_dir, job.kind, job.entity) as spill:
        pending: list[tuple[Spilled, datetime]] = []
        candidates: list[str] = []  # the new files' content hashes: what raw may hold already
        in_raw = raw_exists(con, job.kind, job.entity)  # a first landing needs none
        for path in job.files:
            rel = path.relative_to(run.sources_dir).as_posix()
            sha = file_sha256(path.read_bytes())
            mtime = file_mtime(path)
            if sha in landed:
                note_redelivery(con, job.entity, sha, job.kind, mtime)  # keeps the source fresh
                batch_id = f"{job.kind}-{job.entity}-{sha[:12]}"
                skipped.append(LandResult(batch_id, job.kind, job.entity, rel, 0, 0, 0, 0, True))
            else:
                prepared = prepare_batch(adapter.read_file(job.entity, path, rel, source))
                if in_raw:
                    candidates.extend(prepared.hashes)
                pending.append((spill.keep(prepared), mtime))
        if not pending:
            return skipped
        landing = EntityLanding(con, job.kind, job.entity, candidates)
        return skipped + [
            landing.land(spill.load(spilled), run.lake_dir, mtime) for spilled, mtime in pending
        ]


def file_mtime(path: Path) -> datetime:
    """The file's modification time as naive UTC (how the warehouse stores timestamps)."""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)


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
