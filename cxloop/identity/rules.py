"""Deterministic rules: pairs of records that are one person by an identifier they share.

Shared external ids (a survey's Salesforce Contact Id), the ticket-requester rule (a CSAT
response names its ticket's Zendesk user), the normalized e-mail, and the last run's
clusters as must-link pairs. Pairs are over record positions (`clusters.Pairs`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxloop.identity.clusters import Pairs
from cxloop.identity.normalize import SURVEY_SOURCES, anchor_key, per_distinct


def deterministic_pairs(df: pd.DataFrame) -> tuple[Pairs, Pairs]:
    """The rules' pairs in the order they are applied: explicit ids (shared external ids, then
    CSAT ticket requesters), then normalized e-mail; each in record order."""
    by_anchor = {a: i for i, a in enumerate(df["anchor"].tolist()) if isinstance(a, str)}
    # each distinct stated id is read once (most records state none)
    stated = per_distinct(anchor_key, df["explicit_contact_id"])
    external: tuple[list[int], list[int]] = ([], [])
    for i, key in enumerate(stated):
        j = by_anchor.get(key or "")
        if j is not None and j != i:
            external[0].append(i)
            external[1].append(j)
    sources = df["source"].tolist()
    zendesk = {
        r: i
        for i, (s, r) in enumerate(zip(sources, df["source_record_id"].tolist(), strict=True))
        if s == "zendesk"
    }
    requester: tuple[list[int], list[int]] = ([], [])
    stated_users = df["explicit_zendesk_user_id"].tolist()
    for i, (s, uid) in enumerate(zip(sources, stated_users, strict=True)):
        if s in SURVEY_SOURCES and uid is not None and not pd.isna(uid):
            j = zendesk.get(str(int(uid)))
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
