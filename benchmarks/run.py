"""`make bench`: measured speed of the whole loop; results appended to docs/benchmarks.md.

Usage: python -m benchmarks.run [--scale 1] [--seed 42] [--first-only]
Runs in a fresh CXLOOP_HOME under a temporary folder, so it never touches ./var. Each run of
the pipeline is a fresh process, as a scheduled `cxloop run` or a deployment's run is. The
runs talk to a Prefect server started before them (as a deployment's runs do;
`prefect_server_s` says how long it took to answer); `benchmarks.demo` times the CLI, whose
own server start it includes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.memory import PeakRss

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"


FLOOR_CODE = """
import json, sys, time
from pathlib import Path
from cxloop.config import load_project
from cxloop.dbt import dbt_vars, invoke_dbt
from cxloop.settings import Settings
_, config = load_project(Path(sys.argv[1]), None)
t0 = time.perf_counter()
run = invoke_dbt(
    ["build", "--exclude-resource-type", "unit_test", "--threads", "1", *sys.argv[3:]],
    home=Path(sys.argv[2]), vars_=dbt_vars(config), warehouse=Settings().paths.warehouse,
)
print(json.dumps({"seconds": time.perf_counter() - t0, "success": run.success}))
"""


def dbt_floor(home: Path, sources: Path, full_refresh: bool = True) -> float:
    """Seconds of a plain `dbt build --threads 1` of the project on the same warehouse.

    In a child process of its own, as a user runs it: dbt parses the project (no manifest
    shared with the pipeline's runs or the other floor), then builds and tests every node.
    `full_refresh` (the floor the first run is compared with): the incremental models rebuilt
    whole, as a first run builds them; without it they add only what is new, i.e. nearly
    nothing after the runs.
    """
    refresh = ["--full-refresh"] if full_refresh else []
    target = home / ("floor" if full_refresh else "floor-plain")  # each parses the project
    done = subprocess.run(
        [sys.executable, "-c", FLOOR_CODE, str(sources), str(target), *refresh],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


# Zendesk's incremental exports deliver the newest records in the last pages: holding those
# back from the first runs and delivering them later is what a day's new data looks like.
NEWEST_PAGES = ("zendesk/ticket_events", "zendesk/tickets", "zendesk/satisfaction_ratings")
# A Qualtrics pull (cxloop.connectors.qualtrics) lands a day's new responses of a survey as a
# new export file its `file` glob matches; the demo maps the relational NPS survey by a glob.
NEWEST_RESPONSES = ("qualtrics", "Relational_NPS_*.csv", "Relational_NPS_pull-00000001.csv")
QUALTRICS_HEADER_ROWS = 3


def page_rows(path: Path) -> int:
    """Records in one Zendesk export page (its one list-valued key)."""
    page = json.loads(path.read_bytes())
    return sum(len(v) for v in page.values() if isinstance(v, list))


def hold_back_responses(sources: Path, held: Path, share: float) -> int:
    """Move the newest `share` of the NEWEST_RESPONSES survey's responses (by RecordedDate) out
    of its export files into one new export file in `held`, as a later pull lands them; the
    responses moved. The files' three header rows are kept; every file must have the same."""
    folder, pattern, pull_name = NEWEST_RESPONSES
    files = sorted((sources / folder).glob(pattern))
    if not files:
        raise ValueError(f"{sources / folder}: no export file matches {pattern}")
    tables = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            tables[path] = list(csv.reader(handle))
    headers = {tuple(map(tuple, rows[:QUALTRICS_HEADER_ROWS])) for rows in tables.values()}
    if len(headers) != 1:
        raise ValueError(f"{folder}/{pattern}: the export files' header rows differ")
    header = [list(row) for row in next(iter(headers))]
    recorded = header[0].index("RecordedDate")
    rows = [  # a row whose date does not parse stays (ingest quarantines it: no new data)
        (when, path, number)
        for path, table in tables.items()
        for number, row in enumerate(table[QUALTRICS_HEADER_ROWS:])
        if (when := recorded_date(row[recorded])) is not None
    ]
    newest = sorted(rows)[len(rows) - int(share * len(rows)) :]
    if not newest:
        return 0
    moved = {(path, number) for _, path, number in newest}
    for path, table in tables.items():
        kept = [r for n, r in enumerate(table[QUALTRICS_HEADER_ROWS:]) if (path, n) not in moved]
        if len(kept) < len(table) - QUALTRICS_HEADER_ROWS:
            write_csv(path, header + kept)
    pulled = [tables[path][QUALTRICS_HEADER_ROWS + number] for _, path, number in newest]
    (held / folder).mkdir(parents=True, exist_ok=True)
    write_csv(held / folder / pull_name, header + pulled)
    return len(pulled)


def recorded_date(value: str) -> datetime | None:
    """A Qualtrics RecordedDate (`2026-10-30 12:58:46`), None when it does not parse."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def hold_back_newest(sources: Path, held: Path, share: float, total_rows: int) -> int:
    """Hold back a day's new data, at least `share` of `total_rows`: the newest survey
    responses (`share` of theirs, hold_back_responses), then the newest Zendesk export pages
    (round robin over NEWEST_PAGES, last page first) until the total is reached; its rows."""
    rows = hold_back_responses(sources, held, share)
    queues = {e: sorted((sources / e).glob("*.json")) for e in NEWEST_PAGES}
    target = share * total_rows
    while rows < target and any(len(q) > 1 for q in queues.values()):
        for entity, queue in queues.items():
            if rows >= target or len(queue) <= 1:
                continue
            page = queue.pop()
            rows += page_rows(page)
            (held / entity).mkdir(parents=True, exist_ok=True)
            shutil.move(page, held / entity / page.name)
    return rows


def deliver(held: Path, sources: Path) -> None:
    """Put the held-back files in place, as a new delivery."""
    for path in [p for p in held.rglob("*") if p.is_file()]:
        shutil.move(path, sources / path.relative_to(held))


def prefect_api(home: Path) -> tuple[float | None, int | None]:
    """Start a Prefect API before the timed runs, as a deployment has one running: seconds
    until it answered and its process id (None, None when the environment configures one).
    The server's start is the CLI's cost, measured with it by `benchmarks.demo`; without this,
    Prefect's ephemeral mode would start one inside the first timed run (~7 s,
    docs/benchmarks.md)."""
    from cxloop.flows.prefect_api import TemporaryServer, api_may_be_configured

    if "prefect" in sys.modules or api_may_be_configured(Path.cwd(), os.environ):
        return None, None
    t0 = time.perf_counter()
    server = TemporaryServer(home / "logs" / "prefect-server.log")
    server.start()  # stopped when this process exits
    server.wait()
    pid = server.process.pid if server.process else None
    return round(time.perf_counter() - t0, 1), pid


MAX_SETTLING = 5  # runs after the first, waiting for one with nothing new


# One run of the pipeline in a process of its own, as a scheduled `cxloop run` or a deployment's
# flow run is: its imports, dbt's parse and DuckDB's cache start cold. Timed from the pipeline's
# call, its flow module (Prefect) imported, on the demo's pinned clock, as `cxloop demo` runs:
# what the playbooks send (quiet hours, the cap per run) then does not depend on the hour.
RUN_CODE = """
import json, resource, sys, time
from cxloop.demo.workspace import DEMO_CLOCK
from cxloop.flows.pipeline import pipeline
t0 = time.perf_counter()
report = pipeline(sys.argv[1], now=DEMO_CLOCK)
seconds = time.perf_counter() - t0
result = {
    "seconds": seconds,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "status": report["status"],
    "durations": report["durations"],
    "skipped": report.get("skipped", {}),
    "read": report.get("ingest", {}).get("totals", {}).get("read"),
}
with open(sys.argv[2], "w") as fh:
    json.dump(result, fh, default=str)
