"""The CLI: help on every command, and one-line errors with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()
COMMANDS = ["generate", "run", "demo", "ingest", "build", "check", "train", "score", "act",
            "publish", "status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: cxloop" in result.output


def test_missing_sources_folder_is_one_line_and_exits_1(tmp_path: Path, cx_home: Path) -> None:
    result = runner.invoke(app, ["run", "--sources", str(tmp_path / "nope")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "nope" in lines[0] and "not found" in lines[0]


def test_status_without_warehouse_says_what_to_do(cx_home: Path) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "cxloop demo" in result.output


def test_bad_config_names_the_key(tmp_path: Path, cx_home: Path) -> None:
    (tmp_path / "cxloop.yaml").write_text(
        "sources:\n  crm:\n    kind: salesforse\n    path: salesforce\n"
    )
    result = runner.invoke(app, ["ingest", "--sources", str(tmp_path)])
    assert result.exit_code == 1
    assert "sources.crm.kind" in result.output and "cxloop.yaml" in result.output
