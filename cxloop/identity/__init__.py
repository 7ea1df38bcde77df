"""Identity resolution (phase 2 of the build): person records -> stable customer ids.

`normalize` (name keys, phones, the records' comparison columns), `rules` (deterministic
pairs), `splink_match` (Splink 5), `clusters` (guarded clustering), `stable_ids` (ids kept
across runs, the change log), `store` (warehouse tables), `resolve` (the whole step),
`evaluate` (pairwise metrics). No Prefect: the build flow wraps `resolve_identities` as a
task; its summary goes to the stdlib logger `cxloop.identity`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cxloop.config import IdentityConfig
from cxloop.identity.resolve import resolve_warehouse
from cxloop.identity.store import ensure_identity_tables

__all__ = ["ensure_identity_tables", "resolve_identities"]

logger = logging.getLogger("cxloop.identity")


def resolve_identities(
    warehouse: Path, config: IdentityConfig | None = None, full_refresh: bool = False
) -> dict[str, object]:
    """Resolve person records to customers and write intermediate.identity_clusters."""
    cfg = config or IdentityConfig()
    report = resolve_warehouse(
        warehouse,
        threshold=cfg.match_threshold,
        max_cluster_size=cfg.max_cluster_size,
        full_refresh=full_refresh,
    )
    logger.info(
        "identity: %s records -> %s customers (largest %s, no identifier %s, guard hits %s)",
        report["records"],
        report["customers"],
        report["largest_cluster"],
        report["no_identifier"],
        len(report["guard_hits"]),  # type: ignore[arg-type]
    )
    logger.info("identity: seconds per stage %s", report["timings"])
    for hit in report["guard_hits"]:  # type: ignore[union-attr]
        logger.warning("identity over-merge guard: cluster of %s not merged: %s", hit["size"], hit)
    return report
