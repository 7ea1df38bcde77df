"""A child process for the kill tests: runs one cxloop stage and SIGKILLs itself at a named point.

Usage: `python child.py STAGE ARGS...`, optionally with
`CXLOOP_TEST_KILL_AT=<module>:<attribute.path>:<before|after>[:<n>]`: the n-th call (default 1)
of that function kills this process
with SIGKILL just before or just after it runs. A function of another module reached through
the named one (`cxloop.sources.landing:os.replace`) counts only the named module's calls.
Nothing in cxloop knows about this: the hook wraps the library's own functions here, so the
library runs exactly as in production.

On success the stage's result is printed as one JSON line on stdout.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)  # a Wednesday, outside quiet hours in UTC


def die() -> None:
    """SIGKILL ourselves: no finally blocks, no atexit, no flush (what kill -9 does)."""
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill_hook(spec: str) -> None:
    """Wrap `module:attr.path` so that its n-th call kills the process before or after it."""
    module_name, path, when, *rest = spec.split(":")
    nth = int(rest[0]) if rest else 1
    if when not in ("before", "after"):
        raise SystemExit(f"CXLOOP_TEST_KILL_AT={spec!r}: expected module:attr:before|after[:n]")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = {"n": 0}
    # os.replace is every module's: count the calls made from the named module only
    shared = isinstance(owner, types.ModuleType) and owner.__name__ != module_name

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if shared and sys._getframe(1).f_globals.get("__name__") != module_name:
            return original(*args, **kwargs)
        calls["n"] += 1
        if when == "before" and calls["n"] == nth:
            die()
        result = original(*args, **kwargs)
        if when == "after" and calls["n"] == nth:
            die()
        return result

    setattr(owner, name, wrapper)


def run_act(warehouse: str) -> Any:
    """The act library on a prepared warehouse, channel chosen from CXLOOP_* as in production."""
    from cxloop.act import load_specs, plan_context, run_playbooks
    from cxloop.resources import email_channel
    from cxloop.settings import get_settings

    ctx = plan_context(None, NOW)
    specs = load_specs(None, ["detractor_followup"])
    return run_playbooks(Path(warehouse), specs, channel=email_channel(get_settings()), ctx=ctx)


def run_ingest(sources: str, warehouse: str, lake: str) -> Any:
    """Every entity of the sources folder, as the ingest flow's tasks do it."""
    from cxloop.settings import get_settings
    from cxloop.sources.ingest import entity_counts, ingest_jobs, plan_ingest, resolve_run

    run = resolve_run(get_settings().paths, sources, warehouse=warehouse, lake_dir=lake)
    # the flow's way: a Preparer (worker processes once enough new data waits) for the run
    return {job.key: entity_counts(done) for job, done in ingest_jobs(run, plan_ingest(run))}


def run_publish(warehouse: str, bi_dir: str) -> Any:
    """The BI snapshot."""
    from cxloop.publish import publish_snapshot

    return publish_snapshot(Path(warehouse), Path(bi_dir), "test-salt")


def run_build(warehouse: str, home: str) -> Any:
    """dbt phase 'all' (the marts) on a warehouse whose raw, identity and ops tables exist."""
    from cxloop.build import phase_args, prepare_warehouse, run_dbt_build

    prepare_warehouse(Path(warehouse))
    run = run_dbt_build(phase_args("all"), Path(warehouse), Path(home), None, "kill-test")
    return run.counts


STAGES = {"act": run_act, "ingest": run_ingest, "publish": run_publish, "build": run_build}


def main(argv: list[str]) -> None:
    spec = os.environ.get("CXLOOP_TEST_KILL_AT")
    if spec:
        install_kill_hook(spec)
    result = STAGES[argv[0]](*argv[1:])
    print(json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
