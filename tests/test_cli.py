"""The CLI: help on every command, and one-line errors with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.flows.cli import app

runner = CliRunner()
COMMANDS = [
    ["generate"],
    ["run"],
    ["demo"],
    ["ingest"],
    ["build"],
    ["check"],
    ["train"],
    ["score"],
    ["act"],
    ["publish"],
    ["status"],
    ["serve-webhooks"],
    ["identity", "evaluate"],
    ["churn", "status"],
    ["churn", "train"],
    ["churn", "report"],
    ["webhooks", "serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
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


FIXTURES = Path(__file__).parent / "fixtures" / "sources"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            lambda d: (d / "salesforce/Contact.csv").write_text('"Id","Nom"\n"003","x"\n'),
            ["salesforce/Contact.csv", "row 1", "wrong columns", "LastName"],
        ),
        (
            lambda d: (d / "qualtrics/mystery_survey.csv").write_text("a,b\n1,2\n"),
            ["qualtrics/mystery_survey.csv", "no survey mapping"],
        ),
        (
            lambda d: (d / "qualtrics/nps_relational_2024.csv").write_bytes(
                "Q1\n\u0645\u0631\u062d\u0628\u0627\n".encode("cp1256")
            ),
            ["qualtrics/nps_relational_2024.csv", "row 2", "utf-8"],
        ),
    ],
    ids=["wrong-columns", "unknown-survey", "undecodable"],
)
def test_bad_source_file_is_one_line_naming_file_and_row(
    tmp_path: Path, cx_home: Path, prefect_harness: None, breakage, expected: list[str]
) -> None:
    import shutil

    sources = tmp_path / "sources"
    shutil.copytree(FIXTURES, sources)
    breakage(sources)
    result = runner.invoke(app, ["ingest", "--sources", str(sources)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    for word in expected:
        assert word.lower() in lines[0].lower(), lines[0]
