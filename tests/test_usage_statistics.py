"""cxloop sends no usage statistics unless the user's own variables say so: importing it (the
CLI, a flow run a worker starts, a notebook) sets the libraries' switches off when unset."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, cxloop
from prefect._internal.analytics.enabled import is_telemetry_enabled
from prefect.settings import get_current_settings
print(json.dumps({
    "dbt": os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"],
    "prefect_server": get_current_settings().server.analytics_enabled,
    "prefect_client": is_telemetry_enabled(),
}))
"""
NAMES = (
    "DBT_SEND_ANONYMOUS_USAGE_STATS",
    "PREFECT_SERVER_ANALYTICS_ENABLED",
    "DO_NOT_TRACK",
    "GX_ANALYTICS_ENABLED",
)


def probe(**env: str) -> dict[str, object]:
    from prefect._internal.analytics.ci_detection import CI_ENV_VARS  # CI counts as opted out

    clean = {k: v for k, v in os.environ.items() if k not in NAMES and k not in CI_ENV_VARS}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_off_unless_asked_for() -> None:
    assert probe() == {"dbt": "false", "prefect_server": False, "prefect_client": False}


def test_a_users_own_setting_is_kept() -> None:
    on = probe(
        DBT_SEND_ANONYMOUS_USAGE_STATS="true",
        PREFECT_SERVER_ANALYTICS_ENABLED="true",
        DO_NOT_TRACK="0",
    )
    assert on == {"dbt": "true", "prefect_server": True, "prefect_client": True}
