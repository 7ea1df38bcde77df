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


def bench_pipeline(scale: float, seed: int) -> dict[str, object]:
    """Generate demo sources at `scale` and time each pipeline stage."""
    with tempfile.TemporaryDirectory(prefix="cxbench-") as tmp:
        os.environ["CXLOOP_HOME"] = str(Path(tmp) / "home")
        from cxloop.demo.generator import generate
        from cxloop.flows.pipeline import pipeline

        t0 = time.perf_counter()
        counts = generate(Path(tmp) / "sources", scale=scale, seed=seed)
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = pipeline(str(Path(tmp) / "sources"))
        total = time.perf_counter() - t0
    return {
        "scale": scale,
        "source_rows": sum(counts.values()),
        "generate_s": round(gen_s, 1),
        "pipeline_s": round(total, 1),
        "stages": report["durations"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "status": report["status"],
    }


def append_results(result: dict[str, object]) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in result["stages"].items())  # type: ignore[union-attr]
    line = (
        f"| {stamp} | pipeline | {result['scale']} | {result['source_rows']:,} | "
        f"{result['generate_s']} s | {result['pipeline_s']} s | {stages} | "
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
    append_results(result)


if __name__ == "__main__":
    main()
