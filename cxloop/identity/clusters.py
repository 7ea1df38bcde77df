"""Guarded clustering: union the pairs stage by stage, never two CRM contacts, never too big.

The deterministic rules, then Splink, each add one stage of pairs; the clusters of the
earlier stages are the nodes of the next one. A component that would grow past
`max_cluster_size` at a stage keeps its earlier-stage clusters and is reported (the
over-merge guard). A CRM contact is one person: two are never joined (the cannot-link).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

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


@dataclass(frozen=True)
class Pairs:
    """One stage's pairs of record positions, in the order they are applied: both ends, the
    rule's rank (`RULE_RANK`) and the match probability (NaN: none, as for `previous_run`)."""

    i: np.ndarray
    j: np.ndarray
    rank: np.ndarray
    prob: np.ndarray

    @classmethod
    def of(cls, i: Sequence[int], j: Sequence[int], rule: str, prob: float | None) -> Pairs:
        """Pairs all joined by `rule`, with one probability (None: none)."""
        n = len(i)
        return cls(
            np.asarray(i, dtype=np.int64).reshape(n),
            np.asarray(j, dtype=np.int64).reshape(n),
            np.full(n, RULE_RANK[rule], dtype=np.int64),
            np.full(n, np.nan if prob is None else prob, dtype=np.float64),
        )

    @classmethod
    def from_edges(cls, edges: Sequence[tuple[int, int, str, float | None]]) -> Pairs:
        """Pairs from (i, j, rule, probability) tuples."""
        if not len(edges):
            return cls.of([], [], "previous_run", None)
        ei, ej, rules, probs = zip(*edges, strict=True)
        return cls(
            np.asarray(ei, dtype=np.int64),
            np.asarray(ej, dtype=np.int64),
            np.asarray([RULE_RANK[r] for r in rules], dtype=np.int64),
            np.asarray([np.nan if p is None else p for p in probs], dtype=np.float64),
        )

    @classmethod
    def concat(cls, *parts: Pairs) -> Pairs:
        """The parts' pairs one after the other."""
        return cls(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in "i j rank prob".split())
        )

    def __len__(self) -> int:
        return len(self.i)

    def take(self, mask: np.ndarray) -> Pairs:
        """The pairs where `mask` holds, in order."""
        return Pairs(self.i[mask], self.j[mask], self.rank[mask], self.prob[mask])


Stage = Pairs | Sequence[tuple[int, int, str, float | None]]
NO_RULE = len(RULE_RANK) + 10  # above every rank: a record no pair has joined yet
UNKNOWN_RULE = 9  # a rule that is not ours (kept, as UnionFind's stage loop always did)