"""


def timed_run(sources: Path, log: Path) -> tuple[float, dict[str, Any]]:
    """One pipeline run in a fresh child process (`RUN_CODE`): its seconds and its summary
    (status, durations, skipped stages, rows read, the process's peak RSS). Its output is
    appended to `log`, whose end is raised with a failed run."""
    out = log.with_suffix(".json")
    out.unlink(missing_ok=True)
    with log.open("ab") as fh:
        done = subprocess.run(
            [sys.executable, "-c", RUN_CODE, str(sources), str(out)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    if done.returncode != 0 or not out.is_file():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"pipeline run failed (exit {done.returncode}):\n{tail}")
    result = json.loads(out.read_text())
    return float(result["seconds"]), result


def generate_in_child(sources: Path, scale: float, seed: int) -> tuple[float, dict[str, int]]:
    """Generate demo sources in a child process (its memory is not the pipeline's peak):
    seconds, rows per output entity."""
    code = (
        "import json, sys; from pathlib import Path; from cxloop.demo.generator import generate; "
        "print(json.dumps(generate(Path(sys.argv[1]), scale=float(sys.argv[2]), "
        "seed=int(sys.argv[3]))))"
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(sources), str(scale), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, json.loads(done.stdout.strip().splitlines()[-1])


def bench_pipeline(
    scale: float, seed: int, new_share: float = 0.01, first_only: bool = False
) -> dict[str, object]:
    """Generate demo sources at `scale`, run the pipeline four times, time the dbt floor.

    A day's new data (`new_share` of the source rows: the newest survey responses as a new pull
    file, then the newest Zendesk pages; hold_back_newest) is held back. The first run
    lands the rest; the next have no new source data but the earlier runs' sends (the loop
    closes: what reads the playbook ledger is rebuilt; a playbook's cap per run can leave due
    sends to the next run), until one has nothing new at all (its build skipped; at most
    MAX_SETTLING runs); then one gets the held-back files (a run with 1% new data). The floor
    is a plain dbt build on the same warehouse with --full-refresh (the first run's work; the
    same without it is reported too), measured in the same run. With `first_only`
    (large scales): one run of everything, then the floor. Each run is a process of its own
    (`timed_run`), as scheduled runs are: none inherits the imports, parsed project or cache of
    the run before it. Peak RSS: the largest run process's, and with the helper processes the
    runs start (and the floor's), sampled.
    """
    with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp:
        os.environ["CXLOOP_HOME"] = str(Path(tmp) / "home")
        sources, held = Path(tmp) / "sources", Path(tmp) / "held-back"
        server_s, server_pid = prefect_api(Path(tmp) / "home")  # starts while nothing else runs
        gen_s, counts = generate_in_child(sources, scale, seed)
        source_rows = sum(n for name, n in counts.items() if not name.startswith("truth."))
        new_rows = 0 if first_only else hold_back_newest(sources, held, new_share, source_rows)
        # the helper processes a run starts count (ingest's workers, dbt's parse child), the
        # Prefect server started beside the runs does not
        with PeakRss(exclude={server_pid} if server_pid else None, interval=0.2) as together:
            log = Path(tmp) / "runs.log"
            runs = [timed_run(sources, log)]
            while not first_only and len(runs) <= MAX_SETTLING:  # until nothing new is left
                runs.append(timed_run(sources, log))
                if "build" in runs[-1][1]["skipped"]:
                    break
            if not first_only:
                deliver(held, sources)
                runs.append(timed_run(sources, log))
            floor = dbt_floor(Path(tmp), sources)
            floor_plain = dbt_floor(Path(tmp), sources, full_refresh=False)
    total, first = runs[0]
    result: dict[str, object] = {
        "scale": scale,
        "source_rows": source_rows,  # the exports' records (not the generator's truth files)
        "first_run_rows": first["read"],
        "generate_s": round(gen_s, 1),
        "prefect_server_s": server_s,  # started before the runs, not in them
        "pipeline_s": round(total, 1),
        "stages": first["durations"],
        "dbt_floor_s": round(floor, 1),  # --full-refresh: the first run's work
        "dbt_floor_plain_s": round(floor_plain, 1),  # the incremental models add nothing new
        "ratio_floor": round(total / floor, 2),
        "peak_rss_mb": round(max(report["rss_mb"] for _, report in runs)),  # a run's process
        "peak_rss_with_helpers_mb": together.mb,
        "status": [report["status"] for _, report in runs],
    }
    if not first_only:
        (second_s, _), (third_s, third), (new_s, new) = runs[1], runs[-2], runs[-1]
        result |= {
            "second_s": round(second_s, 1),
            "settling_runs_s": [round(s, 1) for s, _ in runs[2:-2]],  # sends still due
            "settled": "build" in third["skipped"],
            "nothing_new_s": round(third_s, 1),
            "nothing_new_skipped": sorted(third["skipped"]),
            "ratio_nothing_new": round(third_s / total, 3),
            "new_rows": new_rows,
            "new_s": round(new_s, 1),
            "new_stages": new["durations"],
            "ratio_new": round(new_s / total, 3),
        }
    return result


def summary_line(result: dict[str, object]) -> str:
    """What the run measured, against each goal of issue #12."""
    parts = [
        f"pipeline {result['pipeline_s']} s = {result['ratio_floor']}x the dbt floor "
        f"({result['dbt_floor_s']} s with --full-refresh, {result['dbt_floor_plain_s']} s "
        "without; goal <= 2x)"
    ]
    if "nothing_new_s" in result:
        quiet = (
            "nothing new"
            if result["settled"]
            else f"no run with nothing new in {MAX_SETTLING} (a build ran in each); the last"
        )
        parts += [
            f"{quiet} {result['nothing_new_s']} s = {result['ratio_nothing_new']}x the "
            "first run (goal <= 10 s and <= 0.15x)",
            f"{result['new_rows']:,} new rows "
            f"({100 * result['new_rows'] / result['source_rows']:.1f}%) "  # type: ignore[operator]
            f"{result['new_s']} s = {result['ratio_new']}x the first run (goal <= 0.2x)",
        ]
    else:
        parts.append(
            f"peak RSS {result['peak_rss_mb']} MB, {result['peak_rss_with_helpers_mb']} MB with "
            "its helper processes (scale 10 goal: <= 300 s, <= 4 GB)"
        )
    return "; ".join(parts)


def append_results(result: dict[str, object]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())  # type: ignore[union-attr]
    line = (
        f"| {stamp} | pipeline | {result['scale']} | {result['source_rows']:,} | "
        f"{result['generate_s']} s | {result['pipeline_s']} s | {stages}; "
        f"{summary_line(result)} | "
        f"{result['peak_rss_mb']} MB ({result['peak_rss_with_helpers_mb']} MB with helpers) | "
        f"{os.cpu_count()} cores, {platform.python_version()} |\n"
    )
    with RESULTS.open("a") as fh:
        fh.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--first-only", action="store_true", help="one run and the floor (for large scales)"
    )
    args = parser.parse_args()
    result = bench_pipeline(args.scale, args.seed, first_only=args.first_only)
    print(result)
    print(summary_line(result))
    append_results(result)


if __name__ == "__main__":
    main()
