"""Worker processes that write the generator's parts (cxloop/demo/parts.py) in parallel.

Each worker is a fresh interpreter (`python -m cxloop.demo.workers`), started with
subprocess, never forked from the caller: the CLI that generates the demo has threads
(Prefect's server start, imports), and a forked child of a threaded process can inherit a lock
another thread held and hang. multiprocessing's `spawn` and `forkserver` are safe too but
re-run the caller's main script in every worker (the whole CLI's imports). The workers start
early (`Writers.start`), so their interpreter start and imports overlap the simulation; then
each receives the simulated world once, pickled (~20 MB at scale 1), and one part at a time,
the next as it finishes one.

Frames on the pipes: an 8-byte big-endian length, then a pickle. To a worker: the `Simulated`
world, then part names, then None (exit). From a worker: ("ok", counts) or ("error", traceback)
per part.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from typing import IO, Any

from cxloop.demo.parts import PARTS, Simulated, merge, write_part

HEADER = struct.Struct(">Q")
POLL_S = 5.0  # how often a wait for the workers' results checks that they are alive
# No result for this long: the waiting workers print their threads' stacks (into the errors
# file, shown with a warning on stderr) and the wait goes on. A part takes seconds at scale 10.
STALL_S = 240.0


class WorkerError(RuntimeError):
    """A worker failed or died while writing a part."""


def send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next frame's object; EOFError when the other side closed its end."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class Writers:
    """`workers` helper processes for one generation, beside the calling process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.procs: list[subprocess.Popen[bytes]] = []
        self.errors = tempfile.TemporaryFile()  # the workers' stderr, read when one fails

    def start(self) -> None:
        """Start the workers (they import the writers and wait for the world)."""
        for _ in range(self.workers):
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cxloop.demo.workers"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self.errors,
                )
            )

    def run(self, sim: Simulated) -> dict[str, int]:
        """Write every part, largest first, in the workers and in this process; returns the
        merged counts. Each worker has up to two parts queued so it never waits for this
        process, which writes a part itself whenever none of the workers' results is in."""
        todo = list(PARTS)
        results: dict[str, dict[str, int]] = {}
        queued: dict[int, list[str]] = {k: [] for k in range(len(self.procs))}
        progress, warned = time.monotonic(), False
        with selectors.DefaultSelector() as selector:
            for k, proc in enumerate(self.procs):
                self._send(k, sim)
                selector.register(proc.stdout, selectors.EVENT_READ, k)  # type: ignore[arg-type]
            while todo or any(queued.values()):
                for k, parts in queued.items():
                    while todo and len(parts) < 2:
                        parts.append(todo.pop(0))
                        self._send(k, parts[-1])
                if todo:  # this process takes the next part, then looks for results
                    part = todo.pop(0)
                    results[part] = write_part(sim, part)
                events = selector.select(timeout=0 if todo else POLL_S)
                for key, _ in events:
                    k = key.data
                    part = queued[k].pop(0)
                    results[part] = self._result(k, part)
                    progress, warned = time.monotonic(), False
                if not events and not todo:
                    self._check_alive(queued)
                    if not warned and time.monotonic() - progress > STALL_S:
                        self._warn_stalled(queued, time.monotonic() - progress)
                        warned = True
        return merge(results)

    def close(self) -> None:
        """Tell idle workers to exit, wait briefly, end any that do not."""
        for k, proc in enumerate(self.procs):
            if proc.poll() is None:
                try:
                    self._send(k, None)
                except WorkerError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream:
                    stream.close()
        self.errors.close()

    def _check_alive(self, queued: dict[int, list[str]]) -> None:
        """A worker with parts queued that has exited is an error (its pipe's end is normally
        seen first, as a result that never comes)."""
        for k, parts in queued.items():
            if parts and self.procs[k].poll() is not None:
                raise self._died(k, f"writing {parts[0]}")

    def _warn_stalled(self, queued: dict[int, list[str]], waited: float) -> None:
        """Ask the workers still writing for their stacks and show them on stderr."""
        self.errors.seek(0, os.SEEK_END)
        start = self.errors.tell()
        busy = {k: parts[0] for k, parts in queued.items() if parts}
        for k in busy:
            self.procs[k].send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        self.errors.seek(start)
        stacks = self.errors.read().decode(errors="replace").strip()
        doing = ", ".join(f"worker {k} on {part}" for k, part in busy.items())
        print(
            f"demo generator: no part finished in {waited:.0f} s ({doing}); still waiting. "
            f"The workers' stacks:\n{stacks}",
            file=sys.stderr,
            flush=True,
        )

    def _send(self, k: int, obj: object) -> None:
        proc = self.procs[k]
        try:
            send(proc.stdin, obj)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError):
            raise self._died(k, "receiving its work") from None

    def _result(self, k: int, part: str) -> dict[str, int]:
        try:
            status, value = receive(self.procs[k].stdout)  # type: ignore[arg-type]
        except EOFError:
            raise self._died(k, f"writing {part}") from None
        if status != "ok":
            raise WorkerError(f"demo generator worker failed writing {part}:\n{value}")
        return value

    def _died(self, k: int, doing: str) -> WorkerError:
        proc = self.procs[k]
        proc.wait()
        self.errors.seek(0)
        err = self.errors.read().decode(errors="replace")
        return WorkerError(
            f"demo generator worker {k} exited (code {proc.returncode}) {doing}: {err.strip()}"
        )


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """A worker's loop: the world, then parts until None or the caller's end closes."""
    try:
        sim = receive(inp)
        while (part := receive(inp)) is not None:
            try:
                send(out, ("ok", write_part(sim, part)))
            except Exception:
                send(out, ("error", traceback.format_exc()))
    except EOFError:
        return


def main() -> None:
    """The worker process: frames on a private copy of stdout; print() goes to stderr."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)  # _warn_stalled
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
