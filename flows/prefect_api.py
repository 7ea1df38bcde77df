"""A Prefect API for one CLI command when none is configured: a temporary server of our own.

Prefect 3 needs an API for every flow run. With none configured it starts a temporary server
itself (`SubprocessASGIServer`), but only after importing the whole server (FastAPI, its
routers, the ORM: 3-4 s of the CLI's own CPU, under the same GIL as the CLI's imports). Here the
CLI starts the same uvicorn command as a child process before Prefect is imported, and points
this process at it through PREFECT_API_URL, so the server's start runs on the other core while
the CLI imports the flows. Its log goes to CXLOOP_HOME/logs/prefect-server.log; it is stopped
when the command exits.

A process calling the flows from Python with no API configured gets Prefect's own temporary
server instead; importing this module (before the process's first Prefect API call) gives it
the same lease files and poll through the environment (`default_server_settings`).

The CLI starts its own server only when no API can be configured anywhere Prefect looks (the
environment, the active profile, prefect.toml, .env or pyproject.toml's [tool.prefect] in the
working folder): otherwise it lets Prefect decide.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from cxloop.errors import CxloopError

API_SETTINGS = ("PREFECT_API_URL", "PREFECT_SERVER_EPHEMERAL_ENABLED")
# The temporary server keeps concurrency leases in files under PREFECT_HOME, so that a lease
# outlives the server of the command that took it (its own memory, Prefect's default, does not)
LEASE_STORAGE = "prefect.server.concurrency.lease_storage.filesystem"
TEMPORARY_API = "CXLOOP_TEMPORARY_PREFECT_API"  # the URL of this command's temporary server
START_TIMEOUT_S = 90.0
# When the writer slot is taken, Prefect's server tells the waiting client to ask again after the
# limit's average slot occupancy, capped by this setting (30 s by default): after pipeline runs
# a queued command slept up to ~30 s past the slot's release. 5 s: a poll every few seconds.
SLOT_WAIT_SETTING = "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS"
SLOT_WAIT_SECONDS = "5"
LEASE_STORAGE_SETTING = "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"


def api_may_be_configured(cwd: Path, env: Mapping[str, str]) -> bool:
    """True when Prefect could find an API URL (or ephemeral-mode setting) of the user's."""
    if any(name in env for name in API_SETTINGS):
        return True
    return settings_files(cwd) or profile_sets_api(env)


def settings_files(cwd: Path) -> bool:
    """True when the working folder holds Prefect settings (prefect.toml, .env with a PREFECT_
    variable, pyproject.toml's [tool.prefect]): Prefect reads them besides the profile."""
    if (cwd / "prefect.toml").exists():
        return True
    for name, marker in ((".env", "PREFECT_"), ("pyproject.toml", "[tool.prefect")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if marker in (cwd / name).read_text(encoding="utf-8"):
                return True
    return False


def profile_sets_api(env: Mapping[str, str]) -> bool:
    """True when the active Prefect profile sets the API URL or the ephemeral mode."""
    return profile_sets(env, API_SETTINGS)


def profile_sets(env: Mapping[str, str], names: tuple[str, ...]) -> bool:
    """True when the active Prefect profile sets any of `names` (or cannot be read)."""
    home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # unreadable: let Prefect read it and decide
    active = env.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    settings = profiles.get("profiles", {}).get(active, {})
    return any(name in settings for name in names)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """In the server's child process: Linux ends it when the CLI dies, however it dies (atexit
    covers only a normal exit; a killed CLI would leave the server holding Prefect's database)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class TemporaryServer:
    """Prefect's server as a child process for the length of one command."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and point this process's Prefect at it (before Prefect loads)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # the command Prefect's own temporary server runs
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "prefect.server.api.server:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env={
                    **os.environ,
                    "PREFECT_UI_ENABLED": "0",
                    "PREFECT__SERVER_EPHEMERAL": "1",
                    "PREFECT__SERVER_FINAL": "1",
                    LEASE_STORAGE_SETTING: LEASE_STORAGE,
                    SLOT_WAIT_SETTING: os.environ.get(SLOT_WAIT_SETTING, SLOT_WAIT_SECONDS),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        os.environ["PREFECT_API_URL"] = os.environ[TEMPORARY_API] = self.url
        atexit.register(self.stop)

    def wait(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once the server answers its health check; a clear error if it cannot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise CxloopError(
                    f"Prefect's temporary server on port {self.port} exited (code {code}) "
                    f"before it answered; its log: {self.log_path}"
                )
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise CxloopError(
            f"Prefect's temporary server on port {self.port} did not answer within "
            f"{timeout:.0f} s; its log: {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server (terminate, then kill after 5 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def temporary_api() -> bool:
    """Whether this process talks to a temporary server keeping leases in files: its own or its
    parent command's, or the one Prefect starts itself with no API configured (its ephemeral
    mode) when that keeps them in files too (`default_server_settings`)."""
    url = os.environ.get(TEMPORARY_API)
    if url and os.environ.get("PREFECT_API_URL") == url:
        return True
    if _prefect_server_before_import:
        return False  # started with the environment it had then: its leases may be in memory
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return False
    # the server gets this process's environment, overridden by the settings Prefect read
    # itself (from the environment when it was imported, the profile or the settings files)
    concurrency = settings.server.concurrency
    if "lease_storage" in concurrency.model_fields_set:
        return concurrency.lease_storage == LEASE_STORAGE
    return os.environ.get(LEASE_STORAGE_SETTING) == LEASE_STORAGE


def default_server_settings(env: MutableMapping[str, str], cwd: Path | None = None) -> None:
    """Give the server Prefect starts itself the lease files and poll of our temporary server.

    A process that calls the flows from Python with no API configured (a notebook, a script:
    docs/playbooks.md) talks to the server Prefect starts on its first API call (its ephemeral
    mode), which inherits this process's environment. With leases in Prefect's default (its
    memory), a process killed holding the writer slot left it taken for good in that
    PREFECT_HOME's database. Applied on import of this module (every flow imports it, before
    its first API call). Nothing is set when the user's environment or active profile names
    an API (no server of Prefect's own then) or the working folder holds Prefect settings
    (`settings_files`: they rank below the environment, so theirs would be overridden); a
    setting of the two in the environment or the profile wins.
    """
    folder = Path.cwd() if cwd is None else cwd
    if "PREFECT_API_URL" in env or profile_sets(env, ("PREFECT_API_URL",)):
        return
    if settings_files(folder):
        return
    default_setting(env, LEASE_STORAGE_SETTING, LEASE_STORAGE)
    default_setting(env, SLOT_WAIT_SETTING, SLOT_WAIT_SECONDS)


def default_setting(env: MutableMapping[str, str], name: str, value: str) -> None:
    """Set the Prefect setting `name` in `env` unless the user chose it (there or in the active
    profile)."""
    if name not in env and not profile_sets(env, (name,)):
        env[name] = value


def _prefect_server_started() -> bool:
    """Whether Prefect's own temporary server already runs in this process."""
    module = sys.modules.get("prefect.server.api.server")
    instances = getattr(getattr(module, "SubprocessASGIServer", None), "_instances", {})
    return any(getattr(server, "running", False) for server in instances.values())


# A server Prefect started before this import keeps the environment it had then (a notebook
# that ran a Prefect flow first): it is not counted as keeping leases in files.
_prefect_server_before_import = _prefect_server_started()
default_server_settings(os.environ)
