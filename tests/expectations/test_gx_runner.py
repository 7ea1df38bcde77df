"""The runner's file context: what it stores, when it stores a suite again, what Data Docs show."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import cxloop.expectations.runner as runner_module
from cxloop.expectations.runner import Runner

Frames = Callable[[str], pd.DataFrame]
DATASET = "ml.churn_scores"


def stored_suite(root: Path) -> dict:
    (path,) = (root / "expectations").rglob("churn_scores.json")
    return json.loads(path.read_text())


def validation_files(root: Path) -> list[Path]:
    return sorted((root / "uncommitted" / "validations").rglob("*.json"))


def test_results_are_stored_and_rendered_without_registering_checkpoints(
    tmp_path: Path, good_frames: Frames
) -> None:
    root = tmp_path / "gx"
    runner = Runner(root)
    runner.validate(DATASET, good_frames(DATASET), run_name="first")
    bad = good_frames(DATASET).assign(churn_probability=1.5)
    runner.validate(DATASET, bad, run_name="second")
    index = runner.build_docs()

    stored = [json.loads(p.read_text()) for p in validation_files(root)]
    assert sorted(s["meta"]["run_id"]["run_name"] for s in stored) == ["first", "second"]
    assert sorted(s["success"] for s in stored) == [False, True]
    assert all(s["meta"]["batch_parameters"] == {"dataframe": "<DATAFRAME>"} for s in stored)
    # no frame is fingerprinted (GE's md5 of every row: a fifth of a validation, unread)
    assert all("ge_load_time" in s["meta"]["batch_markers"] for s in stored)
    assert not any("pandas_data_fingerprint" in s["meta"]["batch_markers"] for s in stored)
    assert index is not None and index.is_file()
    assert "second" in index.read_text() and "first" in index.read_text()
    pages = list((index.parent / "validations").rglob("*.html"))
    assert len(pages) == 2
    assert (index.parent / "expectations" / "ml" / "churn_scores.html").is_file()
    # nothing of the frames' data source is written into the stored project
    assert not list((root / "checkpoints").glob("*.json"))
    assert not list((root / "validation_definitions").glob("*.json"))
    assert "churn_scores" not in (root / "great_expectations.yml").read_text()


def test_an_unchanged_suite_is_not_stored_again_and_a_changed_one_is(
    tmp_path: Path, good_frames: Frames
) -> None:
    root = tmp_path / "gx"
    first = Runner(root)
    first.validate(DATASET, good_frames(DATASET), run_name="one")
    first.build_docs()
    written = stored_suite(root)
    (suite_file,) = (root / "expectations").rglob("churn_scores.json")
    written_at = suite_file.stat().st_mtime_ns

    again = Runner(root)  # the next run's process: same checks, suite left as stored
    again.validate(DATASET, good_frames(DATASET), run_name="two")
    assert suite_file.stat().st_mtime_ns == written_at and stored_suite(root) == written
    # its page is current: only the new result is rendered
    assert [type(i).__name__ for i in again._pending_docs] == ["ValidationResultIdentifier"]

    # a frame without a column: its checks are not applicable, so the suite differs
    narrower = Runner(root)
    result = narrower.validate(
        DATASET, good_frames(DATASET).drop(columns=["churn_probability"]), run_name="three"
    )
    assert result.not_applicable
    changed = stored_suite(root)
    assert len(changed["expectations"]) < len(written["expectations"])
    assert "ExpectationSuiteIdentifier" in [type(i).__name__ for i in narrower._pending_docs]


def test_configurations_built_once_give_ge_s_own_results(
    monkeypatch: pytest.MonkeyPatch, every_good_frame: dict[str, pd.DataFrame]
) -> None:
    """Every suite, on its good frame, on the frame with every value missing and on the frame
    doubled (duplicates): the results equal those of GE's own property, which builds an
    expectation's configuration on every access; and far fewer configurations are built."""
    variants = {
        f"{name}/{kind}": (name, frame)
        for name, good in sorted(every_good_frame.items())
        for kind, frame in (
            ("good", good),
            ("missing", good.astype(object).where(pd.DataFrame(False, good.index, good.columns))),
            ("doubled", pd.concat([good, good], ignore_index=True)),
        )
    }
    built = {"n": 0}
    own = runner_module._BUILD_CONFIGURATION

    def counted(self):  # GE's own build, counted
        built["n"] += 1
        return own.fget(self)

    monkeypatch.setattr(runner_module, "_BUILD_CONFIGURATION", property(counted))

    def results() -> tuple[dict[str, object], int]:
        built["n"] = 0
        runner = Runner(None)
        out = {key: runner.validate(name, frame.copy()) for key, (name, frame) in variants.items()}
        return out, built["n"]

    once, builds_once = results()
    assert runner_module._CONFIGURATIONS.get() is None  # outside a validation: GE's own property
    monkeypatch.setattr(runner_module, "configurations_built_once", contextlib.nullcontext)
    every_time, builds_every_time = results()
    assert once == every_time
    assert any(not r.success for r in once.values()) and any(r.success for r in once.values())
    assert builds_once * 3 < builds_every_time
