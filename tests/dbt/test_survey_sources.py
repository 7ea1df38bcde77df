"""Typeform and generic-CSV responses: staged into the Qualtrics columns, unioned, identified."""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxloop.build import run_dbt_build

SURVEY_STAGING = (
    "stg_qualtrics__responses",
    "stg_typeform__responses",
    "stg_survey_csv__responses",
)


def columns(warehouse: Path, schema: str, table: str) -> list[tuple[str, str]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
    finally:
        con.close()


def test_every_survey_source_stages_into_exactly_the_qualtrics_columns(
    tmp_path: Path, prefect_harness: None
) -> None:
    """Same names, order and types (the union stacks by position), and their unit tests pass."""
    warehouse = tmp_path / "cx.duckdb"
    select = " ".join([*SURVEY_STAGING, "int_survey_responses__unioned"])
    # Qualtrics' own unit tests need the sample raw layer's columns (tests/dbt/test_dbt_project)
    exclude = "test_type:unit,stg_qualtrics__responses"
    args = ["build", "--select", select, "--exclude", exclude, "--indirect-selection", "cautious"]
    report = run_dbt_build(args, warehouse, tmp_path, None, "test-run").report()
    assert report["success"] and not report["failures"]
    assert report["counts"]["pass"] >= 2 + 6  # the two unit tests above and the key tests
    qualtrics, typeform, survey_csv = (columns(warehouse, "staging", m) for m in SURVEY_STAGING)
    assert len(qualtrics) == 35
    assert typeform == qualtrics
    assert survey_csv == qualtrics
    assert columns(warehouse, "intermediate", "int_survey_responses__unioned") == [
        ("source", "VARCHAR"),
        *qualtrics,
    ]
