"""The quiet terminal of `cxloop run`/`demo`: stage lines from StageTimer, logs to a file."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

import pytest
from rich.console import Console

from cxloop.flows.cli.common import route_logs, stage_lines
from cxloop.flows.orchestration import StageTimer, stage_listener


def test_a_listener_hears_each_stage_start_and_end() -> None:
    heard: list[tuple[str, float | None]] = []
    timer = StageTimer()
    with stage_listener(lambda stage, seconds: heard.append((stage, seconds))):
        with timer.stage("ingest"):
            pass
    with timer.stage("act"):  # after the block: no longer told
        pass
    assert [h[0] for h in heard] == ["ingest", "ingest"]
    assert heard[0][1] is None and heard[1][1] == timer.seconds["ingest"]


def test_stages_side_by_side_are_listed_in_the_order_they_began() -> None:
    """Act begins before publish and ends after it (they run side by side): the summary's
    durations still list act first."""
    from cxloop.flows.orchestration import beside

    timer = StageTimer()
    started, publish_done = threading.Event(), threading.Event()

    def act() -> None:
        with timer.stage("act"):
            started.set()
            publish_done.wait(5)

    acted = beside(act, "act")
    started.wait(5)
    with timer.stage("publish"):
        pass
    publish_done.set()
    acted()
    assert list(timer.seconds) == ["act", "publish"]


def test_prefect_logs_go_to_the_file_not_the_console(tmp_path: Path) -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    root = logging.getLogger()
    console = PrefectConsoleHandler()  # as Prefect's logging.yml puts on the root logger
    root.addHandler(console)
    path = route_logs(tmp_path / "logs", verbose=False)
    try:
        logging.getLogger("prefect.task_runs").warning("task said hello")  # tests log at WARNING
        for handler in root.handlers:
            handler.flush()
        assert "task said hello" in path.read_text()
        assert console.level > logging.CRITICAL
        assert route_logs(tmp_path / "logs", verbose=False) == path  # one file handler only
        assert sum(getattr(h, "baseFilename", None) == str(path) for h in root.handlers) == 1
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "baseFilename", None) == str(path):
                root.removeHandler(handler)
                handler.close()
        root.removeHandler(console)


def test_one_line_per_stage(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    waited: list[bool] = []
    root = logging.getLogger()
    try:
        with stage_lines(console, tmp_path / "logs", False, lambda: waited.append(True)):
            timer = StageTimer()
            for stage in ("ingest", "build"):
                with timer.stage(stage):
                    pass
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "baseFilename", "").startswith(str(tmp_path)):
                root.removeHandler(handler)
                handler.close()
            elif type(handler).__name__ == "PrefectConsoleHandler":
                handler.setLevel(logging.NOTSET)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert waited == [True]
    assert [line.split()[1] for line in lines[:3]] == ["prefect_api", "ingest", "build"]
    assert lines[3].startswith("Logs: ")


def test_the_cli_starts_its_own_prefect_server_only_when_no_api_can_be_configured(
    tmp_path: Path,
) -> None:
    from cxloop.flows.prefect_api import api_may_be_configured

    cwd, home = tmp_path / "work", tmp_path / "prefect-home"
    cwd.mkdir()
    home.mkdir()
    env = {"PREFECT_HOME": str(home)}
    assert not api_may_be_configured(cwd, env)  # no profiles file, nothing in the folder
    assert api_may_be_configured(cwd, {**env, "PREFECT_API_URL": "http://127.0.0.1:4200/api"})
    (home / "profiles.toml").write_text(
        'active = "prod"\n[profiles.local]\n[profiles.prod]\n'
        'PREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
    )
    assert api_may_be_configured(cwd, env)  # the active profile names a server
    assert not api_may_be_configured(cwd, {**env, "PREFECT_PROFILE": "local"})
    (cwd / "pyproject.toml").write_text('[tool.prefect.api]\nurl = "http://h:4200/api"\n')
    assert api_may_be_configured(cwd, {**env, "PREFECT_PROFILE": "local"})


def test_prefects_own_server_gets_lease_files_unless_the_user_chose(tmp_path: Path) -> None:
    from cxloop.flows.prefect_api import (
        LEASE_STORAGE,
        LEASE_STORAGE_SETTING,
        SLOT_WAIT_SETTING,
        default_server_settings,
    )

    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {"PREFECT_HOME": str(home)}
    default_server_settings(env, tmp_path)
    assert env[LEASE_STORAGE_SETTING] == LEASE_STORAGE and env[SLOT_WAIT_SETTING] == "5"
    mine = {**env, LEASE_STORAGE_SETTING: "my.lease.storage"}
    default_server_settings(mine, tmp_path)  # the user's environment wins
    assert mine[LEASE_STORAGE_SETTING] == "my.lease.storage"
    (home / "profiles.toml").write_text(
        f'active = "local"\n[profiles.local]\n{SLOT_WAIT_SETTING} = "30"\n'
    )
    profiled = {"PREFECT_HOME": str(home)}
    default_server_settings(profiled, tmp_path)  # and so does the active profile's setting
    assert SLOT_WAIT_SETTING not in profiled and profiled[LEASE_STORAGE_SETTING] == LEASE_STORAGE
    served = {"PREFECT_HOME": str(home), "PREFECT_API_URL": "http://127.0.0.1:4200/api"}
    default_server_settings(served, tmp_path)  # an API of the user's: no server of Prefect's own
    assert LEASE_STORAGE_SETTING not in served
    (tmp_path / "prefect.toml").write_text('[server.concurrency]\nlease_storage = "x"\n')
    filed = {"PREFECT_HOME": str(home)}
    default_server_settings(filed, tmp_path)  # settings files rank below the environment
    assert LEASE_STORAGE_SETTING not in filed


def test_only_a_server_keeping_leases_in_files_counts_as_temporary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect's own server keeps the lease storage Prefect's settings say (else this process's
    environment's: tests/crash/test_kill_slot_holder.py's `ephemeral` case)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        temporary_settings,
    )

    import cxloop.flows.prefect_api as prefect_api

    files, memory = prefect_api.LEASE_STORAGE, "prefect.server.concurrency.lease_storage.memory"
    monkeypatch.delenv(prefect_api.TEMPORARY_API, raising=False)
    monkeypatch.setenv(prefect_api.LEASE_STORAGE_SETTING, files)
    with temporary_settings(
        updates={
            PREFECT_SERVER_EPHEMERAL_ENABLED: True,
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE: files,
        },
        restore_defaults={PREFECT_API_URL},
    ):
        assert prefect_api.temporary_api()  # Prefect's own server, with the lease files
        monkeypatch.setattr(prefect_api, "_prefect_server_before_import", True)
        assert not prefect_api.temporary_api()  # started before: the environment it had then
        monkeypatch.setattr(prefect_api, "_prefect_server_before_import", False)
        with temporary_settings(updates={PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE: memory}):
            assert not prefect_api.temporary_api()  # what Prefect read itself wins
        with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_ENABLED: False}):
            assert not prefect_api.temporary_api()  # no server of Prefect's own
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
            assert not prefect_api.temporary_api()  # a server of the user's
            monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
            monkeypatch.setenv(prefect_api.TEMPORARY_API, "http://127.0.0.1:4200/api")
            assert prefect_api.temporary_api()  # the CLI's, named by its command


def test_a_running_server_of_prefects_own_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_prefect_server_started` reads Prefect's own bookkeeping (its server, one per port):
    a renamed attribute would make it say False for good, so it is read here as pinned."""
    from prefect.server.api.server import SubprocessASGIServer

    from cxloop.flows.prefect_api import _prefect_server_started

    monkeypatch.setattr(SubprocessASGIServer, "_instances", {})
    assert not _prefect_server_started()
    server = SubprocessASGIServer()  # not started: marked running as start() marks it
    assert not _prefect_server_started()
    monkeypatch.setattr(server, "running", True)
    assert _prefect_server_started()


def test_the_clis_own_prefect_server_answers_and_dies_with_a_killed_cli(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import os, sys; from pathlib import Path; "
        "from cxloop.flows.prefect_api import TemporaryServer; "
        "s = TemporaryServer(Path(sys.argv[1])); s.start(); s.wait(); "
        "print(s.process.pid, flush=True); os.kill(os.getpid(), 9)"  # no atexit runs
    )
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    cli = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "prefect-server.log")],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert cli.returncode == -signal.SIGKILL, cli.stderr
    server = int(cli.stdout.strip())  # printed only once the server answered its health check
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and os.path.exists(f"/proc/{server}"):
        with open(f"/proc/{server}/stat") as stat:  # a zombie waiting for init is gone too
            if stat.read().split()[2] == "Z":
                break
        time.sleep(0.2)
    else:
        assert not os.path.exists(f"/proc/{server}"), "the server outlived the killed CLI"