def cluster(
    df: pd.DataFrame,
    stages: Sequence[Stage],
    max_cluster_size: int,
    start: Clusters | None = None,
) -> Clusters:
    """Union stage by stage; a component over `max_cluster_size` reverts to its earlier stage.

    `start` continues an earlier clustering (its stages are not repeated). Returns per
    record: cluster label, the rule that joined it, its match probability, and one dict per
    guard hit (stage, size, records).

    A stage's pairs are applied in order, as `UnionFind` unions them, but computed as
    connected components: a component holding at most one CRM contact is joined whole (no
    union in it can be refused), so only the pairs of components with two or more contacts
    are applied one by one. Each record of an applied pair takes the pair's rule when it
    ranks before its own, and its probability when higher; not in a reverted component.
    """
    n = len(df)
    anchors = df["anchor"].tolist()  # a Python loop over a pandas 3 text column is slow
    if start is None:
        start = Clusters(list(range(n)), [None] * n, [None] * n)
    guard_hits = list(start.guard_hits)
    done = start.stages_done + len(stages)
    if n == 0:
        return Clusters([], [], [], guard_hits, done)
    codes = pd.factorize(
        pd.Series([a if isinstance(a, str) and a else None for a in anchors], dtype=object)
    )[0]
    labels = np.asarray(start.labels, dtype=np.int64).reshape(n)
    rank = np.asarray(
        [NO_RULE if r is None else RULE_RANK.get(r, UNKNOWN_RULE) for r in start.rule],
        dtype=np.int64,
    )
    other_of = {i: r for i, r in enumerate(start.rule) if r is not None and r not in RULE_RANK}
    prob = np.asarray([np.nan if p is None else p for p in start.prob], dtype=np.float64)
    positions = np.arange(n, dtype=np.int64)
    for stage_no, stage in enumerate(stages, start=start.stages_done):
        pairs = stage if isinstance(stage, Pairs) else Pairs.from_edges(stage)
        new, applied = _join(labels, pairs, codes, anchors, positions)
        sizes = np.bincount(new, minlength=n)
        big = sizes > max_cluster_size
        if big.any():
            old_sizes = np.bincount(labels, minlength=n)
            for root in np.flatnonzero(big).tolist():
                members = np.flatnonzero(new == root)
                if old_sizes[labels[members]].max() == sizes[root]:
                    continue  # nothing merged at this stage: not this stage's doing
                guard_hits.append(
                    {
                        "stage": stage_no,
                        "size": int(sizes[root]),
                        "records": [df["record_key"].iat[i] for i in members.tolist()],
                    }
                )
        _credit(rank, prob, pairs.take(applied), ~big[new])
        labels = np.where(big[new], labels, new)
    rules = [
        other_of[i] if r == UNKNOWN_RULE else (None if r == NO_RULE else RANK_RULE[r])
        for i, r in enumerate(rank.tolist())
    ]
    probs = [None if p != p else p for p in prob.tolist()]
    return Clusters(labels.tolist(), rules, probs, guard_hits, done)


RANK_RULE = {rank: rule for rule, rank in RULE_RANK.items()}


def _join(
    labels: np.ndarray,
    pairs: Pairs,
    codes: np.ndarray,
    anchors: list[str | None],
    positions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The labels after applying the pairs in order (UnionFind's), and which pairs applied."""
    n = len(labels)
    graph = coo_matrix(
        (np.ones(len(pairs), dtype=bool), (labels[pairs.i], labels[pairs.j])), shape=(n, n)
    )
    _, component = connected_components(graph, directed=False)
    of_record = component[labels]
    root = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(root, of_record, positions)  # a set's label is its smallest position
    new = root[of_record]
    applied = np.ones(len(pairs), dtype=bool)
    anchored = codes >= 0
    contacts = pd.DataFrame({"c": of_record[anchored], "a": codes[anchored]}).drop_duplicates()
    counts = contacts.groupby("c").size()
    clash = np.zeros(len(root), dtype=bool)
    clash[counts.index[counts.to_numpy() > 1].to_numpy()] = True
    if clash.any():  # two contacts meet: apply these components' pairs one by one
        uf = UnionFind.from_labels(labels.tolist(), anchors)
        at = np.flatnonzero(clash[of_record[pairs.i]])
        for k, i, j in zip(at.tolist(), pairs.i[at].tolist(), pairs.j[at].tolist(), strict=True):
            applied[k] = uf.union(i, j)
        members = np.flatnonzero(clash[of_record])
        new[members] = [uf.find(i) for i in members.tolist()]
    return new, applied


def _credit(rank: np.ndarray, prob: np.ndarray, pairs: Pairs, kept: np.ndarray) -> None:
    """Each end of an applied pair, where `kept`, takes the pair's rule when it ranks before
    its own and its probability when higher (`rank` and `prob` in place)."""
    ends = np.concatenate([pairs.i, pairs.j])
    keep = kept[ends]
    ends = ends[keep]
    ranks = np.concatenate([pairs.rank, pairs.rank])[keep]
    probs = np.concatenate([pairs.prob, pairs.prob])[keep]
    np.minimum.at(rank, ends, ranks)
    has = ~np.isnan(probs)
    if has.any():
        top = np.full(len(prob), -np.inf)
        np.maximum.at(top, ends[has], probs[has])
        hit = top > -np.inf
        prob[hit] = np.maximum(np.nan_to_num(prob[hit], nan=0.0), top[hit])
