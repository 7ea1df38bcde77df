"""Deterministic rules: pairs of records that are one person by an identifier they share.

Shared external ids (a survey's Salesforce Contact Id), the ticket-requester rule (a CSAT
response names its ticket's Zendesk user), the normalized e-mail, and the last run's
clusters as must-link pairs. Pairs are over record positions (`clusters.Pairs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxloop.identity.clusters import Pairs


def deterministic_pairs(df: pd.DataFrame) -> tuple[Pairs, Pairs]:
    """The rules' pairs in the order they are applied: explicit ids (shared external ids, then
    CSAT ticket requesters), then normalized e-mail; each in record order."""
    by_anchor = {a: i for i, a in enumerate(df["anchor"].tolist()) if isinstance(a, str)}
    external: tuple[list[int], list[int]] = ([], [])
    for i, key in enumerate(df["stated_anchor"].tolist()):
        j = by_anchor.get(key or "")
        if j is not None and j != i:
            external[0].append(i)
            external[1].append(j)
    zendesk = {
        r: i
        for i, (s, r) in enumerate(
            zip(df["source"].tolist(), df["source_record_id"].tolist(), strict=True)
        )
        if s == "zendesk"
    }
    requester: tuple[list[int], list[int]] = ([], [])
    for i, uid in enumerate(df["stated_zendesk"].tolist()):
        j = zendesk.get(uid) if uid is not None else None
        if j is not None:
            requester[0].append(i)
            requester[1].append(j)
    explicit = Pairs.concat(
        Pairs.of(*external, "external_id", 1.0), Pairs.of(*requester, "ticket_requester", 1.0)
    )
    return explicit, _chain(df["email_normalized"], "email", 1.0)


def previous_pairs(df: pd.DataFrame, previous: dict[str, str]) -> Pairs:
    """Last run's clusters as must-link pairs: existing customers are nodes, not re-split."""
    return _chain(df["record_key"].map(previous), "previous_run", None)


def _chain(values: pd.Series, rule: str, prob: float | None) -> Pairs:
    """Pairs joining every record to the first one with the same non-null value."""
    codes = pd.factorize(pd.Series(values, dtype=object).reset_index(drop=True))[0]
    at = np.flatnonzero(codes >= 0)
    if not len(at):
        return Pairs.of([], [], rule, prob)
    first = np.full(codes.max() + 1, len(codes), dtype=np.int64)
    np.minimum.at(first, codes[at], at)
    head = first[codes[at]]
    later = head != at
    return Pairs.of(head[later], at[later], rule, prob)
