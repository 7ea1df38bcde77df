"""`make bench`: measured speed of the whole loop; results appended to docs/benchmarks.md.

Usage: python -m benchmarks.run [--scale 1] [--seed 42]
Runs in a fresh CXLOOP_HOME under a temporary folder, so it never touches ./var.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"


def dbt_floor(home: Path, sources: Path) -> float:
    """Seconds of a plain `dbt build --threads 1` of the project on the same warehouse."""
    from cxloop.config import load_project
    from cxloop.dbt import dbt_vars, invoke_dbt
    from cxloop.settings import Settings

    _, config = load_project(sources, None)
    run = invoke_dbt(
        ["build", "--exclude-resource-type", "unit_test", "--threads", "1"],
        home=home / "floor",
        vars_=dbt_vars(config),
        warehouse=Settings().paths.warehouse,
    )
    return run.seconds


# Zendesk's incremental exports deliver the newest records in the last pages: holding those
# back from the first runs and delivering them later is what a day's new data looks like.
NEWEST_PAGES = ("zendesk/ticket_events", "zendesk/tickets", "zendesk/satisfaction_ratings")


def page_rows(path: Path) -> int:
    """Records in one Zendesk export page (its one list-valued key)."""
    page = json.loads(path.read_bytes())
    return sum(len(v) for v in page.values() if isinstance(v, list))


def hold_back_newest(sources: Path, held: Path, share: float, total_rows: int) -> int:
    """Move the newest export pages (round robin over NEWEST_PAGES, last page first) out of
    `sources` into `held` until they hold at least `share` of `total_rows`; their rows."""
    queues = {e: sorted((sources / e).glob("*.json")) for e in NEWEST_PAGES}
    rows, target = 0, share * total_rows
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
    """Put the held-back pages in place, as a new delivery."""
    for page in held.rglob("*.json"):
        shutil.move(page, sources / page.relative_to(held))


def timed_run(sources: Path) -> tuple[float, dict[str, object]]:
    from cxloop.flows.pipeline import pipeline

    t0 = time.perf_counter()
    report = pipeline(str(sources))
    return time.perf_counter() - t0, report


def bench_pipeline(scale: float, seed: int, new_share: float = 0.01) -> dict[str, object]:
    """Generate demo sources at `scale`, run the pipeline four times, time the dbt floor.

    The newest Zendesk pages (`new_share` of the source rows) are held back. The first run
    lands the rest; the second has no new source data but the first run's sends (the loop
    closes: what reads the playbook ledger is rebuilt); the third has nothing new at all; the
    fourth gets the held-back pages (a run with 1% new data). The floor is a plain dbt build
    on the same warehouse, measured in the same run.
    """
    with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp:
        os.environ["CXLOOP_HOME"] = str(Path(tmp) / "home")
        from cxloop.demo.generator import generate

        sources, held = Path(tmp) / "sources", Path(tmp) / "held-back"
        t0 = time.perf_counter()
        counts = generate(sources, scale=scale, seed=seed)
        gen_s = time.perf_counter() - t0
        source_rows = sum(n for name, n in counts.items() if not name.startswith("truth."))
        new_rows = hold_back_newest(sources, held, new_share, source_rows)
        runs = [timed_run(sources) for _ in range(3)]
        deliver(held, sources)
        runs.append(timed_run(sources))
        floor = dbt_floor(Path(tmp), sources)
    (total, first), (second_s, _), (third_s, third), (new_s, new) = runs
    return {
        "scale": scale,
        "source_rows": source_rows,  # the exports' records (not the generator's truth files)
        "first_run_rows": first["ingest"]["totals"]["read"],  # type: ignore[index]
        "generate_s": round(gen_s, 1),
        "pipeline_s": round(total, 1),
        "stages": first["durations"],
        "second_s": round(second_s, 1),
        "nothing_new_s": round(third_s, 1),
        "nothing_new_skipped": sorted(third.get("skipped", {})),
        "new_rows": new_rows,
        "new_s": round(new_s, 1),
        "new_stages": new["durations"],
        "ratio_new": round(new_s / total, 3),
        "dbt_floor_s": round(floor, 1),
        "ratio_floor": round(total / floor, 2),
        "ratio_nothing_new": round(third_s / total, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "status": [first["status"], third["status"], new["status"]],
    }


def append_results(result: dict[str, object]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())  # type: ignore[union-attr]
    line = (
        f"| {stamp} | pipeline | {result['scale']} | {result['source_rows']:,} | "
        f"{result['generate_s']} s | {result['pipeline_s']} s | {stages}; "
        f"dbt floor {result['dbt_floor_s']} s (pipeline {result['ratio_floor']}x); "
        f"2nd run {result['second_s']} s; nothing new {result['nothing_new_s']} s "
        f"({result['ratio_nothing_new']}x); {result['new_rows']:,} new rows "
        f"({100 * result['new_rows'] / result['source_rows']:.1f}%) {result['new_s']} s "
        f"({result['ratio_new']}x) | "
        f"{result['peak_rss_mb']} MB | {os.cpu_count()} cores, {platform.python_version()} |\n"
    )
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmarks\n\nAppended by `make bench` (`python -m benchmarks.run`). Wall-clock "
            "seconds on the machine named in the last column; the temporary Prefect server's "
            "start-up is inside the pipeline time.\n\n"
            "| when | benchmark | scale | source rows | generate | pipeline | stages | "
            "peak RSS | machine |\n|---|---|---|---|---|---|---|---|---|\n"
        )
    with RESULTS.open("a") as fh:
        fh.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    result = bench_pipeline(args.scale, args.seed)
    print(result)
    print(
        f"pipeline {result['pipeline_s']} s = {result['ratio_floor']}x the dbt floor "
        f"({result['dbt_floor_s']} s; goal <= 2x); nothing new {result['nothing_new_s']} s = "
        f"{result['ratio_nothing_new']}x the first run (goal <= 10 s and <= 0.15x); "
        f"{result['new_rows']:,} new rows {result['new_s']} s = {result['ratio_new']}x the "
        "first run (goal <= 0.2x)"
    )
    append_results(result)


if __name__ == "__main__":
    main()
