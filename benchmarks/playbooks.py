"""Benchmark: N detractor follow-ups planned and sent to a local SendGrid v3-compatible server.

Usage: python -m benchmarks.playbooks [--rows 100000]
The real engine, the real `sendgrid` client and a real DuckDB file; the server only counts
personalizations and answers 202. Not a test: the number goes in the report / docs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 6, 5, 14, 0, tzinfo=UTC)
LANGUAGES = ("en", "en", "en", "ar", "fa")


def _serve(port_out: Any, counts_out: Any) -> None:
    """Child process: a POST /v3/mail/send answering 202 with an X-Message-Id."""
    seen = {"requests": 0, "personalizations": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                seen["requests"] += 1
                seen["personalizations"] += len(body["personalizations"])
                message_id = f"bench{seen['requests']:06d}"
                counts_out.value = seen["personalizations"]
            self.send_response(202)
            self.send_header("X-Message-Id", message_id)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.value = server.server_address[1]
    server.serve_forever()


def start_server() -> tuple[multiprocessing.Process, int, Any]:
    """The v3 server in its own process (SendGrid is another machine, not our CPU)."""
    port, personalizations = multiprocessing.Value("i", 0), multiprocessing.Value("q", 0)
    process = multiprocessing.Process(target=_serve, args=(port, personalizations), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while not port.value and time.monotonic() < deadline:
        time.sleep(0.05)
    return process, port.value, personalizations


def build_warehouse(path: Path, rows: int) -> None:
    """Marts with `rows` recent detractor responses, each from a different customer."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_accounts as select 'A' || (i % 500) as account_id, "
        "'Account ' || (i % 500) as account_name, 'CSM ' || (i % 20) as csm_name, "
        "'csm' || (i % 20) || '@vendor.example' as csm_email from range(500) t(i)"
    )
    langs = "[" + ", ".join(f"'{lang}'" for lang in LANGUAGES) + "]"
    con.execute(
        f"""create table marts.dim_customers as select 'C' || i as customer_id,
            'A' || (i % 500) as account_id, 'Name' || i as first_name,
            false as has_opted_out_of_email, 'Europe/London' as time_zone
            from range({rows}) t(i)"""
    )
    now = NOW.replace(tzinfo=None)
    con.execute(
        f"""create table marts.fct_survey_responses as select 'R' || i as response_id,
            'C' || i as customer_id, 'A' || (i % 500) as account_id,
            cast(i % 7 as integer) as nps_score, 'detractor' as nps_category,
            {langs}[1 + i % {len(LANGUAGES)}] as language,
            'person' || i || '@customer.example' as respondent_email,
            timestamp '{now:%Y-%m-%d %H:%M:%S}' - to_minutes(cast(i % 5000 as bigint))
                as responded_at,
            case when i % 3 = 0 then 'Too slow' end as open_text
            from range({rows}) t(i)"""
    )
    con.close()


def playbook_folder(tmp: Path, rows: int) -> Path:
    """detractor_followup as shipped, with max_per_run raised to the benchmark size."""
    folder = tmp / "playbooks"
    folder.mkdir()
    spec = yaml.safe_load((ROOT / "playbooks" / "detractor_followup.yaml").read_text())
    spec["guardrails"]["max_per_run"] = rows
    (folder / "detractor_followup.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    shutil.copytree(ROOT / "playbooks" / "templates", folder / "templates")
    return folder


def bench_playbooks(rows: int) -> dict[str, object]:
    """Plan and send `rows` follow-ups (e-mail + callback each); wall-clock seconds."""
    from cxloop.playbooks.channels import SendGridChannel
    from cxloop.playbooks.engine import run_playbooks
    from cxloop.playbooks.plan import PlanContext
    from cxloop.playbooks.render import TemplateRenderer
    from cxloop.playbooks.spec import load_playbooks

    with tempfile.TemporaryDirectory(prefix="cxbench-playbooks-") as tmp_name:
        tmp = Path(tmp_name)
        build_warehouse(tmp / "cx.duckdb", rows)
        folder = playbook_folder(tmp, rows)
        server, port, personalizations = start_server()
        channel = SendGridChannel(
            "SG.bench",
            base_url=f"http://127.0.0.1:{port}",
            email_from="cx@vendor.example",
            email_from_name="CX",
            unsubscribe_group=1,
        )
        ctx = PlanContext(now=NOW, unsubscribe_url="https://cx.example/u?c={action_id}")
        con = duckdb.connect(str(tmp / "cx.duckdb"))
        try:
            t0 = time.perf_counter()
            counts = run_playbooks(
                con,
                load_playbooks(folder, ["detractor_followup"]),
                renderer=TemplateRenderer(folder / "templates"),
                channel=channel,
                ctx=ctx,
                gate_ok=True,
            )["detractor_followup"]
            seconds = time.perf_counter() - t0
            sent = con.execute(
                "select count(*) from ops.playbook_actions where channel = 'email' "
                "and status = 'sent'"
            ).fetchall()[0][0]
        finally:
            con.close()
            received = personalizations.value
            server.terminate()
            server.join()
    return {
        "rows": rows,
        "seconds": round(seconds, 1),
        "emails_sent": sent,
        "callbacks": counts["sent"] - sent,
        "personalizations_received": received,
        "per_second": round(rows / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(bench_playbooks(args.rows))


if __name__ == "__main__":
    main()
