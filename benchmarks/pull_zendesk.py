"""Benchmark: N Zendesk tickets pulled in pages of 1,000 from the local Zendesk API.

Usage: python -m benchmarks.pull_zendesk [--tickets 100000] [--small 10000]
The server (tests/connectors/zendesk_api.py) runs in its own process (Zendesk is another
machine, not our CPU) and reports the time its app spent per page. Measured:
- floor: the same pages fetched by a bare httpx loop (GET, parse, follow the cursor);
- pull: `cxloop.connectors.run.pull_source` (the pages written durably, manifest, cursor);
- our cost per page = (pull - floor) / pages;
- peak RSS of a pull of `--small` and of N tickets, each in a fresh process: flat memory
  means the two are about the same.
Not a test: the numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "connectors"))  # the local vendor servers

from vendor_http import serve_in_process  # noqa: E402
from zendesk_api import ZendeskApp  # noqa: E402

EMAIL, TOKEN = "bench@acme.example", "bench-token"
PAGE = 1000


def ticket(i: int) -> dict[str, Any]:
    """A ticket shaped like the incremental export's (docs: Zendesk ticket object)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + i * 30))
    return {
        "id": 100_000 + i, "url": f"https://acme.zendesk.com/api/v2/tickets/{100_000 + i}.json",
        "external_id": None, "created_at": stamp, "updated_at": stamp,
        "generated_timestamp": 1_700_000_000 + i * 30, "type": "question",
        "subject": f"Refund status for order {i}", "raw_subject": f"Refund status for order {i}",
        "description": "Where is my refund? I returned the item two weeks ago. " * 3,
        "priority": "normal", "status": "solved", "recipient": "support@acme.com",
        "requester_id": 500 + i % 5000, "submitter_id": 500 + i % 5000, "assignee_id": 9001,
        "organization_id": 77 + i % 300, "group_id": 300, "collaborator_ids": [],
        "follower_ids": [], "email_cc_ids": [], "problem_id": None, "has_incidents": False,
        "is_public": True, "due_at": None, "tags": ["refund", "vip"],
        "custom_fields": [{"id": 360001, "value": "billing"}, {"id": 360002, "value": None}],
        "satisfaction_rating": {"score": "offered"}, "sharing_agreement_ids": [],
        "followup_ids": [], "ticket_form_id": 1, "brand_id": 1, "allow_channelback": False,
        "allow_attachments": True, "from_messaging_channel": False,
        "via": {"channel": "email", "source": {"from": {"address": f"c{i}@x.example"},
                                               "to": {"address": "support@acme.com"}, "rel": None}},
    }  # fmt: skip


def app_factory(tickets: int):  # noqa: ANN201
    def build() -> ZendeskApp:
        app = ZendeskApp(EMAIL, TOKEN)
        app.load("tickets", [ticket(i) for i in range(tickets)])
        return app

    return build


def bare_loop(url: str) -> tuple[int, int, float]:
    """Pages, tickets and seconds of the plainest client: GET, parse, follow the cursor."""
    auth = httpx.BasicAuth(f"{EMAIL}/token", TOKEN)
    pages = tickets = 0
    started = time.perf_counter()
    with httpx.Client(base_url=url, auth=auth, timeout=60) as client:
        params: dict[str, Any] = {"start_time": 0, "per_page": PAGE}
        while True:
            page = client.get("/api/v2/incremental/tickets/cursor.json", params=params).json()
            pages, tickets = pages + 1, tickets + len(page["tickets"])
            if page["end_of_stream"]:
                break
            params = {"cursor": page["after_cursor"], "per_page": PAGE}
    return pages, tickets, time.perf_counter() - started


def write_sources(folder: Path, url: str) -> Path:
    credentials = {"email": "BENCH_ZENDESK_EMAIL", "token": "BENCH_ZENDESK_TOKEN"}
    api = {"base_url": url, "page_size": PAGE, "entities": ["tickets"], "credentials": credentials}
    folder.mkdir(parents=True, exist_ok=True)
    config = {"version": 1, "sources": {"zendesk": {"kind": "zendesk", "path": "zendesk",
                                                    "api": api}}}  # fmt: skip
    (folder / "cxloop.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def pull_once(folder: Path) -> dict[str, Any]:
    """`pull_source` in this process (the child of `peak_rss`, or the timed run)."""
    from cxloop.config import load_config
    from cxloop.connectors.run import pull_source

    config = load_config(folder / "cxloop.yaml")
    return pull_source(folder, "zendesk", config.sources["zendesk"])


def vm_hwm_mb() -> float:
    """This process's peak resident set (MB), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb(folder: Path, tickets: int) -> float:
    """Peak RSS (MB) of a pull of `tickets` tickets in a fresh Python process."""
    # VmHWM (this process image's peak), not ru_maxrss: Linux keeps ru_maxrss across exec,
    # so a child would report its parent's peak
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from benchmarks.pull_zendesk import pull_once, vm_hwm_mb; from pathlib import Path;"
        "r = pull_once(Path(sys.argv[2]));"
        "print(json.dumps({'records': r['records'], 'rss': vm_hwm_mb()}))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(folder)], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    result = json.loads(out.splitlines()[-1])
    assert result["records"] == tickets, result
    return round(result["rss"], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.update(BENCH_ZENDESK_EMAIL=EMAIL, BENCH_ZENDESK_TOKEN=TOKEN)
    work = Path(tempfile.mkdtemp(prefix="cxloop-bench-pull-"))
    try:
        with serve_in_process(app_factory(args.tickets)) as (url, busy):
            bare_loop(url)  # warm the server's sort and the connection code paths
            busy.value = 0.0
            pages, tickets, floor = bare_loop(url)
            server_floor = busy.value
            busy.value = 0.0
            started = time.perf_counter()
            report = pull_once(write_sources(work / "timed", url))
            pull_seconds = time.perf_counter() - started
            server_pull = busy.value
            assert report["records"] == tickets == args.tickets, (report, tickets)
            rss_large = peak_rss_mb(write_sources(work / "rss-large", url), args.tickets)
        with serve_in_process(app_factory(args.small)) as (url, _):
            rss_small = peak_rss_mb(write_sources(work / "rss-small", url), args.small)
        result = {
            "tickets": tickets, "pages": pages, "pull_seconds": round(pull_seconds, 2),
            "bare_loop_seconds": round(floor, 2),
            "server_ms_per_page": round(1000 * server_pull / pages, 1),
            "bare_loop_ms_per_page": round(1000 * floor / pages, 1),
            "pull_ms_per_page": round(1000 * pull_seconds / pages, 1),
            "our_ms_per_page": round(1000 * (pull_seconds - floor) / pages, 1),
            "server_ms_per_page_during_bare_loop": round(1000 * server_floor / pages, 1),
            f"peak_rss_mb_{args.small}": rss_small, f"peak_rss_mb_{args.tickets}": rss_large,
            "bench_process_peak_rss_mb": round(vm_hwm_mb(), 1),
            "load_average": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
        }  # fmt: skip
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
