"""The CLI: help on every command, and one-line errors with a non-zero exit."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cxloop.flows.cli
from cxloop.flows.cli import app

runner = CliRunner()
COMMANDS = [
    ["generate"],
    ["init"],
    ["run"],
    ["demo"],
    ["ingest"],
    ["pull"],
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
    ["postgres", "build"],
]
GROUPS = [[], ["identity"], ["churn"], ["webhooks"], ["postgres"]]
CLI_DIR = Path(cxloop.flows.cli.__file__).parent


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: cxloop" in result.output


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(["cxloop", *g]))
def test_the_installed_command_shows_help(group: list[str]) -> None:
    cxloop = Path(sys.executable).with_name("cxloop")  # the pyproject entry point
    result = subprocess.run(
        [str(cxloop), *group, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: cxloop" in result.stdout and "Commands" in result.stdout


HELP_WITHOUT_PREFECT = f"""
import json, sys
import cxloop.flows.cli
after_import = sorted(m for m in sys.modules if m.split(".")[0] in ("prefect", "dbt", "pandas"))
from typer.testing import CliRunner
codes = [CliRunner().invoke(cxloop.flows.cli.app, [*c, "--help"]).exit_code for c in {COMMANDS!r}]
seen = {{"after_import": after_import, "codes": codes, "prefect": "prefect" in sys.modules}}
print(json.dumps(seen))
"""


def test_importing_the_cli_and_every_help_imports_no_prefect() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HELP_WITHOUT_PREFECT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["after_import"] == []  # the CLI starts fast: flows and data libraries load lazily
    assert seen["codes"] == [0] * len(COMMANDS)
    assert seen["prefect"] is False


def test_command_groups_import_common_never_the_app_module() -> None:
    for module in sorted(CLI_DIR.glob("*.py")):
        if module.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                assert name != "cxloop.flows.cli", f"{module.name}:{node.lineno} imports the app"
                if name.startswith("cxloop.flows.cli."):
                    assert name == "cxloop.flows.cli.common", f"{module.name}:{node.lineno}"


def test_demo_with_other_sources_asks_for_fresh_on_one_line(cx_home: Path) -> None:
    stamp = cx_home / "demo" / "generated.json"
    stamp.parent.mkdir(parents=True)
    stamp.write_text(json.dumps({"scale": 0.5, "seed": 42}))
    result = runner.invoke(app, ["demo", "--scale", "0.2"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--fresh" in lines[0] and "scale 0.2 and seed 42" in lines[0]


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
