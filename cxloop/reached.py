"""What new data reaches: the dbt nodes a build must run when only some source tables changed.

Every model reads its inputs through `source()` or `ref()` and none reads the wall clock
(`int_as_of__derived` takes the latest event time from the data), so a model whose ancestors'
sources are unchanged would be rebuilt to the same rows. A build after new landings in some
raw tables therefore runs the models downstream of those sources, the identity step only when
they reach `int_person_records__unioned` (and then what reads `identity_clusters`), and the
data tests that have a rebuilt parent. The graph is dbt's own (the parsed manifest).

When they do reach the person records, phase 3 depends on what phase 1 and identity found
(cxloop.identity.runs): person records and map as the last successful build consumed them
(identity skipped) leave everything downstream of them as it is, so phase 3 holds only what
the new rows reach around them; an unchanged map alone spares what only the map reaches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxloop.dbt import project_manifest

BUILT = frozenset({"model", "seed", "snapshot"})
PERSON_RECORDS = "model.cxloop.int_person_records__unioned"
IDENTITY_SOURCE = "identity.identity_clusters"


@dataclass(frozen=True)
class Reached:
    """The nodes (dbt names) of phase 1 and phase 3 to build, and whether identity runs.

    `phase_3` holds what the new rows reach when the person records and the identity map
    both changed; `phase_3_records` when only the records did, `phase_3_direct` when neither
    did (the nodes reached other than through them).
    """

    phase_1: tuple[str, ...]
    identity: bool
    phase_3: tuple[str, ...]
    phase_3_records: tuple[str, ...] = ()
    phase_3_direct: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.phase_1 or self.phase_3)

    def phase_3_after(self, identity: dict[str, object] | None) -> tuple[str, ...]:
        """Phase 3's nodes given the identity step's report (cxloop.identity)."""
        if not self.identity or identity is None:
            return self.phase_3
        if identity.get("clusters_changed", True):
            return self.phase_3
        if identity.get("records_changed", True):
            return self.phase_3_records
        return self.phase_3_direct


def _kind(unique_id: str) -> str:
    return unique_id.split(".", 1)[0]


def _walk(
    start: Iterable[str], edges: dict[str, list[str]], stop: frozenset[str] = frozenset()
) -> set[str]:
    """The built nodes reachable from `start`; a node in `stop` is reached, not walked past."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        node = todo.pop()
        for nxt in edges.get(node, ()):
            if nxt not in seen and _kind(nxt) in BUILT:
                seen.add(nxt)
                if nxt not in stop:
                    todo.append(nxt)
    return seen


def source_ids(manifest: Any, relations: Iterable[str]) -> set[str] | None:
    """The dbt sources at these `schema.table` relations or `source_name.table` names; None
    when one is unknown (the caller then builds everything)."""
    by_name: dict[str, str] = {}
    for uid, source in manifest.sources.items():
        by_name[f"{source.schema}.{source.identifier}".lower()] = uid
        by_name[f"{source.source_name}.{source.name}".lower()] = uid
    found = set()
    for relation in relations:
        uid = by_name.get(relation.lower())
        if uid is None:
            return None
        found.add(uid)
    return found


def reached(manifest: Any, changed: set[str]) -> Reached:
    """The nodes new rows in the `changed` sources (unique ids) reach, split by build phase."""
    manifest.build_parent_and_child_maps()
    children, parents = manifest.child_map, manifest.parent_map
    phase_1_models = _walk([PERSON_RECORDS], parents) | {PERSON_RECORDS}
    phase_1_inputs = phase_1_models | {
        p for m in phase_1_models for p in parents.get(m, ()) if _kind(p) == "source"
    }  # what `--select +int_person_records__unioned` holds: a test on these all runs in phase 1
    records = _walk(changed, children)
    identity = PERSON_RECORDS in records
    if not identity:
        phase_1, phase_3 = _split(manifest, records, set(changed), phase_1_models, phase_1_inputs)
        return Reached(phase_1, False, phase_3, phase_3, phase_3)
    identity_uid = source_ids(manifest, [IDENTITY_SOURCE]) or set()
    both = records | _walk(identity_uid, children)
    direct = _walk(changed, children, frozenset({PERSON_RECORDS}))
    variants = [
        _split(manifest, models, set(changed) | sources, phase_1_models, phase_1_inputs)
        for models, sources in ((both, identity_uid), (records, set()), (direct, set()))
    ]
    return Reached(variants[0][0], True, *(phase_3 for _, phase_3 in variants))


