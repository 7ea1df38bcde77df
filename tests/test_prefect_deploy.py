"""Production, tested: `prefect deploy --all` on a real server, and a process worker running it.

One server for the module (startup 10-30 s on 2 cores): the first test checks every deployment
and the scheduler; the second pauses the schedules, starts a process worker and runs the
ingest and act deployments end to end, while the test itself holds the warehouse-writer slot
so that both runs must queue on it. `pytest -m deploy` selects them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml
from postgres_server import (
    NoPostgres,
    ScratchDatabaseError,
    postgres_server,
    required,
    scratch_database,
)
from small_marts import build_warehouse

from cxloop.flows.prefect_api import LEASE_STORAGE_SETTING

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float) -> None:
    """Terminate a child process, killing it after `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()


pytestmark = pytest.mark.deploy
FIXTURE_SOURCES = ROOT / "tests" / "fixtures" / "sources"
WRITER = "warehouse-writer"
# 2024-06-05 14:00 UTC, a Wednesday afternoon: outside the detractor playbook's quiet hours
ACT_NOW = "2024-06-05T14:00:00+00:00"


def api(url: str, path: str, body: dict | None = None, method: str | None = None) -> object:
    """One call to the server's REST API, its JSON answer. A loaded server may answer 503 (its
    database is busy) or slowly: those are retried, timeouts only for calls that read."""
    method = method or ("POST" if body is not None else "GET")
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method=method,
    )
    reads = method == "GET" or path.endswith("/filter")
    for attempt in range(6):
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 5:
                raise
        except (TimeoutError, urllib.error.URLError) as exc:
            timed_out = isinstance(exc, TimeoutError) or isinstance(exc.reason, TimeoutError)
            if not (reads and timed_out) or attempt == 5:
                raise
        time.sleep(2)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on 127.0.0.1 with its own PREFECT_HOME; stopped afterwards.

    Its database is PostgreSQL when one is at hand (CI's, else a throwaway cluster), as Prefect
    advises for production (docs/operations.md); else SQLite. On SQLite, once in CI, the server's
    database stayed locked for its 60 s busy timeout while the two flow runs wrote their states,
    logs and lease, and every API call waited.
    """
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "TMPDIR": str(home),
    }
    env.pop("PREFECT_API_URL", None)
    env.pop(LEASE_STORAGE_SETTING, None)  # Prefect's own: in its memory
    with contextlib.ExitStack() as stack:
        env.pop("PREFECT_SERVER_DATABASE_CONNECTION_URL", None)  # never the caller's database
        try:
            dsn = stack.enter_context(postgres_server())
            database = stack.enter_context(scratch_database(dsn, "prefect_deploy"))
        except (NoPostgres, ScratchDatabaseError):  # SQLite, unless CI requires PostgreSQL
            if required():
                raise
        else:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database.replace(
                "postgresql://", "postgresql+asyncpg://", 1
            )
        server_log = stack.enter_context((home / "server.log").open("w"))  # read on a failure
        proc = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/api"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    api(url, "/health")
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        server_log.flush()
                        log = (home / "server.log").read_text()[-3000:]
                        raise RuntimeError(f"the Prefect server did not start:\n{log}") from None
                    time.sleep(0.5)
            yield {**env, "PREFECT_API_URL": url}
        finally:
            stop(proc, 20)


@pytest.fixture(scope="module")
def deployed(server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The work pool created and every deployment of prefect.yaml deployed, on fixture sources."""
    base = tmp_path_factory.mktemp("deployed")
    sources = base / "sources"
    shutil.copytree(FIXTURE_SOURCES, sources, ignore=shutil.ignore_patterns("company_a"))
    env = {
        **server,
        "CXLOOP_PROJECT_DIR": str(ROOT),
        "CXLOOP_SOURCES_DIR": str(sources),
        "CXLOOP_CONFIG": str(sources / "cxloop.yaml"),
        "CXLOOP_HOME": str(base / "cxhome"),
        "CXLOOP_RESOURCES": "local",
        "PREFECT_LOGGING_LEVEL": "INFO",  # the slot lines are INFO
    }
    env.pop("CXLOOP_SENDGRID_API_KEY", None)
    pool = subprocess.run(
        [PREFECT, "work-pool", "create", "cxloop-process", "--type", "process"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = subprocess.run(
        [PREFECT, "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
    return env


def test_deploy_all_creates_every_deployment_with_schedules(deployed: dict[str, str]) -> None:
    url = deployed["PREFECT_API_URL"]
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    found = api(url, "/deployments/filter", {})
    by_name = {d["name"]: d for d in found}
    assert {d["name"] for d in declared} <= set(by_name)
    for d in declared:
        assert by_name[d["name"]]["schedules"], f"{d['name']} has no schedule"
        assert by_name[d["name"]]["work_pool_name"] == "cxloop-process"
    # the pipeline's own stages are not scheduled a second time beside pipeline-nightly
    assert not {"build-nightly", "check-nightly", "score-nightly", "publish-nightly"} & set(by_name)
    assert by_name["ingest-zendesk"]["parameters"]["sources_dir"] == deployed["CXLOOP_SOURCES_DIR"]

    # The scheduler (SQLAlchemy < 2.1, see DESIGN.md) creates scheduled runs on its own.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = api(url, "/flow_runs/filter", {"limit": 5})
        if runs:
            break
        time.sleep(2)
    assert runs, "the Prefect scheduler created no scheduled runs"


def run_logs(url: str, flow_run_id: str) -> list[dict]:
    """Every log line of one flow run, oldest first (paged: the API returns 200 at most)."""
    lines: list[dict] = []
    while True:
        body = {
            "logs": {"flow_run_id": {"any_": [flow_run_id]}},
            "sort": "TIMESTAMP_ASC",
            "offset": len(lines),
            "limit": 200,
        }
        page = api(url, "/logs/filter", body)
        lines += page  # type: ignore[arg-type]
        if len(page) < 200:  # type: ignore[arg-type]
            return lines


SLOT_LINES = {
    "waiting": f"waiting for the {WRITER} slot",
    "holding": f"holding the {WRITER} slot",
    "releasing": f"releasing the {WRITER} slot",
}


def slot_times(url: str, flow_run_id: str) -> dict[str, str]:
    """When the run logged waiting for, holding and releasing the writer slot (ISO times)."""
    times: dict[str, str] = {}
    for line in run_logs(url, flow_run_id):
        for word, text in SLOT_LINES.items():
            if line["message"] == text:
                times.setdefault(word, line["timestamp"])
    return times


def slot_order(worker_log: str, names: dict[str, str]) -> list[tuple[str, str]]:
    """(run, holding|releasing) in the order the worker's log shows them."""
    order = []
    for line in worker_log.splitlines():
        for run_name, run in names.items():
            if f"'{run_name}'" not in line:
                continue
            for word in ("holding", "releasing"):
                if SLOT_LINES[word] in line:
                    order.append((run, word))
    return order


def wait_until(what: str, check, timeout: float, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}")
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_worker_runs_ingest_and_act_queued_on_the_writer_slot(
    deployed: dict[str, str], tmp_path: Path
) -> None:
    url = deployed["PREFECT_API_URL"]
    by_name = {d["name"]: d for d in api(url, "/deployments/filter", {})}
    for d in by_name.values():  # no scheduled run may start while we test manual runs
        api(url, f"/deployments/{d['id']}/pause_deployment", {})
    # scheduled runs that outlive the pause (one started mid-test at a 15-minute boundary)
    # are deleted, after two scheduler loops so that none is still being inserted
    time.sleep(2 * float(deployed["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"]))
    scheduled = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}, "limit": 200}
    for run in api(url, "/flow_runs/filter", scheduled):
        api(url, f"/flow_runs/{run['id']}", method="DELETE")
    warehouse = Path(deployed["CXLOOP_HOME"]) / "warehouse" / "cx.duckdb"
    warehouse.parent.mkdir(parents=True)
    build_warehouse(warehouse)  # four recent detractors, one opted out; gate open

    # the test holds the one writer slot, as a long build would
    try:
        api(url, "/v2/concurrency_limits/", {"name": WRITER, "limit": 1})
    except urllib.error.HTTPError as exc:
        assert exc.code == 409, exc
    lease = api(
        url,
        "/v2/concurrency_limits/increment-with-lease",
        {"names": [WRITER], "slots": 1, "mode": "concurrency", "lease_duration": 600},
    )

    worker_log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [PREFECT, "worker", "start", "--pool", "cxloop-process", "--type", "process"],
        env={**deployed, "PREFECT_WORKER_QUERY_SECONDS": "1"},
        cwd=tmp_path,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        ingest = api(url, f"/deployments/{by_name['ingest-zendesk']['id']}/create_flow_run", {})
        act = api(
            url,
            f"/deployments/{by_name['act-frequent']['id']}/create_flow_run",
            {"parameters": {"now": ACT_NOW, "playbooks": ["detractor_followup"]}},
        )
        runs = {"ingest": ingest["id"], "act": act["id"]}

        def both_waiting() -> bool:
            return all("waiting" in slot_times(url, rid) for rid in runs.values())

        wait_until("both runs to wait for the writer slot", both_waiting, 300, worker)
        time.sleep(3)  # still queued: nobody may hold the slot while the test does
        for name, rid in runs.items():
            assert "holding" not in slot_times(url, rid), f"{name} ran while the slot was held"
            state = api(url, f"/flow_runs/{rid}")["state"]["type"]
            assert state == "RUNNING", f"{name} is {state} while it queues for the slot"
        api(url, "/v2/concurrency_limits/decrement-with-lease", {"lease_id": lease["lease_id"]})

        def finished() -> dict[str, str] | None:
            states = {n: api(url, f"/flow_runs/{rid}")["state"]["type"] for n, rid in runs.items()}
            done = all(
                s in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"} for s in states.values()
            )
            return states if done else None

        states = wait_until("both runs to finish", finished, 300, worker)

        # one after the other on the slot: read from the runs' logs, before the worker stops (a
        # run's state is final before its process has sent its last log lines; stopped then,
        # the worker took them with it, and this waited its whole minute for them)
        def all_slot_lines() -> dict[str, dict[str, str]] | None:  # logs come in batches
            found = {name: slot_times(url, rid) for name, rid in runs.items()}
            return found if all(len(t) == 3 for t in found.values()) else None

        with contextlib.suppress(AssertionError):
            wait_until("the slot log lines", all_slot_lines, 60)
    finally:
        stop(worker, 30)
        worker_log.close()
    log_tail = (tmp_path / "worker.log").read_text()[-3000:]
    assert states == {"ingest": "COMPLETED", "act": "COMPLETED"}, log_tail

    # visible through the API as Completed runs of their deployments
    listed = api(url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": list(runs.values())}}})
    assert {(r["deployment_id"], r["state_type"]) for r in listed} == {
        (by_name["ingest-zendesk"]["id"], "COMPLETED"),
        (by_name["act-frequent"]["id"], "COMPLETED"),
    }

    # the two held intervals do not overlap
    slots = {name: slot_times(url, rid) for name, rid in runs.items()}
    if all(len(t) == 3 for t in slots.values()):
        held = sorted((t["holding"], t["releasing"]) for t in slots.values())
        assert held[0][1] <= held[1][0], held
    else:
        # Prefect drops a log batch the server answers 503 (its SQLite, on a loaded machine);
        # the worker streams each run's output in the order it happens: read the order there
        names = {api(url, f"/flow_runs/{rid}")["name"]: name for name, rid in runs.items()}
        order = slot_order((tmp_path / "worker.log").read_text(errors="replace"), names)
        assert len(order) == 4 and order[0][0] == order[1][0], (slots, order)
        assert [word for _, word in order] == ["holding", "releasing"] * 2, order

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tickets = con.execute("select count(*) from raw.zendesk__tickets").fetchone()[0]
        actions = dict(
            con.execute(
                "select status, count(*) from ops.playbook_actions "
                "where channel = 'email' group by status"
            ).fetchall()
        )
    finally:
        con.close()
    assert tickets > 0
    # R1-R3 e-mailed through the outbox, R4 opted out (suppressed), R0 too old to trigger
    assert actions == {"sent": 3, "suppressed": 1}
