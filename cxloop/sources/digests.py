"""Source files' content hashes remembered between ingest runs, by the files' stat.

Every ingest run identifies each source file by the sha256 of its bytes (a file landed before
is skipped whole), so a run with one new file used to read and hash every file of the sources
folder again: ~1.5-2 s of a run at scale 10 (2,056 files), whatever was new. `FileDigests`
remembers each hash beside the file's stat when it was read, and gives it back while the stat
is the same, as git's index does for its work tree. The stat compared is the device, inode,
size, modification time and change time in nanoseconds: on POSIX systems writing a file's
bytes sets its change time to the clock's time, and no tool can set it back (`touch` and
`cp -p` set the modification time only), so a file written again is read again. (On Windows
`st_ctime` is the creation time; cxloop runs on Linux and macOS.)

A hash is remembered only when the file's last change is at least `SETTLED_NS` older than the
moment its read began (git's "racily clean" rule, against the local clock where git uses its
index file's time): a file written again within the file system's time resolution of the
change the hash was read at would keep the same stat, so a file that changed that recently is
read again next run, as is one whose stat moved while it was read. A file system whose clock
runs more than that ahead of this machine's (a network share) only makes files look unsettled.
The memo is a cache: a missing, unreadable or foreign file is an empty memo, and a run
rewrites it only when it read a file the memo could not vouch for.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from cxloop.sources.readers import file_sha256

DIGESTS_FILE = ".file-digests.json"  # in the lake folder, beside the landed Parquet
FORMAT = 1
SETTLED_NS = 2_000_000_000  # 2 s: coarser than any file system's change-time resolution


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def stat_mtime(st: os.stat_result) -> datetime:
    """The file's modification time as naive UTC (how the warehouse stores timestamps)."""
    return datetime.fromtimestamp(st.st_mtime, UTC).replace(tzinfo=None)


class FileDigests:
    """Content hashes of source files by absolute path, trusted while the file's stat holds."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.known: dict[str, dict] = self._load(store)
        self.fresh: dict[str, dict] = {}  # hashed in this run, to be remembered
        self.reads = 0  # files read and hashed by this memo (the rest came from `known`)

    @staticmethod
    def _load(store: Path) -> dict[str, dict]:
        try:
            memo = json.loads(store.read_text(encoding="utf-8"))
            files = memo["files"] if memo.get("format") == FORMAT else {}
            return {
                path: entry
                for path, entry in files.items()
                if isinstance(entry, dict)
                and isinstance(entry.get("sha256"), str)
                and isinstance(entry.get("stat"), list)
            }
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            return {}

    def digest(self, path: Path) -> tuple[str, datetime, int]:
        """The file's sha256, modification time (naive UTC) and size; read only when the memo
        cannot vouch for it."""
        name = str(path.absolute())
        began = time.time_ns()  # before the stat: the read starts no earlier than this
        st = path.stat()
        entry = self.known.get(name)
        if entry is not None and entry["stat"] == _stat_key(st):
            return entry["sha256"], stat_mtime(st), st.st_size
        data = path.read_bytes()
        sha = file_sha256(data)
        self.reads += 1
        after = path.stat()
        settled = began - max(st.st_mtime_ns, st.st_ctime_ns) >= SETTLED_NS
        if settled and _stat_key(after) == _stat_key(st) and len(data) == st.st_size:
            self.fresh[name] = {"sha256": sha, "stat": _stat_key(st)}
        return sha, stat_mtime(after), len(data)

    def save(self) -> None:
        """Remember this run's new hashes (atomically); the entries of files gone are dropped.
        Nothing is written when the run read no file the memo could not vouch for."""
        if not self.fresh:
            return
        files = {p: e for p, e in self.known.items() if p not in self.fresh and os.path.exists(p)}
        files.update(self.fresh)
        self.store.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.store.with_name(f"{self.store.name}.tmp")  # one ingest at a time writes
        tmp.write_text(json.dumps({"format": FORMAT, "files": files}), encoding="utf-8")
        os.replace(tmp, self.store)
        self.known, self.fresh = files, {}
