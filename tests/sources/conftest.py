"""Fixtures for the source adapters: a private copy of the hand-written sources folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from cxloop.flows.ingest import ingest as ingest_flow
from cxloop.settings import Settings
from cxloop.sources.ingest import IngestRun, resolve_run

REPO_ROOT = Path(__file__).resolve().parents[2]

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "sources"


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of tests/fixtures/sources that a test may change."""
    target = tmp_path / "sources"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "cx.duckdb"


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def run(sources: Path, warehouse: Path, lake: Path) -> IngestRun:
    """An ingest run over the copied sources folder, writing under tmp_path."""
    return resolve_run(Settings().paths, sources, warehouse=warehouse, lake_dir=lake)


@pytest.fixture
def ingest(sources: Path, warehouse: Path, lake: Path, prefect_harness: None) -> Callable[[], dict]:
    """Run the ingest flow on the copied sources folder."""
    return lambda: ingest_flow(str(sources), warehouse=str(warehouse), lake_dir=str(lake))


@pytest.fixture
def query(warehouse: Path) -> Iterator[Callable[..., list[tuple]]]:
    """Run one SQL query against the test warehouse (a fresh connection each time)."""

    def run_query(sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(warehouse))
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    yield run_query
