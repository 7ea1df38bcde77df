"""The demo's folders under CXLOOP_HOME: sources generated once per scale and seed; --fresh."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cxloop.demo.generator import generate, generate_in_child
from cxloop.errors import CxloopError
from cxloop.settings import Paths

# The demo's playbook clock: 14:00 UTC on Monday 2 November 2026, the first working day after
# the demo data's as-of date (generate's 2026-11-01). It is within the 08:00-21:00 waking hours
# of the demo's customers from Mexico City (08:00) and New York (09:00) to Dubai (18:00);
# Singapore (22:00) and Sydney (01:00) are asleep, so their detractors wait (docs/playbooks.md).
# Pinned so that `cxloop demo` at any hour shows the loop, and the same run twice acts the same.
DEMO_CLOCK = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def demo_outputs(paths: Paths) -> tuple[Path, ...]:
    """Every folder a demo run writes: the demo sources, the warehouse and all outputs."""
    return (
        paths.demo,
        paths.warehouse_dir,
        paths.lake,
        paths.outbox,
        paths.bi,
        paths.models,
        paths.reports,
        paths.gx,
    )


def demo_sources(
    paths: Paths,
    scale: float,
    seed: int,
    *,
    fresh: bool = False,
    announce: Callable[[str], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Path:
    """The demo sources folder for this scale and seed, generated only when it is not there yet.

    With `meanwhile`, the generation runs in a child process while `meanwhile()` runs here
    (`cxloop demo` imports the pipeline meanwhile). `fresh` deletes the demo's folders first
    (`demo_outputs`). Without it, sources generated with another scale or seed are an error
    rather than silently reused or replaced.
    """
    out = paths.demo / "sources"
    stamp = out.parent / "generated.json"
    wanted = {"scale": scale, "seed": seed}
    if fresh:
        for folder in demo_outputs(paths):
            shutil.rmtree(folder, ignore_errors=True)
    elif stamp.exists() and json.loads(stamp.read_text()) != wanted:
        raise CxloopError(
            f"{out} holds demo sources of {stamp.read_text()}; pass --fresh to start over "
            f"with scale {scale} and seed {seed}"
        )
    if not stamp.exists():
        if announce:
            announce(f"Generating demo sources (scale {scale}, seed {seed}) into {out} ...")
        if meanwhile is None:
            generate(out, scale=scale, seed=seed)
        else:
            wait = generate_in_child(out, scale, seed)
            try:
                meanwhile()
            finally:
                wait()
        stamp.write_text(json.dumps(wanted))
    return out
