"""`prefect deploy --all` against a real local Prefect server, and its scheduler creating runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str, path: str, body: dict | None = None) -> object:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on 127.0.0.1 with its own PREFECT_HOME; stopped afterwards."""
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
    proc = subprocess.Popen(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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
                    raise RuntimeError("the Prefect server did not start") from None
                time.sleep(0.5)
        yield {**env, "PREFECT_API_URL": url}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_deploy_all_creates_every_deployment_with_schedules(server: dict[str, str]) -> None:
    env = {**server, "CXLOOP_PROJECT_DIR": str(ROOT), "CXLOOP_SOURCES_DIR": str(ROOT / "var")}
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

    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    found = api(server["PREFECT_API_URL"], "/deployments/filter", {})
    by_name = {d["name"]: d for d in found}
    assert {d["name"] for d in declared} <= set(by_name)
    for d in declared:
        assert by_name[d["name"]]["schedules"], f"{d['name']} has no schedule"
        assert by_name[d["name"]]["work_pool_name"] == "cxloop-process"

    # The scheduler (SQLAlchemy < 2.1, see DESIGN.md) creates scheduled runs on its own.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = api(server["PREFECT_API_URL"], "/flow_runs/filter", {"limit": 5})
        if runs:
            break
        time.sleep(2)
    assert runs, "the Prefect scheduler created no scheduled runs"
