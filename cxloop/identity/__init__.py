"""Identity resolution (phase 2 of the build): person records -> stable customer ids.

`normalize` (name keys, phones, the records' comparison columns), `rules` (deterministic
pairs), `splink_match` (Splink 5), `clusters` (guarded clustering), `stable_ids` (ids kept
across runs, the change log), `store` (warehouse tables), `resolve` (the whole step),
`runs` (whether it must run again), `evaluate` (pairwise metrics). No Prefect: the build
flow wraps `resolve_identities` as a task; its summary goes to the stdlib logger
`cxloop.identity`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cxloop.config import IdentityConfig
from cxloop.identity.resolve import resolve_warehouse
from cxloop.identity.runs import consumed_state, current_state, settings_fingerprint
from cxloop.identity.store import ensure_identity_tables
from cxloop.warehouse import writer

__all__ = ["ensure_identity_tables", "resolve_identities"]

logger = logging.getLogger("cxloop.identity")


def resolve_identities(
    warehouse: Path,
    config: IdentityConfig | None = None,
    full_refresh: bool = False,
    build_id: str | None = None,
    reuse: bool = False,
    retrain: bool = False,
) -> dict[str, object]:
    """Resolve person records to customers and write intermediate.identity_clusters.

    With `reuse`, skip when the records, settings and map are those of the run the last
    successful build consumed (cxloop.identity.runs). The report says whether the records and
    the map differ from that run's (`records_changed`, `clusters_changed`; both True when no
    such run is known): the build prunes what only an unchanged one reaches.
    """
    cfg = config or IdentityConfig()
    settings = settings_fingerprint(cfg.match_threshold, cfg.max_cluster_size)
    with writer(warehouse) as con:
        consumed = consumed_state(con)
        now = current_state(con, settings) if reuse and not full_refresh else None
    if consumed is not None and now == consumed:
        logger.info("identity: records, settings and map unchanged since the last build: skipped")
        return {"skipped": True, "records_changed": False, "clusters_changed": False}
    report = resolve_warehouse(
        warehouse,
        threshold=cfg.match_threshold,
        max_cluster_size=cfg.max_cluster_size,
        full_refresh=full_refresh,
        build_id=build_id,
        retrain=retrain,
    )
    state: dict[str, str] = report["state"]  # type: ignore[assignment]
    report["skipped"] = False
    report["records_changed"] = consumed is None or state["records"] != consumed.records
    report["clusters_changed"] = consumed is None or state["clusters"] != consumed.clusters
    logger.info(
        "identity: %s records -> %s customers (largest %s, no identifier %s, guard hits %s)",
        report["records"],
        report["customers"],
        report["largest_cluster"],
        report["no_identifier"],
        len(report["guard_hits"]),  # type: ignore[arg-type]
    )
    logger.info(
        "identity: resolved %s; seconds per stage %s", report["resolved"], report["timings"]
    )
    for hit in report["guard_hits"]:  # type: ignore[union-attr]
        logger.warning("identity over-merge guard: cluster of %s not merged: %s", hit["size"], hit)
    return report
