"""Company A: a hand-written export set, ingested and built once for every test in this folder.

The exports (`tests/fixtures/sources/company_a/`) were written by hand from the vendors'
documented formats (`shared/reference/source-formats.md`), not by the demo generator; the
expected values live in the test modules, worked out by hand.
"""

from __future__ import annotations

import pytest
from company_a_build import COMPANY_A, BuiltCompany


@pytest.fixture(scope="package")
def company_a(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> BuiltCompany:
    """Company A ingested and built (dbt phase 1, identity, dbt phase 3) in a fresh home.

    CXLOOP_HOME points at that home only while it is built: the tests read the warehouse by
    its path, and the tests after them see the environment they had.
    """
    from cxloop.flows.build import build
    from cxloop.flows.ingest import ingest as ingest_sources
    from cxloop.settings import Settings

    home = tmp_path_factory.mktemp("company_a_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CXLOOP_HOME", str(home))
        patch.delenv("CXLOOP_CONFIG", raising=False)
        patch.delenv("CXLOOP_WAREHOUSE", raising=False)  # run_dbt sets it; restored after
        paths = Settings().paths.ensure()
        ingest_report = ingest_sources(COMPANY_A)
        build_report = build(config_path=str(COMPANY_A / "cxloop.yaml"))
    assert build_report["success"], build_report["failures"]
    return BuiltCompany(home, paths.warehouse, ingest_report, build_report)
