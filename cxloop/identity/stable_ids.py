"""Customer ids that stay the same across runs, and the ops.identity_changes rows.

A cluster keeps the previous id most of its records had; only new groups get a new id,
minted from their smallest record key (so the same data always gives the same ids). Every
record whose id changed is a `merge` or `split` row; every over-merge guard hit a row too.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime

import pandas as pd


def mint_id(record_key: str) -> str:
    """A customer id from a record key: deterministic, so the same data gives the same id."""
    return "cus_" + hashlib.md5(record_key.encode("utf-8")).hexdigest()[:16]


def assign_ids(
    df: pd.DataFrame, labels: list[int], previous: dict[str, str]
) -> tuple[list[str], pd.DataFrame]:
    """Stable ids: a cluster keeps the previous id most of its records had (ties: smallest);
    an id goes to one cluster only; others mint from their smallest record key.

    Returns the id per record and the changes (merge/split/new) against `previous`.
    """
    keys = list(df["record_key"])
    members: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        members.setdefault(lab, []).append(i)
    claims = []  # (votes, -smallest key order, cluster, id)
    for lab, idx in members.items():
        votes = Counter(previous[keys[i]] for i in idx if keys[i] in previous)
        for old_id, count in votes.items():
            claims.append((-count, old_id, min(keys[i] for i in idx), lab))
    claims.sort()
    cluster_id: dict[int, str] = {}
    taken: set[str] = set()
    for _, old_id, _, lab in claims:
        if lab not in cluster_id and old_id not in taken:
            cluster_id[lab] = old_id
            taken.add(old_id)
    for lab in sorted(members, key=lambda lab: min(keys[i] for i in members[lab])):
        if lab in cluster_id:
            continue
        ordered = sorted(keys[i] for i in members[lab])
        candidate = mint_id(ordered[0])
        k = 1
        while candidate in taken:
            candidate = mint_id(f"{ordered[0]}#{k}")
            k += 1
        cluster_id[lab] = candidate
        taken.add(candidate)
    ids = [cluster_id[lab] for lab in labels]
    return ids, _changes(keys, ids, previous)


def _changes(keys: list[str], ids: list[str], previous: dict[str, str]) -> pd.DataFrame:
    """One row per record whose id changed: `merge` when its old id is gone, else `split`."""
    current_ids = set(ids)
    rows = []
    for key, new_id in zip(keys, ids, strict=True):
        old_id = previous.get(key)
        if old_id is None or old_id == new_id:
            continue
        source, record_id = key.split(":", 1)
        change = "merge" if old_id not in current_ids else "split"
        rows.append((change, source, record_id, old_id, new_id))
    return pd.DataFrame(
        rows,
        columns=[
            "change_type",
            "source",
            "source_record_id",
            "previous_customer_id",
            "customer_id",
        ],
    )


def change_log(
    changes: pd.DataFrame, guard_hits: list[dict[str, object]], run_id: str, now: datetime
) -> pd.DataFrame:
    """This run's ops.identity_changes rows: the id changes, then one per guard hit."""
    changes = changes.assign(run_id=run_id, changed_at=now, detail=None)
    hits = [
        {
            "run_id": run_id,
            "changed_at": now,
            "change_type": "over_merge_guard",
            "source": None,
            "source_record_id": None,
            "previous_customer_id": None,
            "customer_id": None,
            "detail": json.dumps(hit),
        }
        for hit in guard_hits
    ]
    return pd.concat([changes, pd.DataFrame(hits)], ignore_index=True) if hits else changes
