"""Customer ids that stay the same across runs, and the ops.identity_changes rows.

A cluster keeps the previous id most of its records had; only new groups get a new id,
minted from their smallest record key (so the same data always gives the same ids). Every
record whose id changed is a `merge` or `split` row; every over-merge guard hit a row too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Set as AbstractSet
from datetime import datetime

import pandas as pd


def mint_id(record_key: str) -> str:
    """A customer id from a record key: deterministic, so the same data gives the same id."""
    return "cus_" + hashlib.md5(record_key.encode("utf-8")).hexdigest()[:16]


def assign_ids(
    df: pd.DataFrame,
    labels: list[int],
    previous: dict[str, str],
    reserved: AbstractSet[str] = frozenset(),
) -> tuple[list[str], pd.DataFrame]:
    """Stable ids: a cluster keeps the previous id most of its records had (ties: smallest);
    an id goes to one cluster only; others mint from their smallest record key.

    `reserved`: ids the customers outside `df` keep (an incremental run resolves a part of
    the records): a minted id never takes one. Returns the id per record and the changes
    (merge/split/new) against `previous`.
    """
    frame = pd.DataFrame({"label": labels, "key": df["record_key"]})
    frame["old"] = frame["key"].map(previous)
    by_key = frame.sort_values("key", kind="stable").drop_duplicates("label")
    smallest = pd.Series(by_key["key"].to_numpy(), index=by_key["label"].to_numpy())
    claims = frame.dropna(subset=["old"]).groupby(["label", "old"], sort=False).size().reset_index()
    claims.columns = ["label", "old", "votes"]
    claims["smallest"] = claims["label"].map(smallest)
    # most votes, then the smallest id, the cluster with the smallest key, the smallest label
    claims = claims.sort_values(
        ["votes", "old", "smallest", "label"], ascending=[False, True, True, True], kind="stable"
    )
    cluster_id: dict[int, str] = {}
    taken: set[str] = set()
    for label, old_id in zip(claims["label"].tolist(), claims["old"].tolist(), strict=True):
        if label not in cluster_id and old_id not in taken:
            cluster_id[label] = old_id
            taken.add(old_id)
    unclaimed = smallest[~smallest.index.isin(list(cluster_id))].sort_values(kind="stable")
    for label, key in zip(unclaimed.index.tolist(), unclaimed.tolist(), strict=True):
        candidate = mint_id(key)
        k = 1
        while candidate in taken or candidate in reserved:
            candidate = mint_id(f"{key}#{k}")
            k += 1
        cluster_id[label] = candidate
        taken.add(candidate)
    ids = frame["label"].map(cluster_id).tolist()
    return ids, _changes(frame["key"].tolist(), ids, frame["old"].tolist())


def _changes(keys: list[str], ids: list[str], olds: list[object]) -> pd.DataFrame:
    """One row per record whose id changed: `merge` when its old id is gone, else `split`."""
    current_ids = set(ids)
    rows = []
    for key, new_id, old_id in zip(keys, ids, olds, strict=True):
        if not isinstance(old_id, str) or old_id == new_id:
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
