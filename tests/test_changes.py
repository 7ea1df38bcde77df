"""Stage input fingerprints (cxloop.changes) and the freshness bound, on real DuckDB files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cxloop import changes
from cxloop.build import LEDGER_DOWNSTREAM
from cxloop.changes import (
    build_changes,
    build_due,
    build_unchanged,
    changed_datasets,
    ledger_inputs,
    mark_deferred,
    raw_table_inputs,
    record_inputs,
    record_many,
    source_inputs,
    unchanged,
)
from cxloop.dbt import project_manifest
from cxloop.playbooks import ledger
from cxloop.quality.freshness import freshness_unchanged
from cxloop.quality.gate import finish_build, start_build
from cxloop.warehouse import writer

RAW_DDL = (
    'create table raw.salesforce__account ("Id" varchar, _batch_id varchar, '
    "_loaded_at timestamp, _source varchar, _source_file varchar, _row_number bigint, "
    "_content_hash varchar)"
)


def add_account(warehouse: Path, account_id: str, content_hash: str) -> None:
    with writer(warehouse) as con:
        con.execute(
            "insert into raw.salesforce__account values (?, 'b1', ?, 'salesforce', 'a.csv', 1, ?)",
            [account_id, datetime(2026, 11, 1, 8), content_hash],
        )


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "cx.duckdb"
    with writer(path) as con:
        con.execute(RAW_DDL)
    add_account(path, "001A", "a" * 64)
    return path


def test_a_new_row_changes_the_inputs_and_an_empty_table_does_not(warehouse: Path) -> None:
    before = source_inputs(warehouse, None)
    assert source_inputs(warehouse, None) == before  # stable
    with writer(warehouse) as con:  # a system not landed yet: an empty raw table
        con.execute('create table raw.zendesk__users ("id" varchar, _loaded_at timestamp)')
    assert source_inputs(warehouse, None) == before
    add_account(warehouse, "001B", "b" * 64)
    assert source_inputs(warehouse, None) != before


def test_a_row_replaced_in_place_changes_the_inputs(warehouse: Path) -> None:
    """Same count and newest landing, other content (e.g. an erasure that rewrote a row)."""
    before = source_inputs(warehouse, None)
    with writer(warehouse) as con:
        con.execute("update raw.salesforce__account set _content_hash = ?", ["c" * 64])
    assert source_inputs(warehouse, None) != before


def test_a_stage_is_unchanged_only_after_it_succeeded_on_those_inputs(warehouse: Path) -> None:
    inputs = source_inputs(warehouse, None)
    assert not unchanged(warehouse, "build", inputs)
    record_inputs(warehouse, "build", inputs, "run-1")
    assert unchanged(warehouse, "build", inputs)
    assert not unchanged(warehouse, "check_raw", inputs)  # per stage
    # the build may be skipped only while the latest recorded build succeeded
    start_build(warehouse, "b-1", None)
    finish_build(warehouse, "b-1", ["marts.dim_accounts"], ok=True)
    assert build_unchanged(warehouse, inputs)
    start_build(warehouse, "b-2", None)
    finish_build(warehouse, "b-2", None, ok=False)
    assert not build_unchanged(warehouse, inputs)


def test_the_ledger_fingerprint_follows_the_playbook_actions(warehouse: Path) -> None:
    empty = ledger_inputs(warehouse)
    with writer(warehouse) as con:
        con.execute(
            "create table ops.playbook_actions "
            "(action_id varchar, status varchar, updated_at timestamp)"
        )
    assert ledger_inputs(warehouse) != empty  # (0 rows, null) vs no table at all
    before = ledger_inputs(warehouse)
    with writer(warehouse) as con:
        con.execute("insert into ops.playbook_actions values ('a1', 'planned', '2026-11-02 12:00')")
    assert ledger_inputs(warehouse) != before


def test_a_status_only_change_under_a_pinned_clock_changes_the_ledger(warehouse: Path) -> None:
    """`--now` pins updated_at: same count, same newest updated_at, another status."""
    with writer(warehouse) as con:
        ledger.ensure_tables(con)
        con.execute(
            "insert into ops.playbook_actions (action_id, playbook, action_key, channel, status, "
            "attempts, planned_at, updated_at) values ('a1', 'p', 'k1', 'email', 'planned', 0, "
            "'2026-11-02 12:00', '2026-11-02 12:00')"
        )
    before = ledger_inputs(warehouse)
    with writer(warehouse) as con:
        con.execute("update ops.playbook_actions set status = 'sent'")
    assert ledger_inputs(warehouse) != before


def test_callback_tasks_and_events_change_the_ledger_fingerprint(warehouse: Path) -> None:
    """mart_callbacks reads them: `cxloop callbacks`, Zendesk closures and escalations."""
    with writer(warehouse) as con:
        ledger.ensure_tables(con)
        con.execute(
            "insert into ops.callback_tasks (task_id, action_id, assignee_email, due_date, "
            "created_at, status) values ('t1', 'a1', 'csm@example.com', '2026-11-03', "
            "'2026-11-02 12:00', 'open')"
        )
    opened = ledger_inputs(warehouse)
    with writer(warehouse) as con:  # the clock is pinned: only the status moves
        con.execute("update ops.callback_tasks set status = 'contacted'")
    contacted = ledger_inputs(warehouse)
    assert contacted != opened
    with writer(warehouse) as con:
        con.execute(
            "insert into ops.callback_events (event_id, task_id, event_type, status, "
            "occurred_at, source, recorded_at) values ('t1:contacted:2026-11-02T12:00:00', "
            "'t1', 'contacted', 'contacted', '2026-11-02 12:00', 'cli', '2026-11-02 12:00')"
        )
    assert ledger_inputs(warehouse) != contacted
    assert ledger_inputs(warehouse) == ledger_inputs(warehouse)  # stable


def test_the_ledger_selection_rebuilds_what_reads_the_callback_tables() -> None:
    sources = set(LEDGER_DOWNSTREAM.split())
    assert sources == {
        "source:ops.playbook_actions+",
        "source:ops.callback_tasks+",
        "source:ops.callback_events+",
    }
    declared = (
        Path(__file__).parents[1] / "dbt_project/models/staging/ops/_ops__sources.yml"
    ).read_text()
    for table in ("playbook_actions", "callback_tasks", "callback_events"):
        assert f"- name: {table}" in declared


def test_the_code_fingerprint_covers_the_flows_and_the_dbt_and_duckdb_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "cxloop.flows" in changes.CODE_PACKAGES
    before = changes.code_fingerprint()
    changes.code_fingerprint.cache_clear()
    real = changes.distribution_version
    monkeypatch.setattr(
        changes,
        "distribution_version",
        lambda name: "0.0.0-other" if name == "dbt-duckdb" else real(name),
    )
    try:
        assert changes.code_fingerprint() != before
    finally:
        changes.code_fingerprint.cache_clear()
    assert all(real(name) for name in ("dbt-core", "dbt-duckdb", "duckdb"))


def record_freshness(warehouse: Path, checked_at: datetime, rows: list[tuple]) -> None:
    with writer(warehouse) as con:
        for source, status, age in rows:
            details = {"source": source, "status": status, "age_hours": age}
            con.execute(
                "insert into ops.quality_results values "
                "('f1', ?, 'freshness', 'raw.x', 'source_freshness', 'delivered_at', "
                "'warning', true, null, null, null, ?)",
                [checked_at, json.dumps(details)],
            )


def test_freshness_is_unchanged_until_a_source_could_reach_warn_after(warehouse: Path) -> None:
    checked = datetime(2026, 11, 2, 12)
    assert not freshness_unchanged(warehouse, {}, checked)  # never checked
    # zendesk 10 h old at the check; warn_after = 48 // 2 = 24 h: passing until 14 h later
    record_freshness(
        warehouse, checked, [("zendesk.tickets", "pass", 10.0), ("hubspot.deals", "empty", None)]
    )
    assert freshness_unchanged(warehouse, {}, checked + timedelta(hours=13, minutes=59))
    assert not freshness_unchanged(warehouse, {}, checked + timedelta(hours=14))
    # cxloop.yaml freshness_hours: zendesk 12 -> warn_after 6 h, already past at 10 h
    assert not freshness_unchanged(warehouse, {"zendesk": 12}, checked)


def test_a_warning_or_stale_source_is_always_checked_again(warehouse: Path) -> None:
    checked = datetime(2026, 11, 2, 12)
    record_freshness(warehouse, checked, [("zendesk.tickets", "warn", 30.0)])
    assert not freshness_unchanged(warehouse, {}, checked)


def test_raw_checks_are_due_only_for_the_tables_that_changed(warehouse: Path) -> None:
    with writer(warehouse) as con:
        con.execute(RAW_DDL.replace("salesforce__account", "salesforce__user"))
        con.execute(
            "insert into raw.salesforce__user values "
            "('005A', 'b2', '2026-11-01 08:00:00', 'salesforce', 'u.csv', 1, ?)",
            ["u" * 64],
        )
    inputs = raw_table_inputs(warehouse, None)
    assert changed_datasets(warehouse, "check_raw", inputs) == [
        "raw.salesforce__account",
        "raw.salesforce__user",
    ]
    record_many(warehouse, {f"check_raw:{d}": fp for d, fp in inputs.items()}, "run-1")
    assert changed_datasets(warehouse, "check_raw", inputs) == []
    add_account(warehouse, "001B", "b" * 64)
    inputs = raw_table_inputs(warehouse, None)
    assert changed_datasets(warehouse, "check_raw", inputs) == ["raw.salesforce__account"]


def test_the_marts_check_covers_what_a_partial_build_built_and_everything_otherwise() -> None:
    from cxloop.flows.pipeline import built_marts

    built = {"datasets": ["marts.fct_tickets", "marts.mart_ticket_kpis"], "reached_only": True}
    assert built_marts(built, ledger_only=False) == built["datasets"]
    # the identity step writes tables dbt does not list: check every mart
    assert built_marts({**built, "identity": {"clusters": 3}}, ledger_only=False) is None
    full = {"datasets": ["marts.fct_tickets"], "reached_only": False}
    assert built_marts(full, ledger_only=False) is None
    assert built_marts(full, ledger_only=True) == ["marts.fct_tickets"]


def test_a_build_whose_deferred_nodes_were_never_built_makes_the_next_build_whole(
    warehouse: Path,
) -> None:
    """A run stopped between its build and the build of what it deferred (a blocked check, a
    kill): the next build must not be partial, since the identity step would skip on a map
    whose marts were not all built (cxloop.reached)."""
    inputs = raw_table_inputs(warehouse, None)
    start_build(warehouse, "b-1", None)
    finish_build(warehouse, "b-1", ["marts.fct_tickets"], ok=True)
    record_many(warehouse, {f"build:{d}": fp for d, fp in inputs.items()}, "b-1")
    record_inputs(warehouse, "ledger", "ledger", "b-1")
    add_account(warehouse, "001B", "b" * 64)
    inputs = raw_table_inputs(warehouse, None)
    assert build_changes(warehouse, inputs, "ledger") == ["raw.salesforce__account"]
    mark_deferred(warehouse, True, "b-2")
    assert build_changes(warehouse, inputs, "ledger") is None
    mark_deferred(warehouse, False, "b-2")
    assert build_changes(warehouse, inputs, "ledger") == ["raw.salesforce__account"]


def test_a_build_is_due_before_the_first_and_after_a_failed_one(tmp_path: Path) -> None:
    """Whatever ingest lands, a build follows (the pipeline then starts dbt's parse beside
    ingest): no warehouse yet, no build recorded, or the last build failed."""
    path = tmp_path / "cx.duckdb"
    assert build_due(path)  # no warehouse file
    with writer(path) as con:
        con.execute(RAW_DDL)
    assert build_due(path)  # no build recorded
    start_build(path, "b-1", None)
    finish_build(path, "b-1", None, ok=True)
    record_inputs(path, "build", "inputs-1", "b-1")
    assert not build_due(path)  # built: whether it builds again depends on what lands
    start_build(path, "b-2", None)
    finish_build(path, "b-2", None, ok=False)
    assert build_due(path)


def test_new_tickets_reach_the_survey_facts_but_not_the_answers_topics(tmp_path: Path) -> None:
    """The topics of an answer depend on its text alone: new tickets (which change who is who)
    rebuild fct_survey_responses but not the tagging; new survey answers rebuild both."""
    from cxloop.reached import reached, source_ids

    manifest = project_manifest(tmp_path, {}, tmp_path / "cx.duckdb")
    assert manifest is not None

    def phase_3(relation: str) -> set[str]:
        return set(reached(manifest, source_ids(manifest, [relation]) or set()).phase_3)

    tickets, answers = phase_3("raw.zendesk__tickets"), phase_3("raw.qualtrics__responses")
    assert "fct_survey_responses" in tickets and "int_survey_response_topics__tagged" not in tickets
    assert {"fct_survey_responses", "int_survey_response_topics__tagged"} <= answers


@pytest.mark.parametrize(
    "relations",
    [
        ["raw.zendesk__ticket_events", "raw.zendesk__tickets", "raw.qualtrics__responses"],
        ["raw.salesforce__account"],
        ["raw.hubspot__contacts", "raw.typeform__responses"],
    ],
)
def test_the_compact_selection_builds_exactly_the_reached_nodes(
    tmp_path: Path, relations: list[str]
) -> None:
    """A reached build names its models and the sources its tests read, and excludes the
    tests those pull in that it does not want: dbt selects the same nodes as when each node is
    named (compared through `dbt ls` on the project, both phases, every identity outcome)."""
    from dbt.cli.main import dbtRunner

    from cxloop.build import reached_args
    from cxloop.dbt import dbt_command, environment, parsed_manifest, profile_env
    from cxloop.reached import reached, source_ids

    manifest = project_manifest(tmp_path, {}, tmp_path / "cx.duckdb")
    assert manifest is not None
    ids = source_ids(manifest, relations)
    assert ids
    plan = reached(manifest, ids)

    def listed(args: list[str]) -> set[str]:
        kinds = [
            a for kind in ("model", "seed", "snapshot", "test") for a in ("--resource-type", kind)
        ]
        command = ["ls", *args[1:], *kinds, "--output", "name"]  # args[0] is "build"
        command = [a for a in command if a != "--full-refresh"]
        full, flags = dbt_command(command, tmp_path, {})
        with environment(profile_env(tmp_path / "cx.duckdb")):
            result = dbtRunner(manifest=parsed_manifest(full, flags)).invoke([*full, *flags])
        assert result.success
        return set(result.result)

    phases = {plan.phase_1, plan.phase_3, plan.phase_3_records, plan.phase_3_direct} - {()}
    assert phases
    for names in phases:
        compact = reached_args(names, manifest=manifest)
        assert compact[compact.index("--indirect-selection") + 1] == "eager"  # compact form
        assert listed(compact) == listed(reached_args(names)) == set(names)
    assert len(reached_args(plan.phase_3, manifest=manifest)) < len(plan.phase_3) / 2
