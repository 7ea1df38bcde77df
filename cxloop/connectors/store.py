"""What a pull keeps in a source folder: the pages, their manifest and the cursors.

- A page is written under a temporary name, fsynced, renamed into place (`os.replace`), and
  the directory fsynced: a reader (ingest) sees a whole page or none.
- Then one JSON line is appended to `.cxloop-pull/manifest.jsonl`:
  `{"path": "<path relative to the source folder>", "stream", "seq", "sha256", "records",
  "bytes", "written_at"}`. Every file a pull wrote is listed there once (the erasure feature
  rewrites the files listed).
- Then the stream's cursor and next page number are saved in `.cxloop-pull/state.json`
  (temporary name, fsync, rename).

A page's file name is fixed by its stream and number, so a process killed after the rename
but before the state was saved leaves an orphan at the stream's next number: the next run
removes it (and its manifest line, if written) before fetching that page again from the
saved cursor. No page is missed (the cursor moves only after its page is durable) and none
is written twice. One pull at a time per source folder (`.cxloop-pull/lock`, flock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cxloop.errors import SourceError

STATE_DIR = ".cxloop-pull"
STATE_FILE = "state.json"
MANIFEST_FILE = "manifest.jsonl"
LOCK_FILE = "lock"
TMP_SUFFIX = ".cxloop-tmp"


@dataclass
class StreamState:
    """One stream's saved position: the cursor to resume from and the next page number."""

    cursor: dict[str, Any] | None = None
    next_seq: int = 1
    pages: int = 0
    records: int = 0
    updated_at: str | None = None


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temporary name, fsync, rename, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PullStore:
    """The pull state of one source folder; open it with `PullStore.locked(folder)`."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.dir = self.folder / STATE_DIR
        self.state_path = self.dir / STATE_FILE
        self.manifest_path = self.dir / MANIFEST_FILE
        self.streams: dict[str, StreamState] = {}
        if self.state_path.exists():
            self.streams = _load_state(self.state_path)

    @classmethod
    @contextlib.contextmanager
    def locked(cls, folder: Path, wait_seconds: float = 0.0) -> Iterator[PullStore]:
        """The store, holding the folder's pull lock.

        A second pull fails at once; with `wait_seconds` (an erasure rewriting pulled files)
        it waits that long for the running one to finish, then fails.
        """
        lock_dir = Path(folder) / STATE_DIR
        lock_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_dir / LOCK_FILE, "w") as handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SourceError(
                            str(lock_dir / LOCK_FILE),
                            "another pull of this source is running",
                            expected="one pull per source folder at a time",
                        ) from None
                    time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            yield cls(folder)

    def stream(self, name: str, path_for: Callable[[int], str]) -> StreamState:
        """The stream's saved state, after removing what a killed pull left half-done."""
        state = self.streams.setdefault(name, StreamState())
        for folder in ((self.folder / path_for(state.next_seq)).parent, self.dir):
            for tmp in folder.glob(f".*{TMP_SUFFIX}"):
                tmp.unlink(missing_ok=True)
        seq = state.next_seq
        while (self.folder / path_for(seq)).exists():  # written, but the cursor was not saved
            orphan = self.folder / path_for(seq)
            orphan.unlink()
            fsync_dir(orphan.parent)
            seq += 1
        if seq > state.next_seq:
            self._drop_manifest_lines(name, state.next_seq)
        return state

    def commit_page(
        self,
        name: str,
        rel_path: str,
        data: bytes,
        records: int,
        cursor: dict[str, Any] | None,
    ) -> Path:
        """Write one page durably, list it in the manifest, then move the stream's cursor."""
        state = self.streams[name]
        path = self.folder / rel_path
        write_durably(path, data)
        self._append_manifest(
            {
                "path": rel_path,
                "stream": name,
                "seq": state.next_seq,
                "sha256": hashlib.sha256(data).hexdigest(),
                "records": records,
                "bytes": len(data),
                "written_at": _now(),
            }
        )
        state.next_seq += 1
        state.pages += 1
        state.records += records
        self.save_cursor(name, cursor)
        return path

    def save_cursor(self, name: str, cursor: dict[str, Any] | None) -> None:
        """Save the stream's cursor (after its page is durable, or with no page to write)."""
        state = self.streams[name]
        state.cursor, state.updated_at = cursor, _now()
        body = {"version": 1, "streams": {k: vars(v) for k, v in sorted(self.streams.items())}}
        write_durably(self.state_path, (json.dumps(body, indent=1) + "\n").encode())

    def manifest(self) -> list[dict[str, Any]]:
        """Every complete manifest line (a line cut by a kill is left out)."""
        if not self.manifest_path.exists():
            return []
        lines = []
        for line in self.manifest_path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(line))
        return lines

    def _append_manifest(self, entry: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.manifest_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(self.manifest_path):
                os.write(fd, b"\n")  # a line cut by a kill: start a fresh one
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _drop_manifest_lines(self, name: str, seq: int) -> None:
        """Rewrite the manifest without the lines of `name`'s pages from `seq` on."""
        kept = [e for e in self.manifest() if not (e.get("stream") == name and e["seq"] >= seq)]
        data = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in kept)
        write_durably(self.manifest_path, data.encode())


def _load_state(path: Path) -> dict[str, StreamState]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        return {name: StreamState(**fields) for name, fields in body["streams"].items()}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(
            str(path),
            f"the pull state is unreadable: {exc}",
            expected='{"version": 1, "streams": {...}} as cxloop pull writes it',
        ) from None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
