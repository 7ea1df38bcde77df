"""Ingest benchmark: land a demo sources folder into a fresh warehouse, then land it again.

Usage: python -m benchmarks.ingest [--scale 1] [--seed 42] [--sources DIR] [--work DIR]

Preparation, not timed: demo sources are generated in a child process (so that the
generator's memory is not counted) into --sources DIR, or into a temporary folder. A --sources
folder that already holds a `cxloop.yaml` is used as it is (generated once, reused by later
runs; its scale is whatever it was generated with).

Timed: the floor, DuckDB's own readers (`read_csv`, `read_json`) loading the same Salesforce
and Zendesk files (FLOOR_KINDS), one entity at a time, into an in-memory table (the work ingest
cannot go below; `ratio_to_floor` compares the ingest of those same entities); then the
ingest library (`cxloop.sources.ingest`: plan, then `ingest_entity` per entity, as
the ingest flow's tasks do, without Prefect) into a fresh warehouse and lake (first run: every
file lands), then the same again (second run: every file is skipped by its sha256). Seconds
per source entity come from timing each `ingest_entity` call (each with its own warehouse
connection, as the flow's tasks), the files parsed by `--workers` worker processes
(`ingest_jobs`; default the `ingest_workers` setting: the machine's cores). CPU seconds are
this process's and, apart, its workers'. Peak memory is the process's
peak RSS (`ru_maxrss`) after the runs, and this process's and its workers' together during
the first run (sampled every 50 ms); `--skip-floor` leaves the floor out (a
large scale's peak memory is then the ingest's alone).
The warehouse and lake live under --work DIR when given (kept, for inspection; the folder
must not exist yet), else in a temporary folder. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.memory import PeakRss


def prepare_sources(sources: Path, scale: float, seed: int) -> bool:
    """Generate demo sources into `sources` unless it already holds some; True if generated."""
    if (sources / "cxloop.yaml").is_file():
        return False
    subprocess.run(  # a child process: the generator's memory is not the ingest's
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from cxloop.demo.generator import generate; "
         "generate(Path(sys.argv[1]), scale=float(sys.argv[2]), seed=int(sys.argv[3]))",
         str(sources), str(scale), str(seed)],
        check=True,
    )  # fmt: skip
    return True


def _rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# UTF-8 formats DuckDB reads as they are (survey exports come in any encoding)
FLOOR_KINDS = ("salesforce", "zendesk", "hubspot", "sendgrid")


def _entity_files(sources: Path) -> dict[str, tuple[str, list[Path]]]:
    """Every entity's files as ingest plans them, with the reader the floor uses for them."""
    from cxloop.settings import Settings
    from cxloop.sources import ingest as lib

    run = lib.resolve_run(Settings().paths, sources, warehouse=Path("unused"))
    found: dict[str, tuple[str, list[Path]]] = {}
    for job in lib.plan_ingest(run):
        if job.files and job.kind in FLOOR_KINDS:
            reader = "json" if job.files[0].suffix == ".json" else "csv"
            found[job.key] = (reader, job.files)
    return found


def timed_floor(sources: Path) -> dict[str, Any]:
    """DuckDB's readers over the same files: each entity into an in-memory table of text."""
    import duckdb

    files = _entity_files(sources)
    for _, paths in files.values():  # warm the page cache, as the ingest run will find it
        for path in paths:
            path.read_bytes()
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    for n, (key, (reader, paths)) in enumerate(files.items()):
        t_entity = time.perf_counter()
        names = [str(p) for p in paths]
        # CSV: every value as text, as ingest keeps it; JSON: DuckDB's own types per page
        options = (
            "all_varchar = true, union_by_name = true" if reader == "csv" else "format = 'auto'"
        )
        con.execute(f"create table t{n} as select * from read_{reader}(?, {options})", [names])
        seconds[key] = round(time.perf_counter() - t_entity, 2)
    total = time.perf_counter() - t0
    con.close()
    return {"seconds": round(total, 2), "seconds_per_entity": seconds}


