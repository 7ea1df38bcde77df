"""A pull killed with SIGKILL between and inside page writes resumes with no gap and no
duplicate: every ticket in exactly one landed page, the manifest listing exactly the files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pullkit import ingest_raw, write_config, zendesk_source
from vendor_http import Request, VendorServer
from zendesk_api import ZendeskApp

from cxloop.connectors.store import TMP_SUFFIX

CHILD = Path(__file__).with_name("pull_child.py")
TICKETS = 9
PAGE = 2  # five pages


def ticket(tid: int) -> dict:
    return {"id": tid, "created_at": "2024-03-01T09:15:02Z", "updated_at": "2024-03-01T09:15:02Z",
            "generated_timestamp": 1_700_000_000 + tid, "subject": f"Ticket {tid}",
            "status": "open", "requester_id": 501}  # fmt: skip


def start(sources: Path, kill_at: str | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_TEST")}
    if kill_at:
        env["CXLOOP_TEST_KILL_AT"] = kill_at
    return subprocess.Popen([sys.executable, str(CHILD), str(sources), "zendesk"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def landed_ids(sources: Path) -> list[int]:
    pages = sorted((sources / "zendesk" / "tickets").glob("*.json"))
    return [t["id"] for p in pages for t in json.loads(p.read_text())["tickets"]]


def assert_consistent(sources: Path) -> None:
    """Every ticket in exactly one page; the manifest lists exactly the page files, once."""
    assert landed_ids(sources) == list(range(1, TICKETS + 1))
    lines = (sources / "zendesk/.cxloop-pull/manifest.jsonl").read_text().splitlines()
    listed = [json.loads(line)["path"] for line in lines]
    files = sorted(f"tickets/{p.name}" for p in (sources / "zendesk/tickets").glob("*.json"))
    assert listed == files
    assert not [p for p in sources.rglob("*") if p.name.endswith(TMP_SUFFIX)]


@pytest.fixture
def sources(tmp_path: Path, zendesk_app: ZendeskApp, zendesk_server: VendorServer,
            zendesk_env: dict) -> Path:  # fmt: skip
    zendesk_app.put("tickets", *(ticket(i) for i in range(1, TICKETS + 1)))
    write_config(tmp_path, {"zendesk": zendesk_source(zendesk_server.url, page_size=PAGE,
                                                      entities=["tickets"])})  # fmt: skip
    return tmp_path


# write_durably runs for each page, then for the state after it: call 3 is page 2's write.
# Each point: the kill, then the page files and temporary files it leaves.
KILL_POINTS = [
    ("cxloop.connectors.store:write_durably:before:3", 1, 0),  # page 1 committed only
    ("cxloop.connectors.store:os.replace:before:3", 1, 1),  # page 2 fsynced, not renamed
    ("cxloop.connectors.store:write_durably:after:3", 2, 0),  # page 2 renamed, not listed
    ("cxloop.connectors.store:PullStore._append_manifest:after:2", 2, 0),  # cursor not saved
    ("cxloop.connectors.store:PullStore.save_cursor:after:2", 2, 0),  # page 2 committed
]


@pytest.mark.parametrize(("kill_at", "pages_left", "tmp_left"), KILL_POINTS)
def test_killed_inside_a_page_write_then_resumed(
    sources: Path, kill_at: str, pages_left: int, tmp_left: int
) -> None:
    code, output = finish(start(sources, kill_at))
    assert code == -signal.SIGKILL, output
    assert len(list((sources / "zendesk/tickets").glob("*.json"))) == pages_left
    assert len([p for p in sources.rglob("*") if p.name.endswith(TMP_SUFFIX)]) == tmp_left
    code, output = finish(start(sources))
    assert code == 0, output
    assert_consistent(sources)


def test_killed_while_waiting_for_a_page_then_resumed(
    sources: Path, zendesk_server: VendorServer, tmp_path: Path
) -> None:
    """A real kill -9 from outside while the child waits for page 4's answer."""
    asked, release = threading.Event(), threading.Event()

    def hold_page_4(request: Request) -> None:
        if len(zendesk_server.requests) == 4:
            asked.set()
            release.wait(timeout=30)

    zendesk_server.before = hold_page_4
    proc = start(sources)
    try:
        assert asked.wait(timeout=60), "the child never asked for page 4"
        os.kill(proc.pid, signal.SIGKILL)
        code, _ = finish(proc)
    finally:
        release.set()
    assert code == -signal.SIGKILL
    assert landed_ids(sources) == [1, 2, 3, 4, 5, 6]  # three pages were durable
    zendesk_server.before = None
    code, output = finish(start(sources))
    assert code == 0, output
    assert json.loads(output.splitlines()[0])["records"] == 3  # only what was missing
    assert_consistent(sources)
    raw = ingest_raw(sources, tmp_path / "home")
    assert len(raw["zendesk__tickets"]) == TICKETS
