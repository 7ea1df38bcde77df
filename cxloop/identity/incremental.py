"""Incremental identity: resolve again only the records a change can reach.

Resolution is local: a rule pairs two records that share an id (an e-mail, a CRM contact
id, a helpdesk user id), Splink pairs two that share a blocking key, the last map's clusters
join records that share a customer id, and the over-merge guard judges the records of one
would-be cluster together. The map keeps each record's ids and blocking keys as hashes
(`link_keys`, `block_keys`) and what Splink reads of it. The part to resolve again is the
connected components, over the rules' ids (old and new), the last customers and the last
run's guard hits, of the new, changed and removed records and of those hits, grown by every
pair Splink scores at or above the threshold between the part and a record outside, until
none is left. Everything outside would come out of a full run as the last map has it (a
rerun on the same records keeps the map, except around guard hits, which is why they are
always in the part), so an incremental run resolves only the part and keeps every other
row. It is a full run's result, not an approximation: tests/identity/test_incremental.py
compares the two.

An incremental run needs the last map as the last identity run wrote it, by the same code,
settings and libraries (else every record may resolve differently), the same scorer as that
run (the model it may reuse for the whole map's count, or the priors on both sides of
MIN_TRAINING_RECORDS: a part is never trained on) and a part under `MAX_SHARE` of the
records (else a full run is as quick). docs/identity.md "Incremental runs".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cxloop.identity.normalize import RECORD_COLUMNS
from cxloop.identity.splink_match import (
    BLOCKING_KEYS,
    FREEMAIL,
    MIN_TRAINING_RECORDS,
    SplinkModel,
    cross_pairs,
    is_freemail,
    needs_training,
)
from cxloop.tables import IDENTITY_CHANGES, IDENTITY_CLUSTERS
from cxloop.warehouse import fetch_frame, table_exists

MAX_SHARE = 0.5  # past this share of the records reached, a full run is as quick
REGION = "identity_region"  # temp table: source, source_record_id of the records to resolve
RECORDS = "intermediate.int_person_records__unioned"
# Keys as (kind, columns of the prepared record); records whose keys are equal may form a
# pair. The rules' ids (a contact's own id and the id a survey states are one kind, so they
# meet; a helpdesk user's id and the requester a CSAT response names, too):
RULE_LINKS = (
    ("email", ("email_normalized",)),
    ("contact", ("anchor",)),
    ("contact", ("stated_anchor",)),
    ("zendesk", ("zendesk_self",)),
    ("zendesk", ("stated_zendesk",)),
)
# Splink's blocking keys (splink_match.BLOCKING_KEYS): a pair shares one of them.
BLOCK_LINKS = tuple((".".join(keys), keys) for keys in BLOCKING_KEYS)  # kind: the key names
RULE_COLUMNS = tuple(f"link_{n}" for n in range(len(RULE_LINKS)))
BLOCK_COLUMNS = tuple(f"block_{n}" for n in range(len(BLOCK_LINKS)))
LINK_COLUMNS = (*RULE_COLUMNS, *BLOCK_COLUMNS)
# what Splink reads of a record (splink_match._splink_frame), kept in the map for the probes
SPLINK_COLUMNS = (
    "first_key", "last_key", "email_local_key", "phone_e164", "account_hint", "phone_any",
    "email_normalized",
)  # fmt: skip


def record_hash_sql(alias: str) -> str:
    """SQL for the DuckDB hash of a person record's identity inputs (`record_hash`)."""
    return f"hash({', '.join(f'{alias}.{c}' for c in RECORD_COLUMNS)})"


