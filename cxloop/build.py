"""The build stage: dbt in two phases around identity resolution, every test recorded.

Phase 1 builds what identity reads (`+int_person_records__unioned`); the identity step writes
`intermediate.identity_clusters`; phase 3 builds everything else (each node is built once).
Each phase is one dbt invocation (`cxloop.dbt.invoke_dbt`), its tests kept as rows of
ops.quality_results. No Prefect here: the `build` flow makes each step a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxloop.config import ProjectConfig
from cxloop.dbt import DbtRun, dbt_vars, invoke_dbt, raise_for_failure
from cxloop.quality import record_dbt_results
from cxloop.quality.gate import built_datasets
from cxloop.reached import selection
from cxloop.tables import ensure_warehouse
from cxloop.warehouse import writer

# Identity resolution runs between two dbt phases (docs/identity.md).
IDENTITY_PHASE_1 = "+int_person_records__unioned"
# Unit tests run in development and CI (tests/dbt), not against production data: dbt
# introspects the real source tables to build their fixtures (dbt's own recommendation).
BUILD = ("build", "--exclude-resource-type", "unit_test")
# Everything downstream of ml.churn_scores: rebuilt after scoring (it follows the build).
SCORES_DOWNSTREAM = "source:ml.churn_scores+"
# What the voice and score stages write: the pipeline's build leaves what reads them to the
# build after those stages (`cxloop.reached.deferred_nodes`), so no node is built twice in one run.
VOICE_AND_SCORES = ("ml.churn_scores", "ml.text_sentiment", "ml.text_topics")
# Everything that reads the playbook ledger or the callback tables: rebuilt when the last
# run's sends, a callback command, a Zendesk closure or an escalation changed them.
LEDGER_DOWNSTREAM = (
    "source:ops.playbook_actions+ source:ops.callback_tasks+ source:ops.callback_events+"
)


def prepare_warehouse(warehouse: Path) -> list[str]:
    """Every schema and Python-written table exists (empty if never written) before dbt reads."""
    with writer(warehouse) as con:
        return ensure_warehouse(con)


def phase_args(
    phase: str,
    select: str | None = None,
    full_refresh: bool = False,
    exclude: Sequence[str] = (),
) -> list[str]:
    """dbt arguments of a build phase: 'identity' (phase 1), 'rest' (phase 3: all phase 1 did
    not build, less the `exclude` nodes), 'all' (everything) or 'select'; `full_refresh`
    rebuilds incremental models from all of raw (cxloop.incremental)."""
    return [*_phase_args(phase, select, exclude), *(["--full-refresh"] if full_refresh else [])]


def reached_args(
    names: Sequence[str], full_refresh: bool = False, manifest: Any | None = None
) -> list[str]:
    """dbt arguments that build exactly these nodes (cxloop.reached). With the parsed
    `manifest`, as few criteria as select them (`reached.selection`); else each node named."""
    refresh = ["--full-refresh"] if full_refresh else []
    compact = selection(manifest, names) if manifest is not None else None
    if compact is None:
        return [*BUILD, "--select", *names, "--indirect-selection", "empty", *refresh]
    chosen, excluded = compact
    exclude = ["--exclude", *excluded] if excluded else []
    # eager named: dbt would take DBT_INDIRECT_SELECTION from the environment otherwise
    return [*BUILD, "--select", *chosen, *exclude, "--indirect-selection", "eager", *refresh]


def _phase_args(phase: str, select: str | None, exclude: Sequence[str] = ()) -> list[str]:
    if phase == "identity":
        # only tests whose parents are all built (cautious), e.g. not tests that join staging
        # to the marts
        return [*BUILD, "--select", IDENTITY_PHASE_1, "--indirect-selection", "cautious"]
    if phase == "select":
        if not select:
            raise ValueError("phase 'select' needs a selection")
        return [*BUILD, "--select", select]
    if phase == "rest":
        # phase 3 builds everything phase 1 did not: with cautious indirect selection the
        # exclusion drops only the tests whose parents are all phase 1's (the tests phase 1
        # ran), so the tests that span both phases (identity-map count parity) still run here.
        # Phase 1 and phase 3 together are exactly the nodes of a plain `dbt build`.
        # The `exclude` nodes name their tests (deferred_nodes): none runs before its parent.
        return [
            *BUILD, "--exclude", IDENTITY_PHASE_1, *exclude, "--indirect-selection", "cautious"
        ]  # fmt: skip
    return list(BUILD)


def run_dbt_build(
    args: list[str], warehouse: Path, home: Path, config: ProjectConfig | None, run_id: str
) -> DbtRun:
    """One dbt build invocation on an ensured warehouse: tests recorded, then BuildError if
    anything failed."""
    prepare_warehouse(warehouse)
    run = invoke_dbt(args, home=home, vars_=dbt_vars(config), warehouse=warehouse)
    record_dbt_results(warehouse, run, run_id)
    raise_for_failure(run)
    return run


def build_report(runs: list[DbtRun], identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """One report from the build's dbt invocations: counts added, failures concatenated."""
    counts: dict[str, int] = {}
    for run in runs:
        for status, n in run.counts.items():
            counts[status] = counts.get(status, 0) + n
    report: dict[str, Any] = {
        "counts": counts,
        "failures": [f for run in runs for f in run.failures],
        "success": all(run.success for run in runs),
        "seconds": round(sum(run.seconds for run in runs), 2),
        "datasets": built_datasets(runs),
    }
    if identity is not None:
        report["identity"] = identity
    return report
