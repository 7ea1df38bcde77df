"""`cxloop demo`'s folders: sources generated once per scale and seed, --fresh starts over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxloop.demo.workspace import demo_outputs, demo_sources
from cxloop.errors import CxloopError
from cxloop.settings import Paths


def test_sources_are_generated_once_and_stamped(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    said: list[str] = []
    out = demo_sources(paths, 0.02, 1, announce=said.append)
    assert out == tmp_path / "demo" / "sources" and (out / "cxloop.yaml").is_file()
    assert json.loads((tmp_path / "demo" / "generated.json").read_text()) == {
        "scale": 0.02,
        "seed": 1,
    }
    assert len(said) == 1 and "scale 0.02, seed 1" in said[0]
    (out / "marker").write_text("kept")
    assert demo_sources(paths, 0.02, 1, announce=said.append) == out
    assert len(said) == 1 and (out / "marker").exists()  # reused, not generated again


def test_other_scale_without_fresh_is_refused(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    demo_sources(paths, 0.02, 1)
    with pytest.raises(CxloopError, match=r"--fresh.*scale 0.03 and seed 1"):
        demo_sources(paths, 0.03, 1)


def test_fresh_deletes_the_warehouse_and_outputs(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    demo_sources(paths, 0.02, 1)
    paths.ensure()
    for folder in demo_outputs(paths):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "old").write_text("x")
    out = demo_sources(paths, 0.03, 1, fresh=True)
    assert not any((folder / "old").exists() for folder in demo_outputs(paths))
    assert json.loads((out.parent / "generated.json").read_text())["scale"] == 0.03


def test_generation_in_a_child_while_the_caller_works(tmp_path: Path) -> None:
    here, there = Paths(tmp_path / "here"), Paths(tmp_path / "there")
    calls: list[str] = []
    out = demo_sources(there, 0.02, 1, meanwhile=lambda: calls.append("meanwhile"))
    assert calls == ["meanwhile"]
    same = demo_sources(here, 0.02, 1)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(same) for p in same.rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (same / f).read_bytes() for f in files)


def test_a_failed_generation_in_a_child_is_one_error(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    (paths.demo / "sources" / "salesforce").mkdir(parents=True)  # not ours: refused
    with pytest.raises(CxloopError, match=r"sources: generating the demo sources failed.*"):
        demo_sources(paths, 0.02, 1, meanwhile=lambda: None)
