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


def test_the_identity_step_ends_before_a_failed_build_beside_it_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    import time

    from cxloop.dbt import BuildError
    from cxloop.flows import build as build_flow

    ended: list[str] = []

    def identity() -> dict[str, Any]:
        time.sleep(0.3)
        ended.append(threading.current_thread().name)
        return {"skipped": False}

    def failing(phase: str, args: list[str], *rest: object) -> None:
        assert phase == "beside-identity" and "--select" in args
        raise BuildError("a test failed")

    monkeypatch.setattr(build_flow, "dbt_build_task", failing)
    with pytest.raises(BuildError, match="a test failed"):
        build_flow.beside_identity(identity, ["int_tickets__measured"], False, ())
    assert ended == ["identity"]  # in its thread, and over before the error came out

    monkeypatch.setattr(build_flow, "dbt_build_task", lambda *a: "the run")
    report, runs = build_flow.beside_identity(identity, ["x"], False, ())
    assert report == {"skipped": False} and runs == ["the run"]
    # nothing to build beside it: the identity step runs here
    assert build_flow.beside_identity(identity, [], False, ()) == ({"skipped": False}, [])
    assert ended[-1] == threading.current_thread().name
