"""Guarded clustering: union the pairs stage by stage, never two CRM contacts, never too big.

The deterministic rules, then Splink, each add one stage of pairs; the clusters of the
earlier stages are the nodes of the next one. A component that would grow past
`max_cluster_size` at a stage keeps its earlier-stage clusters and is reported (the
over-merge guard). A CRM contact is one person: two are never joined (the cannot-link).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

RULE_RANK = {"external_id": 0, "ticket_requester": 1, "email": 2, "splink": 3, "previous_run": 4}


class UnionFind:
    """Disjoint sets over record positions, with a cannot-link set of CRM anchors per root.

    A root is always its set's smallest position. A root's anchors are kept as None (none),
    the anchor itself (one) or a frozenset (several, only after `respect_anchors=False`).
    """

    def __init__(self, parent: list[int], anchors: list[str | frozenset[str] | None]) -> None:
        self.parent = parent
        self.anchors = anchors

    @classmethod
    def from_labels(cls, labels: list[int], anchors: list[str | None]) -> UnionFind:
        """Sets given by `labels` (each the smallest position of its set, as `labels()`
        returns), with the anchors of their members gathered on the root."""
        root_anchors: list[str | frozenset[str] | None] = [None] * len(labels)
        for i, a in enumerate(anchors):
            if isinstance(a, str) and a:
                root = labels[i]
                root_anchors[root] = _merge_anchors(root_anchors[root], a)
        return cls(list(labels), root_anchors)

    def find(self, i: int) -> int:
        """The root of `i` (path halving)."""
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int, *, respect_anchors: bool = True) -> bool:
        """Join two sets unless they hold different CRM contacts; True when joined."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        ai, aj = self.anchors[ri], self.anchors[rj]
        if respect_anchors and ai is not None and aj is not None and ai != aj:
            return False
        if ri > rj:
            ri, rj = rj, ri
        self.parent[rj] = ri
        self.anchors[ri] = _merge_anchors(ai, aj)
        return True

    def labels(self) -> list[int]:
        """The root of every element."""
        return [self.find(i) for i in range(len(self.parent))]


def _merge_anchors(
    a: str | frozenset[str] | None, b: str | frozenset[str] | None
) -> str | frozenset[str] | None:
    """The anchors of two joined sets, in UnionFind's representation."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    both = (a if isinstance(a, frozenset) else frozenset([a])) | (
        b if isinstance(b, frozenset) else frozenset([b])
    )
    return next(iter(both)) if len(both) == 1 else both


@dataclass
class Clusters:
    """Clustering after some stages: per record its cluster label (the smallest position in
    the cluster), the rule that joined it and its best match probability; the guard hits."""

    labels: list[int]
    rule: list[str | None]
    prob: list[float | None]
    guard_hits: list[dict[str, object]] = field(default_factory=list)
    stages_done: int = 0


def cluster(
    df: pd.DataFrame,
    stages: list[list[tuple[int, int, str, float | None]]],
    max_cluster_size: int,
    start: Clusters | None = None,
) -> Clusters:
    """Union stage by stage; a component over `max_cluster_size` reverts to its earlier stage.

    `start` continues an earlier clustering (its stages are not repeated). Returns per
    record: cluster label, the rule that joined it, its match probability, and one dict per
    guard hit (stage, size, records).
    """
    n = len(df)
    anchors = list(df["anchor"])
    if start is None:
        start = Clusters(list(range(n)), [None] * n, [None] * n)
    labels, rule, prob = list(start.labels), list(start.rule), list(start.prob)
    guard_hits = list(start.guard_hits)
    for stage_no, edges in enumerate(stages, start=start.stages_done):
        uf = UnionFind.from_labels(labels, anchors)  # the earlier stage's clusters are nodes
        applied = [(i, j, r, p) for i, j, r, p in edges if uf.union(i, j)]
        new = uf.labels()
        sizes = Counter(new)
        too_big = {root for root, size in sizes.items() if size > max_cluster_size}
        if too_big:
            old_sizes = Counter(labels)
            members: dict[int, list[int]] = {root: [] for root in too_big}
            for i, root in enumerate(new):
                if root in members:
                    members[root].append(i)
            for root in sorted(too_big):
                if max(old_sizes[labels[i]] for i in members[root]) == sizes[root]:
                    continue  # nothing merged at this stage: not this stage's doing
                guard_hits.append(
                    {
                        "stage": stage_no,
                        "size": sizes[root],
                        "records": [df["record_key"].iat[i] for i in members[root]],
                    }
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
    return Clusters(labels, rule, prob, guard_hits, start.stages_done + len(stages))
