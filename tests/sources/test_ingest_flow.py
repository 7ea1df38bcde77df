"""The `ingest` Prefect flow on the fixtures folder (one test: the Prefect harness is slow)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.errors import SourceError
from cxloop.flows.ingest import ingest

Query = Callable[..., list[tuple]]


def test_the_ingest_flow_lands_the_fixtures_and_surfaces_source_errors(
    prefect_harness: None, cx_home: Path, sources: Path, query: Query, warehouse: Path
) -> None:
    report = ingest(str(sources), warehouse=str(warehouse))
    # the fixture files were written with these good / bad / repeated rows per entity
    assert report["entities"]["salesforce.account"] == {
        "files": 1,
        "read": 6,
        "landed": 2,
        "quarantined": 3,
        "duplicate": 1,
        "erased": 0,
        "skipped_files": 0,
    }
    assert report["entities"]["zendesk.users"] == {
        "files": 2,
        "read": 4,
        "landed": 2,
        "quarantined": 1,
        "duplicate": 1,
        "erased": 0,
        "skipped_files": 0,
    }
    assert report["entities"]["qualtrics.responses"] == {
        "files": 2,
        "read": 7,
        "landed": 4,
        "quarantined": 3,
        "duplicate": 0,
        "erased": 0,
        "skipped_files": 0,
    }
    assert report["totals"] == {
        "files": 13,
        "read": 37,
        "landed": 21,
        "quarantined": 14,
        "duplicate": 2,
        "erased": 0,
        "skipped_files": 0,
    }
    assert query("select count(*) from ops.quarantine") == [(14,)]
    assert list((cx_home / "lake" / "raw" / "qualtrics" / "responses").glob("*.parquet"))

    shutil.rmtree(sources / "zendesk")
    with pytest.raises(SourceError, match="source folder of 'zendesk' is missing"):
        ingest(str(sources), warehouse=str(warehouse))


def test_only_ingests_the_named_sources(
    prefect_harness: None, cx_home: Path, sources: Path, warehouse: Path
) -> None:
    report = ingest(str(sources), warehouse=str(warehouse), only=["zendesk"])
    assert report["entities"] and all(k.startswith("zendesk.") for k in report["entities"])
    with pytest.raises(Exception, match="no configured source named hubspot"):
        ingest(str(sources), warehouse=str(warehouse), only=["hubspot"])
