"""CXLOOP_DBT_THREADS: read by dbt's profile, validated by cxloop's Settings."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from cxloop.package_data import dbt_project_dir
from cxloop.settings import Settings


@pytest.mark.parametrize("value", ["0", "two"])
def test_a_bad_thread_count_stops_with_the_settings_name(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_DBT_THREADS", value)
    with pytest.raises(ValidationError, match="dbt_threads"):
        Settings()


def test_the_profile_and_the_settings_agree_on_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CXLOOP_DBT_THREADS", raising=False)
    profile = (dbt_project_dir() / "profiles.yml").read_text()
    found = re.search(r"env_var\('CXLOOP_DBT_THREADS', '(\d+)'\)", profile)
    assert found, "the DuckDB target's threads no longer read CXLOOP_DBT_THREADS"
    assert int(found.group(1)) == Settings().dbt_threads == 2
