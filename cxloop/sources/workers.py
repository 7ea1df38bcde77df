"""Parse and prepare an ingest run's files in worker processes while the main process lands.

Parsing a file and validating its rows (`adapter.read_file` + `prepare_batch`) is pure Python
and Arrow, bound to one core by the GIL; landing (`EntityLanding`) needs the warehouse, which
only the main process opens. A `Preparer` hands every new file of the run's entities, in the
run's fixed order, to a `WorkerPool`: fresh interpreters (`python -m cxloop.sources.workers`,
never a fork of a process with DuckDB's threads alive, and never a re-import of the caller's
main module as multiprocessing's spawn and forkserver do). A worker writes the prepared rows to
the entity's spill folder (cxloop.sources.spill) and answers with the `Spilled` handle; the
main process takes each entity's files in order, as the sequential ingest would, and lands them.

Only small answers cross the pipes. A worker that fails answers with its error's text, and the
main process parses that file itself, so the error it raises is the sequential ingest's, with
the same message (an exception that does not pickle cannot hang the pool); a worker that dies
makes the main process parse its files itself. A worker exits when its task pipe closes: when
the run ends, or the main process dies (a killed run leaves no worker behind). Workers run
ahead of the landing by at most `LOOKAHEAD_BYTES` of source files beyond the entity landing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import duckdb

from cxloop.config import SourceConfig
from cxloop.sources import ADAPTERS
from cxloop.sources.landing import landed_files
from cxloop.sources.prepared import prepare_batch
from cxloop.sources.recovery import recover_lake
from cxloop.sources.spill import Spill, Spilled, spill_batch
from cxloop.warehouse import connect

if TYPE_CHECKING:
    from cxloop.sources.jobs import EntityJob, IngestRun

LOOKAHEAD_BYTES = 512 * 1024 * 1024  # new source bytes hashed beyond the entity being landed
START_BYTES = 16 * 1024 * 1024  # new source bytes that make starting the workers worth it


def worker_count(setting: int | None) -> int:
    """Worker processes for a run: the setting, else the machine's cores (0: none)."""
    return (os.cpu_count() or 1) if setting is None else max(0, setting)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (restored after; reference counting goes on).

    Parsing a JSON page allocates containers by the hundred thousand, and every collection they
    trigger walks the objects kept alive so far again (about 40% of Zendesk parsing time at
    scale 1, docs/ingest.md). Parsed rows hold no reference cycles, so nothing is kept longer.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class EntityFile:
    """One file of an entity as the landing takes it: None `spilled` when it landed before."""

    rel: str
    sha: str
    mtime: datetime
    spilled: Spilled | None


def prepare_into(
    kind: str, entity: str, path: Path, rel: str, source: SourceConfig, target: Path
) -> Spilled:
    """Parse and prepare one file, its rows written to `target` (raises what parsing raises)."""
    batch = prepare_batch(ADAPTERS[kind].read_file(entity, path, rel, source))
    return spill_batch(batch, target)


def _prepare_in_worker(
    kind: str, entity: str, path: Path, rel: str, source: SourceConfig, target: Path
) -> Spilled | str:
    """In a worker: the spilled file, or the text of the error (the main process re-raises it)."""
    try:
        with paused_gc():
            return prepare_into(kind, entity, path, rel, source, target)
    except Exception as exc:  # any error: the main process parses the file again to raise it
        target.unlink(missing_ok=True)
        return f"{type(exc).__name__}: {exc}"


def inline_files(
    run: IngestRun, job: EntityJob, landed: set[str], spill: Spill
) -> Iterator[EntityFile]:
    """The entity's files parsed here, in order (the files landed before are not parsed)."""
    source = run.config.sources[job.source_name]
    for path in job.files:
        rel = path.relative_to(run.sources_dir).as_posix()
        sha, mtime, _ = run.digests.digest(path)
        if sha in landed:
            yield EntityFile(rel, sha, mtime, None)
        else:
            target = spill.next_path()
            yield EntityFile(rel, sha, mtime, prepare_into(*_args(job, path, rel, source, target)))


def _args(
    job: EntityJob, path: Path, rel: str, source: SourceConfig, target: Path
) -> tuple[str, str, Path, str, SourceConfig, Path]:
    return (job.kind, job.entity, path, rel, source, target)


@dataclass
class _Queued:
    """One file of the run: hashed and handed to a worker (`future`) when its turn comes."""

    job: int
    number: int
    path: Path
    rel: str
    size: int
    sha: str = ""
    mtime: datetime | None = None
    future: Future | None = None


