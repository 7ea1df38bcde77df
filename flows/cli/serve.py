"""`cxloop serve`: a Prefect server, a process worker and the webhook receivers, for one user.

Everything binds 127.0.0.1 and stops on Ctrl-C (children terminated, then killed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from cxloop.flows.cli.common import ConfigOpt, console, fail

POOL = "cxloop-process"


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as resp:
                if json.loads(resp.read()) is True:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the Prefect server did not answer {url}/health")
        time.sleep(0.5)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        proc.terminate()
    for proc in reversed(procs):
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def serve(
    sources: Annotated[
        Path, typer.Option("--sources", help="Folder of source exports and cxloop.yaml.")
    ],
    config: ConfigOpt = None,
    prefect_port: Annotated[int, typer.Option(help="Prefect server port.")] = 4200,
    webhook_port: Annotated[int, typer.Option(help="Webhook receivers' port.")] = 8085,
    deploy: Annotated[
        bool, typer.Option("--deploy/--no-deploy", help="Run `prefect deploy --all` first.")
    ] = True,
) -> None:
    """Start a Prefect server, a process worker and the webhook receivers; Ctrl-C stops all.

    The deployments of prefect.yaml are deployed on the sources folder (their schedules run).
    Example: cxloop serve --sources ./exports
    """
    from cxloop.flows.prefect_api import LEASE_STORAGE, LEASE_STORAGE_SETTING, default_setting

    project_dir = Path(os.environ.get("CXLOOP_PROJECT_DIR") or Path.cwd()).resolve()
    if not (project_dir / "prefect.yaml").is_file():
        raise fail(RuntimeError(f"{project_dir}: no prefect.yaml (set CXLOOP_PROJECT_DIR)"))
    sources = sources.resolve()
    bin_dir = Path(sys.executable).parent
    prefect, cxloop = str(bin_dir / "prefect"), str(bin_dir / "cxloop")
    url = f"http://127.0.0.1:{prefect_port}/api"
    env = {
        **os.environ,
        "PREFECT_API_URL": url,
        "CXLOOP_PROJECT_DIR": str(project_dir),
        "CXLOOP_SOURCES_DIR": str(sources),
        "CXLOOP_CONFIG": str(config.resolve() if config else sources / "cxloop.yaml"),
    }
    # leases in files under PREFECT_HOME, as the CLI's temporary servers keep them: a command
    # on the same database counts this server's holders as live
    default_setting(env, LEASE_STORAGE_SETTING, LEASE_STORAGE)
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(
            [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
            env=env,
        ))  # fmt: skip
        _wait_healthy(url, procs[0])
        console.print(f"Prefect server: {url.removesuffix('/api')}")
        subprocess.run(
            [prefect, "work-pool", "create", POOL, "--type", "process", "--overwrite"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        if deploy:
            subprocess.run(
                [prefect, "--no-prompt", "deploy", "--all"], env=env, cwd=project_dir, check=True
            )
        procs.append(subprocess.Popen([prefect, "worker", "start", "--pool", POOL], env=env))
        hooks = [cxloop, "serve-webhooks", "--sources", str(sources), "--port", str(webhook_port)]
        procs.append(subprocess.Popen(hooks + (["--config", str(config)] if config else []),
                                      env=env))  # fmt: skip
        console.print("worker and webhook receivers started; Ctrl-C stops everything")
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        stopped = next(p for p in procs if p.poll() is not None)
        console.print(f"{' '.join(map(str, stopped.args[:2]))} exited ({stopped.returncode})")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        raise fail(exc) from None
    finally:
        _stop(procs)
        console.print("stopped")
