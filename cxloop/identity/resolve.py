"""Identity resolution start to end: person records -> stable customer ids, in the warehouse.

`resolve` runs the stages on a frame: `normalize.prepare` (comparison columns), `rules`
(deterministic pairs), `clusters` (guarded union), `splink_match` (probabilistic pairs for
what the rules left apart), `clusters` again, `stable_ids`. `resolve_warehouse` reads its
input and the last map (`store`), runs it and writes the new map in one transaction.
Input: one row per source record (`int_person_records__unioned`). Output: one row per
record with `customer_id`, `account_id`, `match_rule`, `match_probability`, plus the changes
against the previous run. docs/identity.md has the why.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from cxloop.identity.clusters import RULE_RANK, Clusters, Pairs, cluster
from cxloop.identity.incremental import REGION, Plan, map_summary, plan
from cxloop.identity.normalize import ANCHOR_SOURCES, prepare
from cxloop.identity.rules import deterministic_pairs, previous_pairs
from cxloop.identity.runs import (
    IdentityState,
    clusters_fingerprint,
    last_model,
    last_run,
    record_run,
    records_fingerprint,
    save_model,
    settings_fingerprint,
)
from cxloop.identity.splink_match import SplinkModel, splink_edges, splink_reads
from cxloop.identity.stable_ids import assign_ids, change_log
from cxloop.identity.store import load_person_records, load_previous, save
from cxloop.warehouse import fetch_frame, writer


@dataclass
class Resolution:
    """The resolved records and what the run found worth reporting."""

    records: pd.DataFrame
    changes: pd.DataFrame
    report: dict[str, object] = field(default_factory=dict)
    trained: SplinkModel | None = None  # the Splink model this run trained (None: reused/priors)


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


def resolve_warehouse(
    warehouse: Path,
    *,
    threshold: float,
    max_cluster_size: int,
    full_refresh: bool = False,
    build_id: str | None = None,
    retrain: bool = False,
    incremental: bool = True,
) -> dict[str, object]:
    """Read person records and the last map, resolve, write the map, its changes and the run's
    fingerprints (ops.identity_runs, cxloop.identity.runs) in one transaction.

    `retrain` (a dbt full refresh: asked, new dbt code, an erasure) trains Splink afresh
    instead of reusing its last model; `full_refresh` also ignores the last map. Otherwise,
    with `incremental`, only the records new, changed and removed records can reach are
    resolved again when that is a small part (cxloop.identity.incremental): the same map as a
    full run's."""
    run_id = uuid.uuid4().hex[:12]
    with writer(warehouse) as con:
        t0 = time.perf_counter()
        records_fp = records_fingerprint(con)
        settings = settings_fingerprint(threshold, max_cluster_size)
        last = last_run(con)
        same_code = not full_refresh and last is not None and last.settings == settings
        model = None if full_refresh or retrain else last_model(con, settings)
        # a part only when the map is the one the last run wrote (not edited since: erased)
        part = (
            plan(con, model, threshold, _prepared, last.run_id)
            if incremental
            and same_code
            and not retrain
            and clusters_fingerprint(con) == last.clusters  # type: ignore[union-attr]
            else None
        )
        within = REGION if part is not None else None
        # the last map's phone columns are reused when made by the same code and libraries
        records = load_person_records(con, reuse_phones=same_code, within=within)
        previous = load_previous(con, within)
        load_s = time.perf_counter() - t0
        result = resolve(
            records,
            previous,
            threshold=threshold,
            max_cluster_size=max_cluster_size,
            full_refresh=full_refresh,
            splink_model=model,
            part=part,
        )
        t0 = time.perf_counter()
        now = datetime.now(UTC).replace(tzinfo=None)
        guard_hits: list[dict[str, object]] = result.report["guard_hits"]  # type: ignore[assignment]
        # in stage order, then by record (a full run's order is its positions')
        guard_hits.sort(key=lambda h: (h["stage"], h["records"]))  # type: ignore[arg-type,return-value]
        save(
            con,
            result.records.assign(resolved_at=now, run_id=run_id),
            change_log(result.changes, guard_hits, run_id, now),
            within=within,
            run=(now, run_id),
        )
        state = IdentityState(
            settings,
            records_fp or "",
            clusters_fingerprint(con) or "",
        )
        whole = map_summary(con)  # the report's counts in either mode
        record_run(con, run_id, build_id, now, state, part.records if part else len(records))
        if result.trained is not None:
            save_model(con, result.trained, run_id, now, settings)
    save_s = time.perf_counter() - t0  # with the commit
    report = {**result.report, **whole}
    report["resolved"] = (
        {"mode": "incremental", "records": part.reached, "new_or_changed": part.seeds,
         "removed": part.removed, "splink_probes": part.probes}
        if part is not None
        else {"mode": "full", "records": len(records)}
    )  # fmt: skip
    report["run_id"] = run_id
    report["state"] = asdict(state)
    report["timings"] = {
        "load": round(load_s, 2),
        **result.report.get("timings", {}),  # type: ignore[dict-item]
        "save": round(save_s, 2),
    }
    report["guard_hits"] = [
        {"stage": h["stage"], "size": h["size"], "records": h["records"][:5]}  # type: ignore[index]
        for h in guard_hits
    ]
    return report


