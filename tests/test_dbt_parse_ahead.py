"""dbt's parse in a child process (cxloop.dbt.parse_ahead): one at a time, at the priority asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cxloop import dbt


def test_a_parse_ahead_at_idle_priority_runs_once_and_writes_the_partial_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(dbt, "_MANIFEST", {})
    monkeypatch.setattr(dbt, "_PARSED_AHEAD", set())
    home, warehouse = tmp_path / "home", tmp_path / "home" / "warehouse" / "cx.duckdb"
    dbt.parse_ahead(home, {}, warehouse, nice=dbt.IDLE_PRIORITY)
    try:
        (child,) = dbt._PARSING
        try:
            niceness = os.getpriority(os.PRIO_PROCESS, child.pid)
        except OSError:  # it ended already: nothing to read
            niceness = None
        assert niceness in (None, dbt.IDLE_PRIORITY)
        dbt.parse_ahead(home, {}, warehouse)  # it parses still (seconds): no second child
        assert dbt._PARSING == [child]
    finally:
        dbt.wait_for_parse()
    assert child.returncode == 0
    assert (home / "dbt" / "target" / "partial_parse.msgpack").is_file()
    dbt.parse_ahead(home, {}, warehouse)  # its file is written: nothing to parse again
    assert dbt._PARSING == []


def test_a_failed_run_leaves_no_parse_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(dbt, "_MANIFEST", {})
    monkeypatch.setattr(dbt, "_PARSED_AHEAD", set())
    home = tmp_path / "home"
    with pytest.raises(RuntimeError, match="ingest failed"):
        with dbt.no_parse_left():
            dbt.parse_ahead(home, {}, home / "cx.duckdb", nice=dbt.IDLE_PRIORITY)
            (child,) = dbt._PARSING
            raise RuntimeError("ingest failed")
    assert dbt._PARSING == []
    assert child.returncode is not None and child.returncode < 0  # killed, not finished
