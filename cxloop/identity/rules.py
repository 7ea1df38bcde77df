"""Deterministic rules: pairs of records that are one person by an identifier they share.

Shared external ids (a survey's Salesforce Contact Id), the ticket-requester rule (a CSAT
response names its ticket's Zendesk user), the normalized e-mail, and the last run's
clusters as must-link pairs. Each pair is (i, j, rule) over record positions.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cxloop.identity.normalize import SURVEY_SOURCES, anchor_key


def deterministic_edges(df: pd.DataFrame) -> list[tuple[int, int, str]]:
    """Pairs (i, j, rule) from explicit ids, CSAT ticket requesters and normalized e-mail."""
    edges: list[tuple[int, int, str]] = []
    by_anchor = {a: i for i, a in enumerate(df["anchor"]) if isinstance(a, str)}
    for i, cid in enumerate(df["explicit_contact_id"]):
        j = by_anchor.get(anchor_key(cid) or "")
        if j is not None and j != i:
            edges.append((i, j, "external_id"))
    zendesk = {
        r: i
        for i, (s, r) in enumerate(zip(df["source"], df["source_record_id"], strict=True))
        if s == "zendesk"
    }
    for i, (s, uid) in enumerate(zip(df["source"], df["explicit_zendesk_user_id"], strict=True)):
        if s in SURVEY_SOURCES and uid is not None and not pd.isna(uid):
            j = zendesk.get(str(int(uid)))
            if j is not None:
                edges.append((i, j, "ticket_requester"))
    edges += _chain(df["email_normalized"], "email")
    return edges


def previous_edges(
    df: pd.DataFrame, previous: dict[str, str]
) -> list[tuple[int, int, str, float | None]]:
    """Last run's clusters as must-link edges: existing customers are nodes, not re-split."""
    ids = [previous.get(k) for k in df["record_key"]]
    return [(i, j, r, None) for i, j, r in _chain(ids, "previous_run")]


def _chain(values: Iterable[object], rule: str) -> list[tuple[int, int, str]]:
    """Edges joining every record to the first one with the same non-null value."""
    first: dict[object, int] = {}
    edges = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            continue
        if v in first:
            edges.append((first[v], i, rule))
        else:
            first[v] = i
    return edges