def _split(
    manifest: Any,
    models: set[str],
    sources: set[str],
    phase_1_models: set[str],
    phase_1_inputs: set[str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(phase 1, phase 3) names: the `models`, and the tests with a rebuilt parent."""
    rebuilt = models | sources
    phase_1, phase_3 = [], []
    for uid, node in manifest.nodes.items():
        if _kind(uid) in BUILT and uid in models:
            (phase_1 if uid in phase_1_models else phase_3).append(node.name)
        elif _kind(uid) == "test" and set(node.depends_on.nodes) & rebuilt:
            in_phase_1 = set(node.depends_on.nodes) <= phase_1_inputs
            (phase_1 if in_phase_1 else phase_3).append(node.name)
    return tuple(sorted(phase_1)), tuple(sorted(phase_3))


def plan_build(
    home: Path, warehouse: Path, vars_: dict[str, object], changed: Iterable[str]
) -> Reached | None:
    """What new rows in the `changed` tables reach; None (build everything) when dbt cannot
    parse or a table is not a dbt source."""
    manifest = project_manifest(home, vars_, warehouse)
    ids = source_ids(manifest, changed) if manifest is not None else None
    return reached(manifest, ids) if ids is not None else None


def selection(manifest: Any, names: Iterable[str]) -> tuple[list[str], list[str]] | None:
    """`--select` and `--exclude` criteria under which dbt's default (eager) indirect selection
    picks exactly the nodes `names`: their models, the sources their tests read, the tests no
    selected parent pulls in (a test of phase 1's models that phase 3 runs), and as exclusions
    the tests pulled in that are not among `names`. None when a name is not one node of the
    manifest (then each node is named).

    dbt matches each criterion against every node of the project (~3 us a pair), three times
    an invocation: naming 180 nodes one by one cost ~1 s of selection at any scale, against
    ~0.3 s for these ~45 criteria (docs/architecture.md)."""
    uids: dict[str, list[str]] = {}
    for uid, node in manifest.nodes.items():
        uids.setdefault(node.name, []).append(uid)
    wanted: set[str] = set()
    for name in names:
        if len(uids.get(name, ())) != 1:
            return None
        wanted.add(uids[name][0])
    tests = {uid for uid in wanted if _kind(uid) == "test"}
    built = wanted - tests
    sources = {
        parent
        for uid in tests
        for parent in manifest.nodes[uid].depends_on.nodes
        if _kind(parent) == "source"
    }
    pulled = {  # eager: a test with any selected parent
        uid
        for uid, node in manifest.nodes.items()
        if _kind(uid) == "test" and set(node.depends_on.nodes) & (built | sources)
    }
    chosen = [manifest.nodes[uid].name for uid in sorted(built | (tests - pulled))]
    chosen += [
        f"source:{manifest.sources[uid].source_name}.{manifest.sources[uid].name}"
        for uid in sorted(sources)
    ]
    return chosen, [manifest.nodes[uid].name for uid in sorted(pulled - tests)]


def deferred_nodes(manifest: Any, relations: Iterable[str]) -> set[str]:
    """The dbt names of every model downstream of these source tables, and of every data test
    with a parent among them or those sources: what a build leaves for later (`defer`).

    Empty when dbt could not parse (then nothing is deferred) or a table is not a source.
    """
    sources = source_ids(manifest, relations) if manifest is not None else None
    if not sources:
        return set()
    manifest.build_parent_and_child_maps()
    models = _walk(sources, manifest.child_map)
    reached = models | sources
    return {
        node.name
        for uid, node in manifest.nodes.items()
        if uid in models or (_kind(uid) == "test" and set(node.depends_on.nodes) & reached)
    }
