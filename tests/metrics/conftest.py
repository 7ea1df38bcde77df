"""A warehouse built once per session from the sample raw layer, by the real build flow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLE = ("-m", "cxloop.demo.sample_raw")  # the sample raw layer dbt tests build on


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> Iterator[Path]:
    """CXLOOP_HOME with a warehouse built by `build` (dbt models + tests) on sample raw data."""
    home = tmp_path_factory.mktemp("metrics_home")
    previous = os.environ.get("CXLOOP_HOME")
    os.environ["CXLOOP_HOME"] = str(home)
    warehouse = home / "warehouse" / "cx.duckdb"
    warehouse.parent.mkdir(parents=True)
    subprocess.run([sys.executable, *SAMPLE, str(warehouse), "--accounts", "80"], check=True)
    from cxloop.flows.build import build

    report = build()
    assert report["success"], report
    try:
        yield home
    finally:
        if previous is None:
            os.environ.pop("CXLOOP_HOME", None)
        else:
            os.environ["CXLOOP_HOME"] = previous


@pytest.fixture
def home_copy(built_home: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the built warehouse as CXLOOP_HOME, for a test that changes it."""
    home = tmp_path / "home"
    shutil.copytree(built_home / "warehouse", home / "warehouse")
    previous = os.environ.get("CXLOOP_HOME")
    os.environ["CXLOOP_HOME"] = str(home)
    try:
        yield home
    finally:
        os.environ["CXLOOP_HOME"] = previous or str(built_home)
