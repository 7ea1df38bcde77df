"""Source files' hashes remembered between ingest runs (cxloop.sources.digests).

A file is read again whenever its bytes may have changed: written again (even to the same size
with its modification time set back), changed too recently to trust its stat, or unknown. A
run over an unchanged folder reads no file, in one process and with workers alike, and lands
what a run without the memo lands.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest
from ingest_helpers import ingest_report, ingest_run

from cxloop.sources import digests
from cxloop.sources.digests import DIGESTS_FILE, FileDigests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo's clock 3 s ahead: files written by the test count as settled."""
    now = time.time_ns
    monkeypatch.setattr(digests.time, "time_ns", lambda: now() + 3_000_000_000)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_settled_file_is_read_once_then_vouched_for(tmp_path: Path, later: None) -> None:
    store, path = tmp_path / "memo.json", tmp_path / "a.csv"
    path.write_bytes(b"id,name\n1,Anna\n")
    first = FileDigests(store)
    sha, mtime, size = first.digest(path)
    assert (sha, size, first.reads) == (_sha(b"id,name\n1,Anna\n"), 15, 1)
    first.save()
    again = FileDigests(store)
    assert again.digest(path) == (sha, mtime, size)
    assert again.reads == 0
    written = store.stat()
    again.save()  # nothing new read: the memo is not written again
    assert (store.stat().st_ino, store.stat().st_mtime_ns) == (
        written.st_ino,
        written.st_mtime_ns,
    )


def _past_change_time_tick(tmp_path: Path, ctime_ns: int) -> None:
    """Wait until a new write gets another change time than `ctime_ns` (file systems with
    coarse timestamps give writes within one tick the same time)."""
    probe = tmp_path / "probe"
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        probe.write_bytes(b"x")
        if probe.stat().st_ctime_ns != ctime_ns:
            return
        time.sleep(0.01)
    raise AssertionError("the file system's change time did not move in 3 s")


def test_the_same_size_written_again_with_its_old_mtime_is_read_again(
    tmp_path: Path, later: None
) -> None:
    store, path = tmp_path / "memo.json", tmp_path / "a.csv"
    path.write_bytes(b"id,name\n1,Anna\n")
    memo = FileDigests(store)
    memo.digest(path)
    memo.save()
    st = path.stat()
    _past_change_time_tick(tmp_path, st.st_ctime_ns)
    path.write_bytes(b"id,name\n1,Omar\n")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # modification time set back
    assert path.stat().st_mtime_ns == st.st_mtime_ns
    memo = FileDigests(store)
    assert memo.digest(path)[0] == _sha(b"id,name\n1,Omar\n")
    assert memo.reads == 1


def test_a_file_changed_within_the_settling_time_is_not_remembered(tmp_path: Path) -> None:
    store, path = tmp_path / "memo.json", tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    memo = FileDigests(store)
    memo.digest(path)
    memo.save()
    assert not store.exists()  # nothing settled to remember
    again = FileDigests(store)
    again.digest(path)
    assert again.reads == 1


def test_a_file_written_while_it_was_read_is_not_remembered(
    tmp_path: Path, later: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, path = tmp_path / "memo.json", tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    read_bytes = Path.read_bytes

    def read_then_rewrite(self: Path) -> bytes:
        data = read_bytes(self)
        self.write_bytes(b"id\n1\n2\n")  # a writer still at work
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_rewrite)
    memo = FileDigests(store)
    assert memo.digest(path)[0] == _sha(b"id\n1\n")
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    memo.save()
    again = FileDigests(store)
    assert again.digest(path)[0] == _sha(b"id\n1\n2\n")
    assert again.reads == 1


def test_a_broken_or_foreign_memo_is_an_empty_one(tmp_path: Path, later: None) -> None:
    store, path = tmp_path / "memo.json", tmp_path / "a.csv"
    path.write_bytes(b"id\n1\n")
    for text in ("{not json", '{"format": 99, "files": {}}', "[]", '{"format": 1, "files": 3}'):
        store.write_text(text)
        memo = FileDigests(store)
        assert memo.digest(path)[0] == _sha(b"id\n1\n")
        assert memo.reads == 1


def test_files_gone_are_dropped_from_the_memo(tmp_path: Path, later: None) -> None:
    store, kept, gone = tmp_path / "memo.json", tmp_path / "kept.csv", tmp_path / "gone.csv"
    kept.write_bytes(b"a\n")
    gone.write_bytes(b"b\n")
    memo = FileDigests(store)
    memo.digest(kept)
    memo.digest(gone)
    memo.save()
    gone.unlink()
    (tmp_path / "new.csv").write_bytes(b"c\n")
    memo = FileDigests(store)
    memo.digest(tmp_path / "new.csv")
    memo.save()
    assert set(FileDigests(store).known) == {str(kept), str(tmp_path / "new.csv")}


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unchanged_folder_is_not_read_and_a_changed_file_is(
    tmp_path: Path, workers: int, later: None
) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(FIXTURES, sources)
    first = ingest_run(sources, tmp_path / "home")
    assert ingest_report(first, workers)["totals"]["files"] == 13
    assert first.digests.reads == 13
    assert (tmp_path / "home" / "lake" / DIGESTS_FILE).exists()

    second = ingest_run(sources, tmp_path / "home")  # a later run: a new process's memo
    report = ingest_report(second, workers)
    assert second.digests.reads == 0
    assert report["totals"]["skipped_files"] == 13

    # a delivery written over a landed one: read, and its rows land
    page = sources / "zendesk" / "tickets" / "page-002.json"
    page.write_text(
        page.read_text(encoding="utf-8").replace('"Refund status"', '"Refund status?"', 1),
        encoding="utf-8",
    )
    third = ingest_run(sources, tmp_path / "home")
    report = ingest_report(third, workers)
    assert third.digests.reads == 1
    assert report["entities"]["zendesk.tickets"]["skipped_files"] == 1
    assert report["entities"]["zendesk.tickets"]["read"] > 0
