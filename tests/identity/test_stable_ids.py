"""Stable ids against their specification, on random clusterings and previous maps: the
votes, their ties, ids one cluster may keep, and minted ids that collide."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest

from cxloop.identity import stable_ids
from cxloop.identity.stable_ids import assign_ids, mint_id


def specified_ids(keys: list[str], labels: list[int], previous: dict[str, str]) -> list[str]:
    """The rule as written in the module docstring, one cluster at a time: a cluster keeps the
    previous id most of its records had (ties: the smaller id; between clusters, the one with
    the smaller smallest key, then the smaller label); an id goes to one cluster only; the
    others mint from their smallest record key (`#1`, `#2`... while the id is taken)."""
    members: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(i)
    claims = []
    for label, idx in members.items():
        votes = Counter(previous[keys[i]] for i in idx if keys[i] in previous)
        for old_id, count in votes.items():
            claims.append((-count, old_id, min(keys[i] for i in idx), label))
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for _, old_id, _, label in sorted(claims):
        if label not in chosen and old_id not in taken:
            chosen[label] = old_id
            taken.add(old_id)
    for label in sorted(members, key=lambda lab: min(keys[i] for i in members[lab])):
        if label in chosen:
            continue
        smallest, k, candidate = min(keys[i] for i in members[label]), 1, None
        candidate = mint_id(smallest)
        while candidate in taken:
            candidate, k = mint_id(f"{smallest}#{k}"), k + 1
        chosen[label] = candidate
        taken.add(candidate)
    return [chosen[label] for label in labels]


@pytest.mark.parametrize("seed", range(30))
def test_assigned_ids_follow_the_rule(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 80)
    keys = [f"{rng.choice(['zendesk', 'salesforce', 'qualtrics'])}:{i:03d}" for i in range(n)]
    labels = [rng.randrange(n) for _ in range(n)]
    labels = [min(i for i in range(n) if labels[i] == lab) for lab in labels]  # smallest member
    olds = [f"cus_{rng.randrange(6)}" for _ in range(6)]
    previous = {k: rng.choice(olds) for k in keys if rng.random() < 0.6}
    if seed % 3 == 0:  # minted ids collide: every key mints one of a few ids
        monkeypatch.setattr(
            stable_ids,
            "mint_id",
            lambda key: f"cus_{key}" if "#" in key else f"cus_m{len(key) % 2}",
        )
        monkeypatch.setitem(globals(), "mint_id", stable_ids.mint_id)
    ids, changes = assign_ids(pd.DataFrame({"record_key": keys}), labels, previous)
    assert ids == specified_ids(keys, labels, previous)
    assert len(set(ids)) == len(set(labels))  # one id a cluster, never shared
    moved = [
        (k.split(":", 1)[1], previous[k], new)
        for k, new in zip(keys, ids, strict=True)
        if k in previous and previous[k] != new
    ]
    assert list(zip(changes["source_record_id"], changes["previous_customer_id"],
                    changes["customer_id"], strict=True)) == moved  # fmt: skip
