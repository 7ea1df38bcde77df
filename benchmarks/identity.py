"""Identity-resolution benchmark: time the identity step alone at a demo scale.

Usage: python -m benchmarks.identity --scale 10 [--seed 42] [--home DIR] [--sources DIR]

Preparation, not timed and done once per --home: generate demo sources (into
<home>/sources unless --sources names existing ones), ingest them and build dbt phase 1
(`+int_person_records__unioned`), in a child process so that its memory is not counted.
Without --home everything lives in a temporary folder and is prepared again.

Timed: the identity step as the build runs it (`resolve_warehouse`), first with no previous
map (the identity tables are dropped before, so every run of the benchmark measures the same
first resolution), then once more with that map (the nightly re-run, which must change no
id). The first run is scored against the generator's truth: pairwise precision, recall and
F1 of intermediate.identity_clusters, as `cxloop identity evaluate --truth DIR/_truth`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKER = "identity-bench.json"  # in --home: what it was prepared from


def prepare(home: Path, scale: float, seed: int, sources: Path | None) -> Path:
    """Sources, raw layer and dbt phase 1 in `home` (once); returns the sources folder."""
    marker = home / MARKER
    wanted = {"scale": scale, "seed": seed, "sources": str(sources or home / "sources")}
    if marker.is_file():
        found = json.loads(marker.read_text(encoding="utf-8"))
        if (found["scale"], found["seed"]) != (scale, seed) or (
            sources is not None and Path(found["sources"]) != sources
        ):
            raise SystemExit(
                f"{marker}: this home was prepared for {found}, not {wanted}; "
                "use another --home or delete it"
            )
        return Path(found["sources"])
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # a child process: its peak memory is not the identity step's
        [sys.executable, "-m", "benchmarks.identity", "--prepare-only", "--home", str(home),
         "--scale", str(scale), "--seed", str(seed), "--sources", wanted["sources"]],
        check=True,
    )  # fmt: skip
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return Path(wanted["sources"])


def prepare_here(home: Path, scale: float, seed: int, sources: Path) -> None:
    """The preparation itself (the child process): generate, ingest, dbt phase 1."""
    os.environ["CXLOOP_HOME"] = str(home)
    from cxloop.build import phase_args, prepare_warehouse, run_dbt_build
    from cxloop.config import load_config
    from cxloop.demo.generator import generate
    from cxloop.settings import Settings
    from cxloop.sources.ingest import (
        build_report,
        entity_counts,
        ingest_entity,
        plan_ingest,
        resolve_run,
    )

    if not (sources / "cxloop.yaml").is_file():
        generate(sources, scale=scale, seed=seed)
    paths = Settings().paths.ensure()
    config = load_config(sources / "cxloop.yaml")
    run = resolve_run(paths, sources, sources / "cxloop.yaml", paths.warehouse)
    build_report([(job.key, entity_counts(ingest_entity(run, job))) for job in plan_ingest(run)])
    # dbt phase 1 as the build runs it (no Prefect): the benchmark times the identity step only
    prepare_warehouse(paths.warehouse)
    run_dbt_build(phase_args("identity"), paths.warehouse, paths.home, config, "bench-identity")


def bench_identity(
    scale: float, seed: int = 42, sources: Path | None = None, home: Path | None = None
) -> dict[str, object]:
    """Seconds to resolve identities at `scale` (first run and re-run), with the stage
    breakdown and pairwise precision/recall/F1 of the first run."""
    with tempfile.TemporaryDirectory(prefix="cxbench-identity-") as tmp:
        home = (home or Path(tmp) / "home").resolve()
        sources = prepare(home, scale, seed, sources.resolve() if sources else None)
        os.environ["CXLOOP_HOME"] = str(home)
        import duckdb

        from cxloop.config import load_config
        from cxloop.identity.evaluate import pairwise_metrics, read_truth
        from cxloop.identity.resolve import resolve_warehouse
        from cxloop.settings import Settings
        from cxloop.warehouse import reader

        warehouse = Settings().paths.warehouse
        identity = load_config(sources / "cxloop.yaml").identity
        con = duckdb.connect(str(warehouse))
        con.execute("drop table if exists intermediate.identity_clusters")
        con.execute("drop table if exists ops.identity_changes")
        con.close()

        def timed() -> tuple[float, dict[str, object]]:
            t0 = time.perf_counter()
            report = resolve_warehouse(
                warehouse,
                threshold=identity.match_threshold,
                max_cluster_size=identity.max_cluster_size,
            )
            return time.perf_counter() - t0, report

        first_s, first = timed()
        with reader(warehouse) as con:
            mapped = con.execute(
                "select source, source_record_id, customer_id from intermediate.identity_clusters"
            ).df()
        metrics = pairwise_metrics(mapped, read_truth(sources / "_truth"))
        rerun_s, rerun = timed()
    return {
        "scale": scale,
        "records": first["records"],
        "identity_s": round(first_s, 1),
        "stages_s": first["timings"],
        "splink_pairs": first["splink_pairs"],
        "guard_hits": len(first["guard_hits"]),  # type: ignore[arg-type]
        "rerun_s": round(rerun_s, 1),
        "rerun_stages_s": rerun["timings"],
        "rerun_id_changes": sum(rerun["changes"].values()),  # type: ignore[union-attr]
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "f1": metrics["f1"],
        "clusters": metrics["clusters"],
        "true_persons": metrics["true_persons"],
        "largest_cluster": metrics["largest_cluster"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    """CLI entry: print the benchmark result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sources", type=Path, help="existing demo sources (skip generation)")
    parser.add_argument("--home", type=Path, help="CXLOOP_HOME to prepare once and keep")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare_only:
        prepare_here(args.home, args.scale, args.seed, args.sources)
        return
    print(json.dumps(bench_identity(args.scale, args.seed, args.sources, args.home)))


if __name__ == "__main__":
    main()
