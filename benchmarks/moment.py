"""Benchmark: signed Typeform responses posted to the running receiver -> e-mail at SendGrid.

Usage: python -m benchmarks.moment [--responses 100] [--build-seconds 20]
A real DuckDB warehouse (gate open), the real receiver over HTTP on 127.0.0.1, the actor and
engine, the real `sendgrid` client against a local v3 stand-in that notes when it is handed
each message. Round 1: nobody holds the writer. Round 2: a "build" holds the writer slot for
--build-seconds while the responses arrive (the actor waits for it, as for a real build).
The slot is an in-process lock here (no Prefect server); `cxloop serve-webhooks` uses the
Prefect `warehouse-writer` slot, whose acquisition adds tens of milliseconds per batch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from gate_state import mark_checked  # noqa: E402  (tests/gate_state.py: open the gate)

from cxloop.act import load_specs, plan_context  # noqa: E402
from cxloop.config import load_project  # noqa: E402
from cxloop.moment.act import MomentActor, act_on_responses  # noqa: E402
from cxloop.moment.receive import typeform_receiver  # noqa: E402
from cxloop.moment.serve import TYPEFORM_PATH, _route  # noqa: E402
from cxloop.resources import email_channel  # noqa: E402
from cxloop.settings import Settings  # noqa: E402
from cxloop.sources.webhook_requests import typeform_signature  # noqa: E402
from cxloop.webhooks import make_routes_server  # noqa: E402

SECRET = "bench-secret"
NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)  # business hours: quiet hours never defer
CONFIG = """\
version: 1
sources:
  typeform:
    kind: typeform
    path: typeform
    secret_env: CXLOOP_BENCH_TYPEFORM_SECRET
    forms:
      - form_id: fBench
        kind: in_the_moment
        fields: {nps: nps}
        hidden: {email: email}
"""


def build_warehouse(path: Path, customers: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        """
        create schema marts; create schema ml; create schema ops;
        create table marts.dim_accounts as select 'A1' account_id, 'Acme' account_name,
            'Carla' csm_name, 'carla@vendor.example' csm_email;
        create table marts.dim_customers as select 'C' || i customer_id, 'A1' account_id,
            'c' || i || '@customers.example' email, 'Cust' || i first_name,
            false has_opted_out_of_email from range(?) t(i);
        create table marts.fct_survey_responses (response_id varchar, customer_id varchar,
            account_id varchar, survey_id varchar, nps_score integer, nps_category varchar,
            language varchar, respondent_email varchar, responded_at timestamp,
            open_text varchar);
        insert into marts.fct_survey_responses values ('old1', 'C0', 'A1', 'S', 9,
            'promoter', 'en', 'c0@customers.example', '2024-06-01 10:00', null);
    """.replace("?", str(1000 + customers))
    )
    con.close()
    mark_checked(path)


@contextlib.contextmanager
def sendgrid_stand_in(handed: dict[str, float]) -> Iterator[str]:
    """POST /v3/mail/send -> 202; notes the time each recipient's message is handed over."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = time.time()
            for p in body["personalizations"]:
                handed.setdefault(p["to"][0]["email"], now)
            self.send_response(202)
            self.send_header("X-Message-Id", f"bench{len(handed)}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def email(n: int, round_: int) -> str:
    return f"c{round_ * 1000 + n}@customers.example"


def body(n: int, round_: int) -> bytes:
    submitted = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = {"type": "number", "number": n % 7, "field": {"id": "F1", "type": "nps", "ref": "nps"}}
    return json.dumps({
        "event_id": f"bench{round_}x{n:05d}", "event_type": "form_response",
        "form_response": {
            "form_id": "fBench", "token": f"tok{round_}x{n:05d}", "landed_at": submitted,
            "submitted_at": submitted, "hidden": {"email": email(n, round_)},
            "definition": {"fields": [{"id": "F1", "ref": "nps", "type": "nps"}]},
            "answers": [answer],
        },
    }).encode()  # fmt: skip


def post_all(url: str, responses: int, round_: int) -> dict[str, float]:
    """Post every response (8 clients at once); the arrival time per recipient."""
    arrived: dict[str, float] = {}

    def one(n: int) -> None:
        data = body(n, round_)
        sig = {"Typeform-Signature": typeform_signature(SECRET, data)}
        arrived[email(n, round_)] = time.time()
        req = urllib.request.Request(url, data=data, headers=sig, method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.status == 200

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(responses)))
    return arrived


def latencies(arrived: dict[str, float], handed: dict[str, float], timeout: float) -> list[float]:
    deadline = time.time() + timeout
    while time.time() < deadline and not set(arrived) <= set(handed):
        time.sleep(0.1)
    missing = set(arrived) - set(handed)
    if missing:
        raise SystemExit(f"{len(missing)} e-mails never reached the stand-in")
    return sorted(handed[r] - arrived[r] for r in arrived)


def summary(values: list[float]) -> dict[str, float]:
    p95 = values[max(0, int(round(0.95 * len(values))) - 1)]
    return {"p50_s": round(statistics.median(values), 2), "p95_s": round(p95, 2),
            "max_s": round(values[-1], 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100)
    parser.add_argument("--build-seconds", type=float, default=20.0)
    args = parser.parse_args()
    os.environ["CXLOOP_BENCH_TYPEFORM_SECRET"] = SECRET
    handed: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, sendgrid_stand_in(handed) as sendgrid:
        sources = Path(tmp) / "sources"
        sources.mkdir()
        (sources / "cxloop.yaml").write_text(CONFIG)
        _, project = load_project(sources, None)
        warehouse = Path(tmp) / "cx.duckdb"
        build_warehouse(warehouse, args.responses)
        settings = Settings(
            home=Path(tmp), resources="production", sendgrid_api_key="SG.bench",
            sendgrid_base_url=sendgrid,
        )  # fmt: skip
        spec = load_specs(project, ["detractor_followup"])[0]
        channel = email_channel(settings)
        ctx = plan_context(project, NOW)
        slot = threading.Lock()
        actor = MomentActor(
            lambda batch: act_on_responses(warehouse, batch, spec, channel=channel, ctx=ctx),
            lambda: slot,
            log=lambda line: print(line, flush=True),
        ).start()
        receiver = typeform_receiver(sources, project)
        server = make_routes_server({TYPEFORM_PATH: _route(receiver.receive, actor.submit,
                                                           with_query=False)}, port=0)  # fmt: skip
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}{TYPEFORM_PATH}"
        start = time.time()
        free = summary(latencies(post_all(url, args.responses, 0), handed, 120))
        free["wall_s"] = round(time.time() - start, 2)
        with slot:  # a build holds the writer while the next responses arrive
            arrived = post_all(url, args.responses, 1)
            time.sleep(args.build_seconds)
        held = summary(latencies(arrived, handed, 120 + args.build_seconds))
        actor.stop()
        server.shutdown()
    detractors = sum(1 for n in range(args.responses) if n % 7 <= 6)
    print(json.dumps({
        "responses": args.responses, "detractors_emailed_per_round": detractors,
        "no_build": free, f"build_holding_writer_{args.build_seconds:g}s": held,
        "goal": "p95 < 30 s with no build holding the writer",
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
