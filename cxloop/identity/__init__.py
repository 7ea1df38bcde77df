"""Identity resolution (phase 2 of the build): person records -> stable customer ids.

`normalize` (name keys, phones), `resolve` (rules, Splink, guarded clustering, stable ids),
`store` (warehouse tables), `evaluate` (pairwise metrics), and the Prefect task below.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from cxloop.config import IdentityConfig
from cxloop.identity.store import ensure_identity_tables, resolve_warehouse

__all__ = ["ensure_identity_tables", "resolve_identities"]


@task(name="resolve-identities")
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
    logger = get_run_logger()
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
