"""Peak resident memory of a benchmark's process and the children it starts."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path


class PeakRss:
    """Samples the resident memory of this process and all its descendants together (every
    `interval` seconds), but for the children in `exclude` and theirs (a server started beside
    the run). Peaks shorter than the interval are missed: a lower bound."""

    def __init__(self, exclude: set[int] | None = None, interval: float = 0.05) -> None:
        self.exclude = {str(pid) for pid in exclude or ()}
        self.interval = interval
        self.peak_kb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            total = 0
            for pid in self._tree():
                with contextlib.suppress(OSError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            self.peak_kb = max(self.peak_kb, total)

    def _tree(self) -> list[str]:
        """This process and its descendants now, less the excluded ones and theirs."""
        pids, todo = [], [str(os.getpid())]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            with contextlib.suppress(OSError):
                for task in Path(f"/proc/{pid}/task").iterdir():
                    with contextlib.suppress(OSError):
                        todo += [
                            child
                            for child in (task / "children").read_text().split()
                            if child not in self.exclude
                        ]
        return pids

    @property
    def mb(self) -> int:
        return round(self.peak_kb / 1024)
