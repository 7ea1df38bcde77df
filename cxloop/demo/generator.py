"""`generate()`: write a complete demo sources folder in the source systems' real formats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from cxloop.demo.activity import simulate_activity
from cxloop.demo.parts import Simulated, run_parts
from cxloop.demo.workers import Writers
from cxloop.demo.world import build_world
from cxloop.demo.zendesk import ZendeskIds
from cxloop.errors import CxloopError

OUTPUT_PARTS = ("salesforce", "zendesk", "qualtrics", "_truth", "cxloop.yaml")
MARKER = ".cxloop-demo"  # written first, so an interrupted run can be generated over


def generate(
    out: Path,
    scale: float = 1.0,
    seed: int = 42,
    as_of: date = date(2026, 11, 1),
    term_fields: bool = False,
    workers: int = 1,
) -> dict[str, int]:
    """Write Salesforce, Zendesk and Qualtrics exports, the truth and cxloop.yaml under `out`.

    Deterministic for (scale, seed, as_of): the same arguments give byte-identical files.
    Salesforce is a standard org (churn from renewal opportunities) unless `term_fields`, which
    adds the custom term fields to Opportunity and sets the churn method term_fields.
    Returns the number of data rows (records) written per output entity.

    The exports are written by `workers` processes: this one and `workers - 1` helpers (the
    default 1 writes them all here), with the same bytes either way (cxloop/demo/parts.py).
    Helpers pay off only with an idle core: each costs ~1.5 s of CPU to start and to receive
    the world (docs/benchmarks.md "`cxloop demo`'s own path").
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    out = Path(out)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by the cxloop demo generator (flows.demo)\n")
    writers = Writers(workers - 1) if workers > 1 else None
    try:
        if writers:
            writers.start()  # the workers start while this process simulates the world
        world = build_world(scale, seed, as_of)
        activity = simulate_activity(world)
        sim = Simulated(world, activity, ZendeskIds(world, activity), out, term_fields)
        counts = writers.run(sim) if writers else run_parts(sim)
    finally:
        if writers:
            writers.close()
    return counts


def generate_in_child(
    out: Path, scale: float, seed: int, workers: int = 1
) -> Callable[[], dict[str, int]]:
    """Start `generate` in a child process (a fresh interpreter) and return `wait`, which
    returns its counts, so that the caller can do other work meanwhile (`cxloop demo` imports
    the pipeline). `workers` as in `generate`: 1, because the demo's other work (its imports,
    Prefect's server start) already fills the second core (docs/benchmarks.md)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxloop.demo.generator", str(out), repr(scale), str(seed)]
        + [str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )

    def wait() -> dict[str, int]:
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
            raise CxloopError(
                f"{out}: generating the demo sources failed (exit {proc.returncode}): {lines[-1]}"
            )
        return dict(json.loads(stdout))

    return wait


def _clear_previous(out: Path) -> None:
    """Remove what an earlier run wrote (page counts differ between scales); nothing else.

    Refuses to touch a folder that has source folders but not our marker file.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder (expected a folder for the demo)")
    ours = (out / MARKER).is_file()
    present = [p for p in OUTPUT_PARTS if (out / p).exists()]
    if present and not ours:
        raise ValueError(
            f"{out}: already holds {', '.join(present)} but no {MARKER} marker; "
            "refusing to overwrite what the generator did not write (expected an empty folder)"
        )
    for part in OUTPUT_PARTS:
        target = out / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


if __name__ == "__main__":  # generate_in_child's child: OUT SCALE SEED WORKERS
    target, scale_arg, seed_arg, workers_arg = sys.argv[1:5]
    result = generate(Path(target), float(scale_arg), int(seed_arg), workers=int(workers_arg))
    sys.stdout.write(json.dumps(result))