class Preparer:
    """Prepares the new files of an ingest run's jobs in worker processes, in the run's order.

    A context manager: entering reads what each entity holds (the lake's leftovers settled and
    the files landed before read, as the sequential ingest does) and hashes the files ahead;
    leaving stops the workers and removes the spill folders. `files(job, landed)` gives one
    entity's files in order, waiting for the workers. The workers start once `START_BYTES` of
    new files wait (starting one costs about as much as parsing a few MB): a run with little
    new data parses it in the main process, as the sequential ingest does. When that many
    bytes are in files of names no landed file had (a first run), they start before any file
    is hashed, so their imports overlap the hashing.
    """

    def __init__(self, run: IngestRun, jobs: list[EntityJob], workers: int) -> None:
        self.run, self.jobs, self.workers = run, jobs, workers
        self.queue: deque[_Queued] = deque()  # not hashed yet
        self.unsent: deque[_Queued] = deque()  # new, waiting for the workers to start
        self.unsent_bytes = 0
        self.by_job: dict[int, list[_Queued]] = {}
        self.landed: dict[int, set[str]] = {}
        self.ahead = 0  # bytes of new files hashed and not yet taken by the landing
        self.pool: WorkerPool | None = None
        self.con: duckdb.DuckDBPyConnection | None = None  # the warehouse, while it runs

    def __enter__(self) -> Preparer:
        # the landed files and names (the ingest holds the warehouse open: warehouse.held_open)
        self.con = con = connect(self.run.warehouse)
        try:  # a failure here (a source file gone before it was hashed) leaves nothing open
            for index, job in enumerate(self.jobs):
                recover_lake(con, self.run.lake_dir, job.kind, job.entity)
                self.landed[index] = landed_files(con, job.entity, job.kind)
            if self._unseen_bytes(con) >= START_BYTES:  # a first run: start before hashing
                self.pool = WorkerPool(self.workers)
            for index, job in enumerate(self.jobs):
                shutil.rmtree(self.spill_folder(job), ignore_errors=True)  # a killed run's
                queued = [
                    _Queued(index, n, path, path.relative_to(self.run.sources_dir).as_posix(), 0)
                    for n, path in enumerate(job.files, 1)
                ]
                self.by_job[index] = queued
                self.queue.extend(queued)
            self._hash_ahead()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.pool is not None:
                self.pool.shutdown(kill=exc[0] is not None)
            for job in self.jobs:
                shutil.rmtree(self.spill_folder(job), ignore_errors=True)
        finally:
            if self.con is not None:
                self.con.close()
                self.con = None

    def _unseen_bytes(self, con: duckdb.DuckDBPyConnection) -> int:
        """The size of the files whose names no landed file of their entity had: new for sure
        unless renamed (a file of a known name may be new too: it counts once hashed). Known
        before any file is read, so the workers' start overlaps the hashing."""
        names = set(
            con.execute("select source, entity, source_file from ops.ingest_files").fetchall()
        )
        return sum(
            path.stat().st_size
            for job in self.jobs
            for path in job.files
            if (job.kind, job.entity, path.relative_to(self.run.sources_dir).as_posix())
            not in names
        )

    def spill_folder(self, job: EntityJob) -> Path:
        """Where the workers write this job's prepared files (one folder per configured source)."""
        return Path(self.run.lake_dir) / ".spill" / f"{job.source_name}__{job.entity}"

    def _target(self, item: _Queued) -> Path:
        target = self.spill_folder(self.jobs[item.job]) / f"{item.number:06d}.arrow"
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _hash_ahead(self, through_job: int = -1) -> None:
        """Hash queued files (all of the jobs up to `through_job`, then up to the lookahead) and
        hand the new ones to the workers (started once enough wait)."""
        while self.queue and (self.queue[0].job <= through_job or self.ahead < LOOKAHEAD_BYTES):
            item = self.queue.popleft()
            item.sha, item.mtime, item.size = self.run.digests.digest(item.path)
            if item.sha not in self.landed[item.job]:  # else landed before: not parsed
                self.ahead += item.size
                self.unsent.append(item)
                self.unsent_bytes += item.size
                self._dispatch()

    def _dispatch(self) -> None:
        """Start the workers once enough new files wait, and hand them what waits."""
        if self.pool is None and self.unsent_bytes >= START_BYTES:
            self.pool = WorkerPool(self.workers)
        while self.pool is not None and self.unsent:
            item = self.unsent.popleft()
            job = self.jobs[item.job]
            source = self.run.config.sources[job.source_name]
            item.future = self.pool.submit(
                _args(job, item.path, item.rel, source, self._target(item))
            )

    def files(self, job: EntityJob, landed: set[str]) -> Iterator[EntityFile]:
        """The job's files in order, prepared (None when in `landed`: the warehouse's now)."""
        index = self.jobs.index(job)
        self._hash_ahead(through_job=index)
        source = self.run.config.sources[job.source_name]
        for item in self.by_job[index]:
            spilled = self._take(item)
            assert item.mtime is not None
            if item.sha in landed:  # a file another source of this kind landed in this run
                if spilled is not None:
                    spilled.path.unlink(missing_ok=True)
                yield EntityFile(item.rel, item.sha, item.mtime, None)
                continue
            if spilled is None:  # a worker failed, or none ran it: parse here (and raise here)
                args = _args(job, item.path, item.rel, source, self._target(item))
                spilled = prepare_into(*args)
            yield EntityFile(item.rel, item.sha, item.mtime, spilled)

    def _take(self, item: _Queued) -> Spilled | None:
        """The worker's spilled file; None if it failed, died, or was not asked."""
        if item.sha in self.landed[item.job]:
            return None
        self.ahead -= item.size
        if item.future is None:  # left to this process: no longer waits for the workers
            with contextlib.suppress(ValueError):
                self.unsent.remove(item)
                self.unsent_bytes -= item.size
            return None
        try:
            answer = item.future.result()
        except WorkerDied:
            return None
        finally:
            self._hash_ahead()
        return answer if isinstance(answer, Spilled) else None


