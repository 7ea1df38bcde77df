"""`make bench`: measured speed of the whole loop; results appended to docs/benchmarks.md.

Usage: python -m benchmarks.run [--scale 1] [--seed 42]
Runs in a fresh CXLOOP_HOME under a temporary folder, so it never touches ./var.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
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


def bench_pipeline(scale: float, seed: int) -> dict[str, object]:
    """Generate demo sources at `scale`, run the pipeline three times, time the dbt floor.

    The first run lands everything; the second has no new source data but the first run's
    sends (the loop closes: what reads the playbook ledger is rebuilt); the third has nothing
    new at all. The floor is a plain dbt build on the same warehouse, measured in the same run.
    """
    with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp:
        os.environ["CXLOOP_HOME"] = str(Path(tmp) / "home")
        from cxloop.demo.generator import generate
        from cxloop.flows.pipeline import pipeline

        sources = Path(tmp) / "sources"
        t0 = time.perf_counter()
        counts = generate(sources, scale=scale, seed=seed)
        gen_s = time.perf_counter() - t0
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = pipeline(str(sources))
            runs.append((time.perf_counter() - t0, report))
        floor = dbt_floor(Path(tmp), sources)
    (total, first), (second_s, _), (third_s, third) = runs
    return {
        "scale": scale,
        "source_rows": sum(counts.values()),
        "generate_s": round(gen_s, 1),
        "pipeline_s": round(total, 1),
        "stages": first["durations"],
        "second_s": round(second_s, 1),
        "nothing_new_s": round(third_s, 1),
        "nothing_new_skipped": sorted(third.get("skipped", {})),
        "dbt_floor_s": round(floor, 1),
        "ratio_floor": round(total / floor, 2),
        "ratio_nothing_new": round(third_s / total, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "status": [first["status"], third["status"]],
    }


def append_results(result: dict[str, object]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())  # type: ignore[union-attr]
    line = (
        f"| {stamp} | pipeline | {result['scale']} | {result['source_rows']:,} | "
        f"{result['generate_s']} s | {result['pipeline_s']} s | {stages}; "
        f"dbt floor {result['dbt_floor_s']} s (pipeline {result['ratio_floor']}x); "
        f"2nd run {result['second_s']} s; nothing new {result['nothing_new_s']} s "
        f"({result['ratio_nothing_new']}x) | "
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
        f"{result['ratio_nothing_new']}x the first run (goal <= 10 s and <= 0.15x)"
    )
    append_results(result)


if __name__ == "__main__":
    main()