def link_key_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The rule and blocking keys of prepared records as text, one column per key (null: the
    record has no such value); `keys_sql` hashes them."""
    links = (*RULE_LINKS, *BLOCK_LINKS)
    named = {c for _, columns in links for c in columns} - {"zendesk_self"}
    text = {c: df[c].astype("string") for c in named}
    text["zendesk_self"] = (
        df["source_record_id"].astype("string").where((df["source"] == "zendesk").to_numpy())
    )
    out = {}
    for name, (kind, columns) in zip(LINK_COLUMNS, links, strict=True):
        key = pd.Series(kind, index=df.index, dtype="string")
        for column in columns:
            key = key + "\x1f" + text[column]  # null when any part is null
        out[name] = key
    return pd.DataFrame(out, index=df.index)


def keys_sql(alias: str, columns: tuple[str, ...]) -> str:
    """SQL for a record's key hashes (`link_keys`, `block_keys`) from `link_key_frame`'s
    columns, one per column in order (null: the record has no such key)."""
    hashed = ", ".join(
        f"case when {alias}.{c} is not null then hash({alias}.{c}) end" for c in columns
    )
    return f"[{hashed}]"


@dataclass
class Plan:
    """What an incremental run resolves: the records in the temp table `REGION`, and what the
    rest of the map holds that the part must respect."""

    records: int  # person records now
    reached: int  # records resolved again (the REGION table's rows)
    seeds: int  # new and changed records
    removed: int  # map rows whose record is gone
    population: int  # records Splink reads in the whole map (splink_match `population`)
    reserved: set[str] = field(default_factory=set)  # ids the records outside keep
    probes: int = 0  # Splink runs that looked for pairs leaving the part


Prepared = Callable[[duckdb.DuckDBPyConnection, str], pd.DataFrame]


def plan(
    con: duckdb.DuckDBPyConnection,
    model: SplinkModel | None,
    threshold: float,
    prepared: Prepared,
    last_run_id: str,
) -> Plan | None:
    """The part to resolve again, written to the temp table `REGION`; None when the run must
    be a full one (the map lacks its keys, the scorer changes, or the reach is too wide).

    `prepared(con, table)` returns the records a temp table names (source, source_record_id,
    node), prepared (`normalize.prepare`), with their `node` and `splink_usable`.

    The part grows from the new, changed and removed records and the last run's guard hits
    (`last_run_id`): by the rules' ids, the last map's customers and those hits (connected
    components), then by every pair Splink scores at or above `threshold` between the part
    and a record outside it (with the run's scorer, on the part and the records sharing a
    blocking key with it), until no such pair is left. A pair outside the part scores what it
    scored in the last run (the same scorer, else None), and a pair under the threshold joins
    nothing, so neither can change what a full run gives.
    """
    free_sql = (
        "coalesce(string_split(m.email_normalized, '@')[-1] in ("
        + ", ".join(f"'{d}'" for d in sorted(FREEMAIL))
        + "), false)"
    )
    con.execute(
        "create or replace temp table identity_nodes as "
        "select coalesce(r.source, m.source) as source, "
        "coalesce(r.source_record_id, m.source_record_id) as source_record_id, "
        "r.source is not null as current, m.source is not null as mapped, "
        "m.source is not null and r.record_hash is distinct from m.record_hash as changed, "
        f"m.customer_id, m.link_keys, m.block_keys, m.splink_usable, {free_sql} as freemail, "
        "row_number() over () - 1 as node "
        f"from (select source, source_record_id, {record_hash_sql('r')} as record_hash "
        f"from {RECORDS} as r) as r "
        f"full join {IDENTITY_CLUSTERS.qualified} as m "
        "on m.source = r.source and m.source_record_id = r.source_record_id"
    )
    counts = con.execute(
        "select count(*) filter (current), count(*) filter (mapped and (link_keys is null "
        "or block_keys is null or splink_usable is null)), "
        "count(*) filter (current and (not mapped or changed)), "
        "count(*) filter (not current), "
        "count(*) filter (current and mapped and not changed and splink_usable), "
        "count(*) filter (mapped and splink_usable), count(*) from identity_nodes"
    ).fetchone()
    assert counts is not None
    records, unkeyed, touched, removed, usable_kept, usable_last, size = counts
    if unkeyed or touched > MAX_SHARE * records:
        return None  # a map from before these keys, or most records new (the first run)
    con.execute(
        "create or replace temp table identity_touched as select source, source_record_id, node "
        "from identity_nodes where current and (not mapped or changed)"
    )
    fresh = prepared(con, "identity_touched")
    population = usable_kept + int(fresh["splink_usable"].sum())
    if needs_training(model, population):
        return None  # Splink trains on the whole map, never on a part
    if (population < MIN_TRAINING_RECORDS) != (usable_last < MIN_TRAINING_RECORDS):
        return None  # the priors now and a trained model last (or the reverse): all rescored
    graph = _Graph.read(con, size, fresh, guard_hits(con, last_run_id))
    seeds = (
        con.execute("select node from identity_nodes where not current or not mapped or changed")
        .fetchnumpy()["node"]
        .astype(np.int64)
    )
    # the last run's guard hits are resolved again too: the guard judges a stage's component
    # as the earlier stages left it, and a run that starts from the last map's customers
    # (stage 0) may see it differently than the run that logged the hit (a rerun on the
    # same records can change the map around a hit: docs/identity.md "Incremental runs")
    part = graph.whole_components(np.concatenate([seeds, graph.guarded]))
    frontier, probes = part.copy(), 0
    while True:
        outside = graph.block_neighbours(frontier) & graph.current & ~part
        if not outside.any():
            break  # no record outside shares a blocking key with the part's new records
        probes += 1
        partners = _paired_outside(
            con, fresh, frontier & graph.current, outside, model, threshold, population
        )
        frontier = graph.whole_components(partners) & ~part
        part |= frontier
        if (part & graph.current).sum() > MAX_SHARE * records:
            return None
        if not frontier.any():
            break
    region = np.flatnonzero(part & graph.current)
    _write_nodes(con, REGION, region)
    kept = con.execute(
        "select distinct customer_id from identity_nodes as n where current and mapped "
        f"and not exists (select 1 from {REGION} as g where g.source = n.source "
        "and g.source_record_id = n.source_record_id)"
    ).fetchall()
    return Plan(
        records=records,
        reached=len(region),
        seeds=touched,
        removed=removed,
        population=population,
        reserved={row[0] for row in kept},
        probes=probes,
    )


@dataclass
class _Graph:
    """The records (nodes of `identity_nodes`) and the keys they share: the rules' ids and
    the last map's customers (as connected components), Splink's blocking keys per kind."""

    current: np.ndarray  # mask: a person record now (else a map row whose record is gone)
    component: np.ndarray  # per node, its component over rule ids and last customers
    freemail: np.ndarray  # mask: the record's e-mail is at a free-mail provider
    blocks: list[tuple[np.ndarray, np.ndarray]]  # per BLOCK_LINKS kind: (nodes, keys)
    guarded: np.ndarray  # the nodes of the last run's guard hits

    @classmethod
    def read(
        cls,
        con: duckdb.DuckDBPyConnection,
        size: int,
        fresh: pd.DataFrame,
        hits: list[dict[str, object]],
    ) -> _Graph:
        """Rule ids: of every map row as the last run read it (changed records too) and of
        the new and changed records now; the last map's customers; the last run's guard
        hits (the records of one, kept apart by the guard, are one component: a removed or
        changed member may let the rest merge). Blocking keys as records have them now."""
        keys = link_key_frame(fresh).assign(
            node=fresh["node"].astype("int64"),
            freemail=is_freemail(fresh["email_normalized"]),
        )
        guarded = pd.DataFrame(
            [(str(key), n) for n, hit in enumerate(hits) for key in hit["records"]],  # type: ignore[attr-defined]
            columns=["record_key", "hit"],
        )
        con.register("identity_fresh", keys)
        con.register("identity_guarded", guarded)
        try:
            nodes = con.execute(
                "select current, freemail from identity_nodes order by node"
            ).fetchnumpy()
            current = np.asarray(nodes["current"], dtype=bool)
            freemail = np.asarray(nodes["freemail"], dtype=bool)
            fresh_free = con.execute("select node from identity_fresh where freemail").fetchnumpy()
            freemail[np.asarray(fresh_free["node"], dtype=np.int64)] = True
            rule = _edges(
                con,
                "select node, unnest(link_keys) as key from identity_nodes where mapped "
                "union all select node, hash('customer' || chr(31) || customer_id) "
                "from identity_nodes where mapped "
                f"union all select node, unnest({keys_sql('f', RULE_COLUMNS)}) "
                "from identity_fresh as f "
                "union all select n.node, hash('guard' || chr(31) || g.hit) "
                "from identity_nodes as n join identity_guarded as g "
                "on g.record_key = n.source || ':' || n.source_record_id",
            )
            blocks = [
                _edges(
                    con,
                    f"select node, block_keys[{n + 1}] as key from identity_nodes "
                    "where current and mapped and not changed union all "
                    f"select node, {keys_sql('f', (column,))}[1] from identity_fresh as f",
                )
                for n, column in enumerate(BLOCK_COLUMNS)
            ]
            guarded_nodes = con.execute(
                "select n.node from identity_nodes as n join identity_guarded as g "
                "on g.record_key = n.source || ':' || n.source_record_id"
            ).fetchnumpy()["node"]
        finally:
            con.unregister("identity_fresh")
            con.unregister("identity_guarded")
        guarded = np.asarray(guarded_nodes, dtype=np.int64)
        return cls(current, _components(size, *rule), freemail, blocks, guarded)

    def whole_components(self, nodes: np.ndarray) -> np.ndarray:
        """A mask of the nodes in the components of `nodes`."""
        hit = np.zeros(self.component.max() + 1 if len(self.component) else 0, dtype=bool)
        hit[self.component[nodes]] = True
        return hit[self.component]

    def block_neighbours(self, mask: np.ndarray) -> np.ndarray:
        """A mask of the records Splink's blocking may pair with one in `mask` (the e-mail
        local key pairs only where one of the two is at a free-mail provider)."""
        out = np.zeros(len(mask), dtype=bool)
        for (kind, _), (nodes, keys) in zip(BLOCK_LINKS, self.blocks, strict=True):
            inside = mask[nodes]
            if kind != "email_local_key":
                out[nodes[np.isin(keys, keys[inside])]] = True
                continue
            free = self.freemail[nodes]
            out[nodes[np.isin(keys, keys[inside & free])]] = True
            out[nodes[free & np.isin(keys, keys[inside & ~free])]] = True
        return out


def _edges(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[np.ndarray, np.ndarray]:
    """(node, key) pairs from a query of two columns, without null keys."""
    edges = con.execute(f"select * from ({sql}) as e (node, key) where key is not null")
    found = edges.fetchnumpy()
    return np.asarray(found["node"], dtype=np.int64), np.asarray(found["key"], dtype=np.uint64)


def _components(size: int, nodes: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each node's connected component over shared keys (a node-key graph)."""
    codes = pd.factorize(keys)[0].astype(np.int64)
    total = size + (int(codes.max()) + 1 if len(codes) else 0)
    graph = coo_matrix((np.ones(len(nodes), dtype=bool), (nodes, size + codes)), (total, total))
    return connected_components(graph, directed=False)[1][:size]


