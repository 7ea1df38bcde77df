"""cxloop's commands send no usage statistics unless the user's own variables say so."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, cxloop
from prefect.settings import get_current_settings
print(json.dumps({
    "dbt": __import__("os").environ["DBT_SEND_ANONYMOUS_USAGE_STATS"],
    "prefect_server": get_current_settings().server.analytics_enabled,
}))
"""
NAMES = ("DBT_SEND_ANONYMOUS_USAGE_STATS", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK")


def probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_off_unless_asked_for() -> None:
    assert probe() == {"dbt": "false", "prefect_server": False}


def test_a_users_own_setting_is_kept() -> None:
    on = probe(DBT_SEND_ANONYMOUS_USAGE_STATS="true", PREFECT_SERVER_ANALYTICS_ENABLED="true")
    assert on == {"dbt": "true", "prefect_server": True}
