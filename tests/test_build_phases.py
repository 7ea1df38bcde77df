"""The build's dbt invocations around the identity step: phase 1, what needs no identity (built
while the identity step runs) and the rest are, together, exactly a plain `dbt build`, each
node once; nothing built beside the identity step reads the person records or the map.

The selections are dbt's own: each invocation's arguments are listed with `dbt ls`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cxloop.build import BUILD, VOICE_AND_SCORES, phase_args, reached_args
from cxloop.dbt import dbt_command, environment, profile_env, project_manifest
from cxloop.reached import (
    IDENTITY_SOURCE,
    PERSON_RECORDS,
    deferred_nodes,
    identity_free,
    reached,
    source_ids,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    home = tmp_path_factory.mktemp("phases")
    manifest = project_manifest(home, {}, home / "cx.duckdb")
    assert manifest is not None
    return manifest, home


def listed(project: tuple[Any, Path], args: Sequence[str]) -> set[str]:
    """The unique ids a `dbt build` with these arguments runs, as `dbt ls` selects them."""
    from dbt.cli.main import dbtRunner

    manifest, home = project
    assert list(args[: len(BUILD)]) == list(BUILD)
    ls = ["ls", *args[1:], "--output", "json", "--output-keys", "unique_id"]
    full, flags = dbt_command(ls, home, {})
    with environment(profile_env(home / "cx.duckdb")):
        result = dbtRunner(manifest=manifest).invoke([*full, *flags])
    assert result.success, result.exception
    return {json.loads(line)["unique_id"] for line in result.result}


def unique_ids(manifest: Any, names: set[str]) -> set[str]:
    return {uid for uid, node in manifest.nodes.items() if node.name in names}


@pytest.mark.parametrize("defer", [(), VOICE_AND_SCORES], ids=["all", "deferred"])
def test_the_phases_partition_a_plain_build(project: tuple[Any, Path], defer: tuple) -> None:
    manifest, _ = project
    later = deferred_nodes(manifest, defer)
    free = sorted(identity_free(manifest) - later)
    plain = listed(project, phase_args("all"))
    phases = [
        listed(project, phase_args("identity")),
        listed(project, reached_args(free)),
        listed(project, phase_args("rest", exclude=[*sorted(later), *free])),
    ]
    deferred = unique_ids(manifest, later)
    assert all(phases), [len(p) for p in phases]
    assert sum(len(p) for p in phases) + len(deferred) == len(plain)  # each node once
    assert set().union(*phases) | deferred == plain
    assert not deferred & set().union(*phases)


def test_nothing_built_beside_identity_reads_the_person_records_or_the_map(
    project: tuple[Any, Path],
) -> None:
    manifest, _ = project
    manifest.build_parent_and_child_maps()
    free = unique_ids(manifest, set(identity_free(manifest)))
    identity_map = source_ids(manifest, [IDENTITY_SOURCE]) or set()
    assert identity_map
    after, todo = set(), [PERSON_RECORDS, *identity_map]
    while todo:  # everything downstream of the person records and of the map
        for child in manifest.child_map.get(todo.pop(), ()):
            if child not in after:
                after.add(child)
                todo.append(child)
    assert not free & after and PERSON_RECORDS not in free
    names = {manifest.nodes[uid].name for uid in free}
    # the ticket facts before anyone is resolved need no identity; the resolved ones do
    assert {"int_ticket_events__classified", "int_tickets__measured"} <= names
    assert not {"fct_tickets", "dim_customers", "customer_identity_map"} & names


def test_new_tickets_build_what_needs_no_identity_beside_it(project: tuple[Any, Path]) -> None:
    """In a build of what new tickets reach, what is built beside the identity step is in
    every variant of phase 3 (whatever identity finds) and needs no identity."""
    manifest, _ = project
    plan = reached(manifest, source_ids(manifest, ["raw.zendesk__tickets"]) or set())
    assert plan.identity and plan.beside_identity
    beside = set(plan.beside_identity)
    assert beside <= set(plan.phase_3_direct) <= set(plan.phase_3)
    assert beside <= identity_free(manifest)
    assert "int_tickets__measured" in beside and "fct_tickets" not in beside


def test_what_a_failure_stops_is_what_one_invocation_would_skip(
    project: tuple[Any, Path],
) -> None:
    """After a failed model: everything downstream of it and every test of those and of it;
    after a failed test: what is downstream of the model it tests, not that model's other
    tests."""
    from cxloop.dbt import NodeResult
    from cxloop.reached import skipped_after

    manifest, _ = project

    def failed(name: str) -> NodeResult:
        uid = next(u for u, n in manifest.nodes.items() if n.name == name)
        kind = uid.split(".", 1)[0]
        return NodeResult(uid, name, kind, "fail" if kind == "test" else "error", 0.1)

    assert skipped_after(manifest, []) == set()
    model = skipped_after(manifest, [failed("int_tickets__measured")])
    assert {"fct_tickets", "dim_customers", "mart_ticket_kpis"} <= model
    assert "int_tickets__measured" not in model  # it ran (and failed): not run again
    assert "not_null_int_tickets__measured_ticket_id" in model  # its tests would be skipped
    assert not {"int_ticket_events__classified", "stg_zendesk__tickets"} & model

    test = next(
        n.name
        for u, n in manifest.nodes.items()
        if u.startswith("test.") and n.depends_on.nodes == ["model.cxloop.int_tickets__measured"]
    )
    after_test = skipped_after(manifest, [failed(test)])
    assert after_test == model - {"not_null_int_tickets__measured_ticket_id"} - {
        n.name
        for u, n in manifest.nodes.items()
        if u.startswith("test.") and n.depends_on.nodes == ["model.cxloop.int_tickets__measured"]
    }


def test_the_identity_step_ends_before_dbt_beside_it_stops_the_build(
    monkeypatch: pytest.MonkeyPatch, project: tuple[Any, Path]
) -> None:
    """dbt beside the identity step: its error (it could not run) is raised once the identity
    step ended; its failed nodes are returned with what they stop; with nothing to build
    beside it the identity step runs here."""
    import threading
    import time

    from cxloop.dbt import BuildError, DbtRun, NodeResult
    from cxloop.flows import build as build_flow

    manifest, home = project
    ended: list[str] = []

    def identity() -> dict[str, Any]:
        time.sleep(0.3)
        ended.append(threading.current_thread().name)
        return {"skipped": False}

    calls: list[tuple] = []

    def dbt(phase: str, args: list[str], *rest: object, **options: bool) -> DbtRun:
        calls.append((phase, options))
        return result

    monkeypatch.setattr(build_flow, "dbt_build_task", dbt)
    args = (home / "cx.duckdb", home, None, "run-1")
    result = DbtRun(("build",), success=False, completed=False, seconds=1.0, error="interrupted")
    with pytest.raises(BuildError, match="interrupted"):
        build_flow.beside_identity(identity, ["int_tickets__measured"], False, args, manifest)
    assert ended == ["identity"]  # in its thread, and over before the error came out
    assert calls == [("beside-identity", {"prepare": False, "check": False})]

    uid = "model.cxloop.int_tickets__measured"
    failed = NodeResult(uid, "int_tickets__measured", "model", "error", 0.1)
    result = DbtRun(("build",), success=False, completed=True, seconds=1.0, nodes=(failed,))
    report, runs, stopped = build_flow.beside_identity(
        identity, ["int_tickets__measured"], False, args, manifest
    )
    assert report == {"skipped": False} and runs == [result] and "fct_tickets" in stopped

    def crash(*a: object, **k: object) -> DbtRun:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_flow, "dbt_build_task", crash)
    with pytest.raises(KeyboardInterrupt):
        build_flow.beside_identity(identity, ["x"], False, args, manifest)
    assert ended[-1] == "identity" and len(ended) == 3

    assert build_flow.beside_identity(identity, [], False, args, manifest) == (
        {"skipped": False}, [], set(),
    )  # fmt: skip
    assert ended[-1] == threading.current_thread().name