def _write_nodes(con: duckdb.DuckDBPyConnection, table: str, nodes: np.ndarray) -> None:
    """The temp table `table`: source, source_record_id, node of these nodes."""
    con.register("identity_picked", pd.DataFrame({"node": nodes.astype(np.int64)}))
    try:
        con.execute(
            f"create or replace temp table {table} as select n.source, n.source_record_id, "
            "n.node from identity_nodes as n semi join identity_picked as p on p.node = n.node"
        )
    finally:
        con.unregister("identity_picked")


def _paired_outside(
    con: duckdb.DuckDBPyConnection,
    fresh: pd.DataFrame,
    inside: np.ndarray,
    outside: np.ndarray,
    model: SplinkModel | None,
    threshold: float,
    population: int,
) -> np.ndarray:
    """The records of `outside` (a mask) Splink pairs, at or above `threshold`, with one of
    `inside` (a mask): `splink_match.cross_pairs` on what Splink reads of each, from `fresh`
    (the new and changed records, prepared) or else from the last map. A record from the map
    is not marked a CRM contact, so a pair of two contacts may be scored too: the part may
    only grow by it."""
    is_fresh = np.zeros(len(inside), dtype=bool)
    fresh_nodes = fresh["node"].to_numpy(dtype=np.int64)
    is_fresh[fresh_nodes] = True
    sides = []
    for mask in (inside, outside):
        _write_nodes(con, "identity_side", np.flatnonzero(mask & ~is_fresh))
        kept = fetch_frame(
            con,
            f"select s.node, {', '.join(f'm.{c}' for c in SPLINK_COLUMNS)}, null as anchor "
            f"from identity_side as s join {IDENTITY_CLUSTERS.qualified} as m "
            "on m.source = s.source and m.source_record_id = s.source_record_id "
            "where m.splink_usable",
        )
        new = fresh[mask[fresh_nodes]][["node", *SPLINK_COLUMNS, "anchor"]]
        side = pd.concat([kept.astype(object), new.astype(object)], ignore_index=True)
        text = side["account_hint"].astype("string")  # as the map keeps it
        side["account_hint"] = text.astype(object).where(text.notna(), None)
        sides.append(side)
    pairs = cross_pairs(*sides, threshold, model, population)
    ends = np.concatenate([pairs[end].to_numpy(dtype=np.int64) for end in ("i", "j")])
    return np.unique(ends[outside[ends]])