class WorkerDied(RuntimeError):
    """A worker process ended before answering (killed, out of memory)."""


class _Worker:
    """One worker process and the thread in this process that feeds it tasks from the queue."""

    def __init__(self, tasks: queue.SimpleQueue) -> None:
        task_r, task_w = os.pipe()
        answer_r, answer_w = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(task_r), str(answer_w)],
            pass_fds=(task_r, answer_w),
            stdin=subprocess.DEVNULL,
        )
        os.close(task_r)
        os.close(answer_w)
        self.send: IO[bytes] = os.fdopen(task_w, "wb")
        self.receive: IO[bytes] = os.fdopen(answer_r, "rb")
        self.tasks = tasks
        self.thread = threading.Thread(target=self._feed, name="cxloop-ingest-worker", daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        alive = True
        while (task := self.tasks.get()) is not None:
            future, args = task
            if not future.set_running_or_notify_cancel():
                continue
            if alive:
                try:
                    pickle.dump(args, self.send)
                    self.send.flush()
                    future.set_result(pickle.load(self.receive))
                    continue
                except Exception:  # gone, or its answer unreadable: never leave a future open
                    alive = False  # the files it is given from now on are parsed by the caller
            future.set_exception(WorkerDied(f"ingest worker {self.process.pid} ended"))
        with contextlib.suppress(OSError):
            self.send.close()


class WorkerPool:
    """Worker processes taking `prepare_into` tasks in the order they are submitted."""

    def __init__(self, count: int) -> None:
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        self.workers = [_Worker(self.tasks) for _ in range(count)]
        self.pending: list[Future] = []

    def submit(self, args: tuple) -> Future:
        """Queue one file's preparation; its future holds a `Spilled` or an error's text."""
        future: Future = Future()
        self.tasks.put((future, args))
        return future

    def shutdown(self, kill: bool = False) -> None:
        """Stop the workers (after their current file, or at once with `kill`) and wait."""
        for _ in self.workers:
            self.tasks.put(None)
        if kill:  # an error stops the run: what is queued or being parsed is not wanted
            for worker in self.workers:
                worker.process.kill()
        for worker in self.workers:
            worker.thread.join()
            worker.process.wait()
            worker.receive.close()


def _serve(task_fd: int, answer_fd: int) -> None:
    """A worker's loop: prepare each task's file and answer, until the task pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the main process, which stops us
    tasks, answers = os.fdopen(task_fd, "rb"), os.fdopen(answer_fd, "wb")
    with contextlib.suppress(EOFError, BrokenPipeError):  # the main process is done, or gone
        while True:
            pickle.dump(_prepare_in_worker(*pickle.load(tasks)), answers)
            answers.flush()
    os._exit(0)  # nothing left to flush to a pipe nobody may read


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
