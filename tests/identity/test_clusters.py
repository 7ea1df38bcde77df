"""Guarded clustering: stages continued, the cannot-link between CRM contacts."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from cxloop.identity.clusters import RULE_RANK, Clusters, Pairs, UnionFind, cluster
from cxloop.identity.normalize import prepare
from cxloop.identity.rules import deterministic_pairs


def test_clustering_continued_from_earlier_stages_equals_one_pass(
    records: pd.DataFrame,
) -> None:
    df = prepare(records)
    explicit, email = deterministic_pairs(df)
    for guard in (2, 25):
        whole = cluster(df, [explicit, email], guard)
        continued = cluster(df, [email], guard, start=cluster(df, [explicit], guard))
        assert continued == whole


def test_union_find_refuses_two_contacts_unless_told_otherwise() -> None:
    uf = UnionFind.from_labels([0, 1, 2, 3], ["A", "B", None, None])
    assert uf.union(0, 2) and uf.union(1, 3)
    assert not uf.union(2, 3)  # A's set and B's set: different contacts
    assert uf.union(2, 3, respect_anchors=False)  # an earlier stage's cluster is kept
    assert uf.labels() == [0, 0, 0, 0]
    assert uf.anchors[0] == frozenset({"A", "B"})


def sequential_cluster(
    anchors: list[str | None],
    keys: list[str],
    stages: list[list[tuple[int, int, str, float | None]]],
    max_cluster_size: int,
    start: Clusters | None = None,
) -> Clusters:
    """The specification `cluster` computes by components: every stage's pairs unioned one by
    one in order (refusing two contacts), a component over the guard reverted, each end of an
    applied pair crediting the pair's rule (when it ranks before its own) and probability."""
    n = len(anchors)
    start = start or Clusters(list(range(n)), [None] * n, [None] * n)
    labels, rule, prob = list(start.labels), list(start.rule), list(start.prob)
    hits = list(start.guard_hits)
    for stage_no, edges in enumerate(stages, start=start.stages_done):
        uf = UnionFind.from_labels(labels, anchors)
        applied = [(i, j, r, p) for i, j, r, p in edges if uf.union(i, j)]
        new = uf.labels()
        sizes = Counter(new)
        too_big = {root for root, size in sizes.items() if size > max_cluster_size}
        old_sizes = Counter(labels)
        for root in sorted(too_big):
            members = [i for i, r in enumerate(new) if r == root]
            if max(old_sizes[labels[i]] for i in members) != sizes[root]:
                hits.append(
                    {"stage": stage_no, "size": sizes[root], "records": [keys[i] for i in members]}
                )
        for i, j, r, p in applied:
            for k in (i, j):
                if new[k] in too_big:
                    continue
                if rule[k] is None or RULE_RANK[r] < RULE_RANK.get(rule[k], 9):
                    rule[k] = r
                if p is not None:
                    prob[k] = max(prob[k] or 0.0, p)
        labels = [old if root in too_big else root for old, root in zip(labels, new, strict=True)]
    return Clusters(labels, rule, prob, hits, start.stages_done + len(stages))


@pytest.mark.parametrize("seed", range(40))
def test_clustering_by_components_equals_unioning_pair_by_pair(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    anchors = [rng.choice(["A", "B", "C", "D"]) if rng.random() < 0.2 else None for _ in range(n)]
    keys = [f"src:{i}" for i in range(n)]
    df = pd.DataFrame({"anchor": anchors, "record_key": keys})

    def stage(rules: list[str]) -> list[tuple[int, int, str, float | None]]:
        return [
            (rng.randrange(n), rng.randrange(n), r, rng.choice([None, 1.0, rng.random()]))
            for r in rng.choices(rules, k=rng.randint(0, 2 * n))
        ]

    stages = [stage(["previous_run"]), stage(["external_id", "ticket_requester"]), stage(["email"])]
    guard = rng.choice([2, 3, 5, 25])
    rules_only = cluster(df, stages, guard)
    assert rules_only == sequential_cluster(anchors, keys, stages, guard)
    splink = [stage(["splink"])]
    assert cluster(df, splink, guard, start=rules_only) == sequential_cluster(
        anchors, keys, splink, guard, start=rules_only
    )
    as_pairs = [Pairs.from_edges(s) for s in stages]
    assert cluster(df, as_pairs, guard) == rules_only
    # continued from clusters a looser guard let grow (a component already too big)
    loose = cluster(df, stages[:1], 60)
    assert cluster(df, stages[1:], guard, start=loose) == sequential_cluster(
        anchors, keys, stages[1:], guard, start=loose
    )