def guard_hits(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, object]]:
    """The over-merge guard hits the run `run_id` logged (ops.identity_changes `detail`)."""
    if not table_exists(con, IDENTITY_CHANGES.schema, IDENTITY_CHANGES.name):
        return []
    rows = con.execute(
        f"select detail from {IDENTITY_CHANGES.qualified} "
        "where run_id = ? and change_type = 'over_merge_guard' order by detail",
        [run_id],
    ).fetchall()
    return [json.loads(row[0]) for row in rows]


def map_summary(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The whole map's counts for the run report (an incremental run resolved only a part)."""
    row = con.execute(
        "select count(*), count(distinct customer_id), "
        "count(*) filter (match_rule = 'no_identifier'), "
        "count(*) filter (is_phone_valid = false) "
        f"from {IDENTITY_CLUSTERS.qualified}"
    ).fetchone()
    assert row is not None
    largest = con.execute(
        f"select coalesce(max(n), 0) from (select count(*) as n from "
        f"{IDENTITY_CLUSTERS.qualified} group by customer_id)"
    ).fetchone()
    invalid_emails = con.execute(
        f"select count(*) from {RECORDS} where trim(email_raw) <> '' and is_email_valid is not true"
    ).fetchone()
    rules = fetch_frame(
        con,
        f"select match_rule, count(*) as n from {IDENTITY_CLUSTERS.qualified} "
        "group by match_rule order by n desc, match_rule",
    )
    return {
        "records": row[0],
        "customers": row[1],
        "largest_cluster": largest[0] if largest else 0,
        "no_identifier": row[2],
        "invalid_emails": invalid_emails[0] if invalid_emails else 0,
        "invalid_phones": row[3],
        "rules": dict(zip(rules["match_rule"].tolist(), rules["n"].tolist(), strict=True)),
    }