def _prepared(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """The records a temp table names, prepared, with their node and whether Splink reads
    them (`incremental.plan`)."""
    frame = prepare(load_person_records(con, reuse_phones=True, within=table))
    nodes = fetch_frame(con, f"select source, source_record_id, node from {table}")
    frame = frame.merge(nodes.astype(object), on=["source", "source_record_id"], how="left")
    frame["splink_usable"] = splink_reads(frame)
    return frame


def resolve(
    records: pd.DataFrame,
    previous: dict[str, str],
    *,
    threshold: float,
    max_cluster_size: int,
    full_refresh: bool = False,
    splink_model: SplinkModel | None = None,
    part: Plan | None = None,
) -> Resolution:
    """Resolve person records to customers; `previous` maps record_key -> last run's id.

    `splink_model` is the last trained Splink model, reused while the records it reads stay
    within `splink_match.RETRAIN_CHANGE` of those it was trained on (never on `full_refresh`).
    `part`: `records` are the part of the map an incremental run resolves (its Splink count
    and the ids the rest keeps come from the plan).
    """
    clock = StageClock()
    df = prepare(records)
    clock.lap("prepare")
    explicit, email = deterministic_pairs(df)
    # stages are numbered alike in every run (a guard hit's `stage`): 0 the last map's
    # customers, 1 explicit ids, 2 e-mail, 3 Splink; without a last map stage 0 is empty
    n = len(df)
    rules = cluster(
        df,
        [explicit, email],
        max_cluster_size,
        start=Clusters(list(range(n)), [None] * n, [None] * n, stages_done=1),
    )
    # Splink scores what the rules alone left apart, so a rerun on the same records scores the
    # same pairs as the first run and keeps their `splink` rule and probability (without this,
    # records the last run joined by Splink turned `previous_run` on the next run).
    splink_groups = rules.labels
    if not full_refresh and previous:
        rules = cluster(df, [previous_pairs(df, previous), explicit, email], max_cluster_size)
    clock.lap("rules")
    splink = splink_edges(  # fewer than two records: no pair, the scorer still reported
        df,
        threshold,
        splink_groups,
        lap=clock.lap,
        model=None if full_refresh else splink_model,
        population=part.population if part is not None else None,
    )
    pairs = splink.pairs.sort_values(["probability", "i", "j"], ascending=[False, True, True])
    splink_stage = Pairs(
        pairs["i"].to_numpy(dtype="int64"),
        pairs["j"].to_numpy(dtype="int64"),
        np.full(len(pairs), RULE_RANK["splink"], dtype="int64"),
        pairs["probability"].to_numpy(dtype="float64"),
    )
    final = cluster(df, [splink_stage], max_cluster_size, start=rules)
    labels, rule, prob, guard_hits = final.labels, final.rule, final.prob, final.guard_hits
    clock.lap("cluster")
    ids, changes = assign_ids(df, labels, previous, part.reserved if part else frozenset())
    clock.lap("stable_ids")
    sizes = Counter(ids)
    out = df.copy()
    out["customer_id"] = ids
    out["account_id"] = customer_accounts(df, ids)
    # columns are read as lists: a Python loop over a pandas 3 text column is slow
    match_rule = [
        _record_rule(r, source, has_id, sizes[cid])
        for r, source, has_id, cid in zip(
            rule, df["source"].tolist(), df["has_identifier"].tolist(), ids, strict=True
        )
    ]
    out["match_rule"] = match_rule
    out["match_probability"] = [
        _record_probability(r, p) for r, p in zip(match_rule, prob, strict=True)
    ]
    out["splink_usable"] = splink_reads(df)
    report = {
        "records": len(df),
        "customers": len(sizes),
        "largest_cluster": max(sizes.values()) if sizes else 0,
        "no_identifier": int((out["match_rule"] == "no_identifier").sum()),
        "invalid_emails": sum(
            isinstance(raw, str) and bool(raw.strip(" ")) and valid is not True  # as SQL trim
            for raw, valid in zip(
                df["email_raw"].tolist(), df["is_email_valid"].tolist(), strict=True
            )
        ),
        "invalid_phones": sum(v is False for v in df["is_phone_valid"].tolist()),
        "splink_pairs": len(pairs),
        "splink_model": (
            "trained" if splink.trained else "reused" if splink.model is not None else "priors"
        ),
        "rules": out["match_rule"].value_counts().to_dict(),
        "guard_hits": guard_hits,
        "changes": changes["change_type"].value_counts().to_dict(),
    }
    clock.lap("outputs")
    report["timings"] = clock.seconds
    return Resolution(out, changes, report, splink.model if splink.trained else None)


def customer_accounts(df: pd.DataFrame, ids: list[str]) -> list[str | None]:
    """Each customer's account: the CRM contact's account, else its records' commonest hint
    (ties: the smallest account id)."""
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "account": df["account_hint"],
            "crm": df["source"].isin(ANCHOR_SOURCES),
        }
    ).dropna(subset=["account"])
    has_crm = frame.groupby("customer_id", sort=False)["crm"].transform("any")
    pool = frame[frame["crm"] | ~has_crm]
    counts = pool.groupby(["customer_id", "account"], sort=False).size().reset_index(name="n")
    best = counts.sort_values(
        ["customer_id", "n", "account"], ascending=[True, False, True]
    ).drop_duplicates("customer_id")
    chosen = dict(zip(best["customer_id"].tolist(), best["account"].tolist(), strict=True))
    return [chosen.get(c) for c in ids]


def _record_probability(rule: str, probability: float | None) -> float | None:
    """Splink's probability for a probabilistic link, 1.0 for a rule, None when alone."""
    if rule == "splink":
        return probability
    return None if rule in {"unmatched", "no_identifier"} else 1.0


def _record_rule(rule: str | None, source: str, has_identifier: bool, size: int) -> str:
    """The record's match_rule: how it joined its customer, or why it stands alone."""
    if source in ANCHOR_SOURCES:
        return f"{source}_contact"  # salesforce_contact, hubspot_contact
    if size > 1:
        return rule or "previous_run"
    return "unmatched" if has_identifier else "no_identifier"
