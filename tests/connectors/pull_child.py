"""A child process for the pull kill tests: `python pull_child.py SOURCES NAME`.

It runs the library's pull of one source, as the flow's task does. With
`CXLOOP_TEST_KILL_AT=<module>:<attr.path>:<before|after>:<n>` the n-th call of that function
SIGKILLs the process just before or after it runs (nothing in cxloop knows about this).
Prints the pull report as one JSON line on success.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def install_kill_hook(spec: str) -> None:
    module_name, path, when, nth = spec.split(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), {"n": 0}

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if when == "before" and calls["n"] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if when == "after" and calls["n"] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)


def main() -> None:
    sources, name = Path(sys.argv[1]), sys.argv[2]
    if os.environ.get("CXLOOP_TEST_KILL_AT"):
        install_kill_hook(os.environ["CXLOOP_TEST_KILL_AT"])
    from cxloop.config import load_config
    from cxloop.connectors.run import pull_source

    config = load_config(sources / "cxloop.yaml")
    report = pull_source(sources, name, config.sources[name])
    print(json.dumps(report))


if __name__ == "__main__":
    main()
