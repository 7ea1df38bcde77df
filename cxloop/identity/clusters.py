"""Identity phase 2: deterministic rules, then Splink, then guarded clustering and stable ids.

Input: person records (one row per source record, `int_identity__person_records`).
Output: one row per record with `customer_id`, `account_id`, `match_rule`,
`match_probability`, plus the changes against the previous run. docs/identity.md has the why.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from cxloop.identity.normalize import (
    PhoneBook,
    email_local_key,
    name_key,
    name_latin,
    per_distinct,
)

KEY_COLUMNS = ["source", "source_record_id"]
RULE_RANK = {"external_id": 0, "ticket_requester": 1, "email": 2, "splink": 3, "previous_run": 4}
MIN_TRAINING_RECORDS = 2000  # below this the priors in _comparisons() are used as they are
PRIOR_MATCH_RATE = 1e-4
ANCHOR_SOURCE = "salesforce"  # a CRM contact is one person: two never share a customer


@dataclass
class Resolution:
    """The resolved records and what the run found worth reporting."""

    records: pd.DataFrame
    changes: pd.DataFrame
    report: dict[str, object] = field(default_factory=dict)


class StageClock:
    """Wall-clock seconds per named stage (the run report's `timings`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap to `stage`."""
        now = time.perf_counter()
        self.seconds[stage] = round(self.seconds.get(stage, 0.0) + now - self._last, 2)
        self._last = now


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


# --- features --------------------------------------------------------------------------------


def prepare(records: pd.DataFrame) -> pd.DataFrame:
    """Add comparison columns: E.164 phone and validity, name keys, e-mail local key.

    Every normalization runs once per distinct input value (`per_distinct`, `PhoneBook`):
    names repeat across records, and a customer's phone and e-mail recur in each of their
    records.
    """
    df = records.reset_index(drop=True).astype(object)
    df = df.where(df.notna(), None)
    for col in ("mobile_raw", "account_phone", "explicit_contact_id", "explicit_zendesk_user_id"):
        if col not in df:
            df[col] = None
    df = df.astype({"source_record_id": str})
    book = PhoneBook()
    region = [
        book.region_of(p) or book.region_of(a)
        for p, a in zip(df["phone_raw"], df["account_phone"], strict=True)
    ]
    phones = [book.e164(p, r) for p, r in zip(df["phone_raw"], region, strict=True)]
    e164 = [p for p, _ in phones]
    df["phone_e164"] = e164
    df["is_phone_valid"] = [v for _, v in phones]
    # the mobile only stands in for a missing or invalid phone (Splink's phone_any)
    df["phone_any"] = [
        p if p is not None else book.e164(m, r)[0]
        for p, m, r in zip(e164, df["mobile_raw"], region, strict=True)
    ]
    df["first_key"] = per_distinct(name_key, df["first_name"])
    df["last_key"] = per_distinct(name_key, df["last_name"])
    df["first_name_latin"] = per_distinct(name_latin, df["first_name"])
    df["last_name_latin"] = per_distinct(name_latin, df["last_name"])
    df["email_local_key"] = per_distinct(email_local_key, df["email_normalized"])
    df["anchor"] = [
        _contact15(r) if s == ANCHOR_SOURCE else None
        for s, r in zip(df["source"], df["source_record_id"], strict=True)
    ]
    df["record_key"] = df["source"] + ":" + df["source_record_id"]
    df["has_identifier"] = (
        df["email_normalized"].notna()
        | df["phone_e164"].notna()
        | df["explicit_contact_id"].notna()
        | (df["source"] == ANCHOR_SOURCE)
        | ((df["source"] == "qualtrics") & df["explicit_zendesk_user_id"].notna())
    )
    return df


def _contact15(contact_id: object) -> str | None:
    """A Salesforce id compared on its case-sensitive 15-character form."""
    if contact_id is None or pd.isna(contact_id):
        return None
    text = str(contact_id).strip()
    return text[:15] if len(text) in (15, 18) else None


# --- deterministic rules ---------------------------------------------------------------------


def deterministic_edges(df: pd.DataFrame) -> list[tuple[int, int, str]]:
    """Pairs (i, j, rule) from explicit ids, CSAT ticket requesters and normalized e-mail."""
    edges: list[tuple[int, int, str]] = []
    by_anchor = {a: i for i, a in enumerate(df["anchor"]) if isinstance(a, str)}
    for i, cid in enumerate(df["explicit_contact_id"]):
        j = by_anchor.get(_contact15(cid) or "")
        if j is not None and j != i:
            edges.append((i, j, "external_id"))
    zendesk = {
        r: i
        for i, (s, r) in enumerate(zip(df["source"], df["source_record_id"], strict=True))
        if s == "zendesk"
    }
    for i, (s, uid) in enumerate(zip(df["source"], df["explicit_zendesk_user_id"], strict=True)):
        if s == "qualtrics" and uid is not None and not pd.isna(uid):
            j = zendesk.get(str(int(uid)))
            if j is not None:
                edges.append((i, j, "ticket_requester"))
    edges += _chain(df["email_normalized"], "email")
    return edges


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


# --- Splink ----------------------------------------------------------------------------------


BLOCKING_KEYS = (
    ("account_hint", "last_key"),
    ("account_hint", "first_key"),
    ("email_local_key",),
    ("phone_any", "first_key"),
)
# Free-mail providers: the e-mail local-part block only pairs a personal address with others
# (work addresses with the same local part at different companies are different people).
FREEMAIL = frozenset(
    "gmail.com outlook.com hotmail.com live.com yahoo.com icloud.com me.com aol.com "
    "proton.me protonmail.com gmx.com gmx.de mail.ru yandex.ru web.de msn.com".split()
)


def _blocking_rule(keys: tuple[str, ...]) -> str:
    """Equal keys, and only pairs a Splink edge could join: not inside one deterministic
    group (already joined), not between two groups that each hold a CRM contact (the
    cannot-link rule refuses every such edge, so scoring them is wasted work)."""
    equal = " and ".join(f"l.{k} = r.{k}" for k in keys)
    extra = " and (l.is_freemail or r.is_freemail)" if keys == ("email_local_key",) else ""
    return (
        f"{equal}{extra} and l.rule_group <> r.rule_group"
        " and not (l.group_has_contact and r.group_has_contact)"
    )


def splink_edges(
    df: pd.DataFrame,
    threshold: float,
    groups: list[int] | None = None,
    seed: int = 42,
    clock: StageClock | None = None,
) -> pd.DataFrame:
    """Scored pairs (i, j, probability) at or above `threshold`, from Splink 5 on DuckDB.

    `groups` are the deterministic clusters: pairs inside one are not scored.
    """
    from splink import DuckDBAPI, Linker, SettingsCreator

    cols = ["first_key", "last_key", "email_local_key", "phone_e164", "account_hint"]
    frame = df[cols].copy()
    frame.insert(0, "unique_id", range(len(df)))
    frame["phone_any"] = df["phone_any"]
    frame["rule_group"] = groups if groups is not None else range(len(df))
    anchored = {
        g for g, a in zip(frame["rule_group"], df["anchor"], strict=True) if isinstance(a, str)
    }
    frame["group_has_contact"] = frame["rule_group"].isin(anchored)
    frame["is_freemail"] = [
        isinstance(e, str) and e.rsplit("@", 1)[-1] in FREEMAIL for e in df["email_normalized"]
    ]
    usable = frame[frame["last_key"].notna() | frame["email_local_key"].notna()]
    if len(usable) < 2:
        return pd.DataFrame(columns=["i", "j", "probability"])
    con = duckdb.connect()
    try:
        db_api = DuckDBAPI(connection=con)
        sdf = db_api.register(usable, dataset_display_name="person_records")
        settings = SettingsCreator(
            link_type="dedupe_only",
            comparisons=_comparisons(),
            blocking_rules_to_generate_predictions=[_blocking_rule(k) for k in BLOCKING_KEYS],
            probability_two_random_records_match=PRIOR_MATCH_RATE,
            retain_intermediate_calculation_columns=False,
        )
        linker = Linker(sdf, settings, log_level=logging.WARNING)
        clock = clock or StageClock()
        clock.lap("splink_setup")
        if len(usable) >= MIN_TRAINING_RECORDS:
            _train(linker, seed)
        clock.lap("splink_training")
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        pairs = predictions.as_pandas_dataframe()
        clock.lap("splink_predict")
    finally:
        con.close()
    pairs = pairs.rename(
        columns={"unique_id_l": "i", "unique_id_r": "j", "match_probability": "probability"}
    )
    return pairs[["i", "j", "probability"]].astype({"i": int, "j": int})


def _comparisons() -> list[object]:
    """Name keys, phone, account; m priors used when data is too small.

    The e-mail local key is a blocking rule, not a comparison: it is spelled from the
    name (`david.king@acme.com`, `davidking60@yahoo.com`), so scoring it as well counts the
    name twice (Splink assumes independent comparisons). Scored, it lifted "same name, other
    company" pairs to 0.99: every wrong merge on the scale-1 demo (docs/identity.md).
    """
    import splink.comparison_library as cl

    return [
        cl.JaroWinklerAtThresholds("first_key", [0.9]).configure(
            m_probabilities=[0.85, 0.08, 0.07], u_probabilities=[0.02, 0.03, 0.95]
        ),
        cl.JaroWinklerAtThresholds("last_key", [0.9]).configure(
            m_probabilities=[0.85, 0.07, 0.08], u_probabilities=[0.01, 0.02, 0.97]
        ),
        cl.ExactMatch("phone_any").configure(
            m_probabilities=[0.6, 0.4], u_probabilities=[0.001, 0.999]
        ),
        cl.ExactMatch("account_hint").configure(
            m_probabilities=[0.95, 0.05], u_probabilities=[0.001, 0.999]
        ),
    ]


def _train(linker: object, seed: int) -> None:
    """u by random sampling, m by EM blocked on (account, first) then (account, last name)."""
    from splink import block_on

    training = linker.training  # type: ignore[attr-defined]
    training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
    for rule in (block_on("account_hint", "first_key"), block_on("account_hint", "last_key")):
        training.estimate_parameters_using_expectation_maximisation(rule)


# --- clustering with the over-merge guard ----------------------------------------------------


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


# --- stable ids ------------------------------------------------------------------------------


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


# --- the whole step --------------------------------------------------------------------------


def customer_accounts(df: pd.DataFrame, ids: list[str]) -> list[str | None]:
    """Each customer's account: the CRM contact's account, else its records' commonest hint
    (ties: the smallest account id)."""
    frame = pd.DataFrame(
        {"customer_id": ids, "account": df["account_hint"], "crm": df["source"] == ANCHOR_SOURCE}
    ).dropna(subset=["account"])
    has_crm = frame.groupby("customer_id", sort=False)["crm"].transform("any")
    pool = frame[frame["crm"] | ~has_crm]
    counts = pool.groupby(["customer_id", "account"], sort=False).size().reset_index(name="n")
    best = counts.sort_values(
        ["customer_id", "n", "account"], ascending=[True, False, True]
    ).drop_duplicates("customer_id")
    chosen = dict(zip(best["customer_id"], best["account"], strict=True))
    return [chosen.get(c) for c in ids]


def resolve(
    records: pd.DataFrame,
    previous: dict[str, str],
    *,
    threshold: float,
    max_cluster_size: int,
    full_refresh: bool = False,
) -> Resolution:
    """Resolve person records to customers; `previous` maps record_key -> last run's id."""
    clock = StageClock()
    df = prepare(records)
    clock.lap("prepare")
    det = [(i, j, r, 1.0) for i, j, r in deterministic_edges(df)]
    explicit = [e for e in det if e[2] != "email"]
    email = [e for e in det if e[2] == "email"]
    stages = [explicit, email]
    if not full_refresh and previous:
        stages.insert(0, _previous_edges(df, previous))
    rules = cluster(df, stages, max_cluster_size)
    clock.lap("rules")
    pairs = (
        splink_edges(df, threshold, rules.labels, clock=clock)
        if len(df) > 1
        else pd.DataFrame(columns=["i", "j", "probability"])
    )
    pairs = pairs.sort_values(["probability", "i", "j"], ascending=[False, True, True])
    splink_stage = [
        (int(i), int(j), "splink", float(p)) for i, j, p in pairs[["i", "j", "probability"]].values
    ]
    final = cluster(df, [splink_stage], max_cluster_size, start=rules)
    labels, rule, prob, guard_hits = final.labels, final.rule, final.prob, final.guard_hits
    clock.lap("cluster")
    ids, changes = assign_ids(df, labels, previous)
    clock.lap("stable_ids")
    sizes = Counter(ids)
    out = df.copy()
    out["customer_id"] = ids
    out["account_id"] = customer_accounts(df, ids)
    out["match_rule"] = [
        _record_rule(r, source, has_id, sizes[cid])
        for r, source, has_id, cid in zip(
            rule, df["source"], df["has_identifier"], ids, strict=True
        )
    ]
    out["match_probability"] = [
        _record_probability(r, p) for r, p in zip(out["match_rule"], prob, strict=True)
    ]
    report = {
        "records": len(df),
        "customers": len(sizes),
        "largest_cluster": max(sizes.values()) if sizes else 0,
        "no_identifier": int((out["match_rule"] == "no_identifier").sum()),
        "invalid_emails": sum(
            isinstance(raw, str) and bool(raw.strip()) and valid is not True
            for raw, valid in zip(df["email_raw"], df["is_email_valid"], strict=True)
        ),
        "invalid_phones": sum(v is False for v in df["is_phone_valid"]),
        "splink_pairs": len(pairs),
        "rules": out["match_rule"].value_counts().to_dict(),
        "guard_hits": guard_hits,
        "changes": changes["change_type"].value_counts().to_dict(),
    }
    clock.lap("outputs")
    report["timings"] = clock.seconds
    return Resolution(out, changes, report)


def _previous_edges(
    df: pd.DataFrame, previous: dict[str, str]
) -> list[tuple[int, int, str, float | None]]:
    """Last run's clusters as must-link edges: existing customers are nodes, not re-split."""
    ids = [previous.get(k) for k in df["record_key"]]
    return [(i, j, r, None) for i, j, r in _chain(ids, "previous_run")]


def _record_probability(rule: str, probability: float | None) -> float | None:
    """Splink's probability for a probabilistic link, 1.0 for a rule, None when alone."""
    if rule == "splink":
        return probability
    return None if rule in {"unmatched", "no_identifier"} else 1.0


def _record_rule(rule: str | None, source: str, has_identifier: bool, size: int) -> str:
    """The record's match_rule: how it joined its customer, or why it stands alone."""
    if source == ANCHOR_SOURCE:
        return "salesforce_contact"
    if size > 1:
        return rule or "previous_run"
    return "unmatched" if has_identifier else "no_identifier"
