"""The quality gate's state: GE suites per dataset family (`suites`), dbt test results
(`dbt_results`) and source freshness (`freshness`), all recorded as rows of ops.quality_results
(`results`). The `check` and `build` flows drive these; nothing here imports Prefect.
"""

from cxloop.quality.dbt_results import record_dbt_results
from cxloop.quality.freshness import (
    SourceFreshness,
    StaleSourcesError,
    check_freshness,
    enforce_freshness,
)
from cxloop.quality.suites import (
    CheckReport,
    FamilyOutcome,
    QualityGateFailed,
    check_family,
    docs_index,
    enforce_gate,
    families_for,
    record_results,
    render_docs,
    require_warehouse,
    result_rows,
)

__all__ = [
    "CheckReport",
    "FamilyOutcome",
    "QualityGateFailed",
    "SourceFreshness",
    "StaleSourcesError",
    "check_family",
    "check_freshness",
    "docs_index",
    "enforce_freshness",
    "enforce_gate",
    "families_for",
    "record_dbt_results",
    "record_results",
    "render_docs",
    "require_warehouse",
    "result_rows",
]