def timed_ingest(
    sources: Path, warehouse: Path, lake: Path, workers: int | None = None
) -> dict[str, Any]:
    """One ingest of the folder: total seconds, seconds per entity and per source, counts."""
    from cxloop.settings import Settings
    from cxloop.sources import ingest as lib

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    run = lib.resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=lake)
    per_entity = []
    t_job = time.perf_counter()
    # as the flow does: worker processes parse, each entity lands on its own connection
    for job, results in lib.ingest_jobs(run, lib.plan_ingest(run), workers):
        per_entity.append((job.key, lib.entity_counts(results)))
        seconds[job.key] = seconds.get(job.key, 0.0) + time.perf_counter() - t_job
        t_job = time.perf_counter()
    report = lib.build_report(per_entity)
    total = time.perf_counter() - t0
    per_source: dict[str, float] = {}
    for key, value in seconds.items():
        source = key.split(".", 1)[0]
        per_source[source] = per_source.get(source, 0.0) + value
    entities = {
        key: {"seconds": round(seconds.get(key, 0.0), 2), **counts}
        for key, counts in report["entities"].items()
    }
    return {
        "seconds": round(total, 2),
        "seconds_per_source": {k: round(v, 2) for k, v in per_source.items()},
        "totals": report["totals"],
        "entities": entities,
    }


def bench_ingest(
    scale: float,
    seed: int = 42,
    sources: Path | None = None,
    work: Path | None = None,
    floor: bool = True,
    workers: int | None = None,
) -> dict[str, object]:
    """Generate (or reuse) demo sources, then time a first and a second ingest of them."""
    with tempfile.TemporaryDirectory(prefix="cxbench-ingest-") as tmp:
        sources = (sources or Path(tmp) / "sources").resolve()
        t0 = time.perf_counter()
        generated = prepare_sources(sources, scale, seed)
        generate_s = time.perf_counter() - t0
        if work is not None and work.exists():
            raise SystemExit(f"{work}: already exists; --work must name a new folder")
        work = (work or Path(tmp) / "work").resolve()
        os.environ["CXLOOP_HOME"] = str(work / "home")  # nothing may fall back to ./var
        import duckdb

        import cxloop.sources.ingest  # noqa: F401  (imports are not part of the timing)

        floor_run = timed_floor(sources) if floor else None
        rss_before = _rss_mb()
        cpu0 = time.process_time()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with PeakRss() as together:
            first = timed_ingest(sources, work / "warehouse" / "cx.duckdb", work / "lake", workers)
        first_cpu = time.process_time() - cpu0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers_cpu = (children.ru_utime + children.ru_stime) - (
            children0.ru_utime + children0.ru_stime
        )
        rss_first = _rss_mb()
        floor_part = sum(
            entity["seconds"]
            for key, entity in first["entities"].items()
            if key.split(".", 1)[0] in FLOOR_KINDS
        )
        second = timed_ingest(sources, work / "warehouse" / "cx.duckdb", work / "lake", workers)
        return {
            "benchmark": "ingest",
            "scale": scale if generated else "reused",
            "sources": str(sources),
            "generated_s": round(generate_s, 1) if generated else None,
            "rows_read": first["totals"]["read"],
            "first_run_s": first["seconds"],
            "floor_s": floor_run["seconds"] if floor_run else None,
            "ingest_of_floor_entities_s": round(floor_part, 2),
            "ratio_to_floor": round(floor_part / floor_run["seconds"], 2) if floor_run else None,
            "workers": workers,
            "first_run_cpu_s": round(first_cpu, 2),
            "first_run_workers_cpu_s": round(workers_cpu, 2),
            "first_run": first,
            "floor": floor_run,
            "second_run": {
                "seconds": second["seconds"],
                "seconds_per_source": second["seconds_per_source"],
                "totals": second["totals"],
            },
            "rows_per_second": round(first["totals"]["read"] / first["seconds"]),
            "rss_before_mb": rss_before,
            "peak_rss_first_run_mb": rss_first,
            "peak_rss_mb": _rss_mb(),
            # this process and its worker processes together, sampled every 50 ms
            "peak_rss_with_workers_first_run_mb": together.mb,
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"DuckDB {duckdb.__version__}",
        }


def main() -> None:
    """CLI entry: print the benchmark result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sources", type=Path, help="demo sources to reuse (generated if empty)")
    parser.add_argument("--work", type=Path, help="new folder to keep the warehouse and lake in")
    parser.add_argument("--skip-floor", action="store_true", help="time the ingest alone")
    parser.add_argument(
        "--workers", type=int, help="worker processes (default: CXLOOP_INGEST_WORKERS, cores)"
    )
    args = parser.parse_args()
    result = bench_ingest(
        args.scale, args.seed, args.sources, args.work, not args.skip_floor, args.workers
    )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
