"""`make demo`'s time after install: `cxloop demo --scale 1` in a fresh CXLOOP_HOME, wall clock.

Usage: python -m benchmarks.demo [--scale 1] [--repeat 3]
The command runs as users run it (its own process: imports, Prefect's temporary server,
generation, the pipeline, the summary); the goal (issue #12) is 60 s at scale 1, generation
included. Prints one JSON object: the wall time, the sum of the pipeline's stage times as the
command reported them (the rest is imports, Prefect's server, generation and the summary).
With `--repeat N`, N such runs one after another, each in a fresh CXLOOP_HOME: every run's
times and their median, the verdict on the median (on a shared machine one run varies by
20-30% from minute to minute: docs/benchmarks.md, session 21).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_demo(scale: float) -> dict[str, object]:
    cli = shutil.which("cxloop", path=str(Path(sys.executable).parent)) or "cxloop"
    with tempfile.TemporaryDirectory(prefix="cxbench-demo-") as tmp:
        env = {**os.environ, "CXLOOP_HOME": str(Path(tmp) / "home")}
        t0 = time.perf_counter()
        done = subprocess.run(
            [cli, "demo", "--scale", str(scale), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t0
    report = json.loads(done.stdout[done.stdout.index("{") :])
    return {
        "scale": scale,
        "wall_s": round(wall, 1),
        "status": report.get("status"),
        "stages_s": round(sum(report.get("durations", {}).values()), 1),
        "goal_s": 60,
        "met": wall <= 60,
    }


def bench_repeated(scale: float, repeat: int) -> dict[str, object]:
    """`repeat` runs of `bench_demo`: each run, and the median wall and stage times."""
    runs = [bench_demo(scale) for _ in range(repeat)]
    wall = statistics.median(float(r["wall_s"]) for r in runs)  # type: ignore[arg-type]
    return {
        "scale": scale,
        "runs": runs,
        "median_wall_s": round(wall, 1),
        "median_stages_s": round(statistics.median(float(r["stages_s"]) for r in runs), 1),  # type: ignore[arg-type]
        "status": sorted({str(r["status"]) for r in runs}),
        "goal_s": 60,
        "met": wall <= 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs; the verdict on the median")
    args = parser.parse_args()
    if args.repeat > 1:
        print(json.dumps(bench_repeated(args.scale, args.repeat)))
    else:
        print(json.dumps(bench_demo(args.scale)))


if __name__ == "__main__":
    main()
