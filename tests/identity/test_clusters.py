"""Guarded clustering: stages continued, the cannot-link between CRM contacts."""

from __future__ import annotations

import pandas as pd

from cxloop.identity.clusters import UnionFind, cluster
from cxloop.identity.normalize import prepare
from cxloop.identity.rules import deterministic_edges


def test_clustering_continued_from_earlier_stages_equals_one_pass(
    records: pd.DataFrame,
) -> None:
    df = prepare(records)
    edges = [(i, j, r, 1.0) for i, j, r in deterministic_edges(df)]
    explicit = [e for e in edges if e[2] != "email"]
    email = [e for e in edges if e[2] == "email"]
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
