"""Identity-resolution benchmark: time the identity step alone at a demo scale.

Usage: python -m benchmarks.identity --scale 10 [--sources DIR] [--home DIR]
Generates demo sources (unless --sources names existing ones), ingests them and builds dbt
phase 1 (not timed), then times the identity step and scores it against the truth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def bench_identity(
    scale: float, seed: int = 42, sources: Path | None = None, home: Path | None = None
) -> dict[str, object]:
    """Seconds to resolve identities at `scale`, with pairwise precision/recall/F1."""
    with tempfile.TemporaryDirectory(prefix="cxbench-identity-") as tmp:
        home = home or Path(tmp) / "home"  # --home keeps sources beside it
        os.environ["CXLOOP_HOME"] = str(home)
        from dbt.cli.main import dbtRunner

        from flows.build import DBT_PROJECT_DIR, IDENTITY_PHASE_1, dbt_vars
        from flows.config import IdentityConfig, load_config
        from flows.demo.generator import generate
        from flows.identity.evaluate import pairwise_metrics, read_truth
        from flows.identity.store import resolve_warehouse
        from flows.ingest import ingest_sources
        from flows.settings import Settings
        from flows.warehouse import reader

        if sources is None:
            sources = (home.parent if home else Path(tmp)) / "sources"
            generate(sources, scale=scale, seed=seed)
        paths = Settings().paths.ensure()
        config = load_config(sources / "cxloop.yaml")
        if not paths.warehouse.exists():
            ingest_sources(sources, sources / "cxloop.yaml", paths.warehouse)
            os.environ["CXLOOP_WAREHOUSE"] = str(paths.warehouse)
            # plain dbt (no Prefect server): the benchmark times the identity step only
            dbtRunner().invoke(
                ["build", "--exclude-resource-type", "unit_test", "--select", IDENTITY_PHASE_1,
                 "--indirect-selection", "cautious", "--project-dir", str(DBT_PROJECT_DIR),
                 "--profiles-dir", str(DBT_PROJECT_DIR), "--vars", json.dumps(dbt_vars(config))]
            )  # fmt: skip
        identity: IdentityConfig = config.identity
        t0 = time.perf_counter()
        report = resolve_warehouse(
            paths.warehouse,
            threshold=identity.match_threshold,
            max_cluster_size=identity.max_cluster_size,
        )
        seconds = time.perf_counter() - t0
        with reader(paths.warehouse) as con:
            mapped = con.execute(
                "select source, source_record_id, customer_id from intermediate.identity_clusters"
            ).df()
        metrics = pairwise_metrics(mapped, read_truth(sources / "_truth"))
    return {
        "scale": scale,
        "records": report["records"],
        "identity_s": round(seconds, 1),
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "f1": metrics["f1"],
        "largest_cluster": metrics["largest_cluster"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    """CLI entry: print the benchmark result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sources", type=Path, help="existing demo sources (skip generation)")
    parser.add_argument("--home", type=Path, help="CXLOOP_HOME to keep (default: temporary)")
    args = parser.parse_args()
    print(bench_identity(args.scale, args.seed, args.sources, args.home))


if __name__ == "__main__":
    main()
