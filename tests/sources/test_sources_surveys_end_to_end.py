"""Typeform and survey-CSV respondents reach identity, the facts and the metric marts.

The fixture (tests/fixtures/surveys) has six CRM contacts and eleven counted responses; every
expected value below is worked out by hand from the files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from survey_sources import SECRET, SECRET_ENV, survey_sources

from cxloop.build import run_dbt_build
from cxloop.config import load_config
from cxloop.flows.ingest import ingest as ingest_sources
from cxloop.identity import resolve_identities

ANA, BO, CY, DEE, FAY, HAL = (
    "0035g00000Ana01AAB", "0035g00000BoChnAAF", "0035g00000CyDiaAAF",
    "0035g00000DeeEkAAJ", "0035g00000FayOkAAJ", "0035g00000HalHxAAJ",
)  # fmt: skip
# survey record -> the CRM contact it must resolve to (None: a person of its own)
EXPECTED = {
    ("typeform", "a1n2a3l4i5m6a7t8o9k0e1n2a3l4i5m6"): ANA,  # hidden e-mail in other case
    ("typeform", "b0c1h2e3n4t5o6k7e8n9b0c1h2e3n4t5"): BO,
    ("typeform", "c1y2d3i4a5z6t7o8k9e0n1c2y3d4i5a6"): CY,  # from the Responses API page
    ("typeform", "d1e2e3t4o5k6e7n8d9e0e1t2o3k4e5n6"): DEE,
    ("typeform", "e1v2e3t4o5k6e7n8e9v0e1t2o3k4e5n6"): None,  # eve: in no CRM
    ("survey_csv", "APP_nps:r-100"): ANA,
    ("survey_csv", "APP_nps:r-101"): CY,  # by its 15-character Contact id
}
CSV_BY_EMAIL = {"ana.lima@example.com": ANA, "bo.chen@example.com": BO,
                "fay@example.com": FAY, "hal@example.com": HAL}  # fmt: skip


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> Path:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    folder = survey_sources(tmp_path)
    warehouse = tmp_path / "cx.duckdb"
    ingest_sources(folder, warehouse=warehouse, lake_dir=tmp_path / "lake")
    config = load_config(folder / "cxloop.yaml")
    skip_unit = ["--exclude-resource-type", "unit_test", "--indirect-selection", "cautious"]
    phase_1 = ["build", "--select", "+int_person_records__unioned", *skip_unit]
    run_dbt_build(phase_1, warehouse, tmp_path, config, "test-run")
    resolve_identities(warehouse, config.identity)
    marts = "+fct_survey_responses +mart_nps +mart_csat +mart_ces"
    run_dbt_build(["build", "--select", marts, *skip_unit], warehouse, tmp_path, config, "test-run")
    return warehouse


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_respondents_resolve_to_their_crm_contacts_and_metrics_are_hand_worked(
    warehouse: Path,
) -> None:
    customer_of = {
        (source, record): customer
        for source, record, customer in query(
            warehouse,
            "select source, source_record_id, customer_id "
            "from intermediate.int_customers__resolved",
        )
    }
    contact_customer = {r: c for (s, r), c in customer_of.items() if s == "salesforce"}
    assert len(set(contact_customer.values())) == 6  # six people in the CRM
    facts = query(
        warehouse,
        "select source, response_id, customer_id, respondent_email, nps_score, csat_score, "
        "ces_score from marts.fct_survey_responses",
    )
    assert len(facts) == 11  # 5 Typeform (Ana once: webhook + API pull) + 4 + 2 from CSVs
    for source, response_id, customer, email, *_ in facts:
        contact = EXPECTED.get((source, response_id)) or CSV_BY_EMAIL.get(
            (email or "").strip().lower()
        )
        if contact is None:
            assert (source, response_id) in EXPECTED, response_id
            assert customer not in contact_customer.values(), response_id
        else:
            assert customer == contact_customer[contact], (source, response_id)
    # NPS 9 3 8 10 7 (Typeform) 10 6 (in-app CSV): 3 promoters, 2 detractors of 7
    # CSAT 5 2 4 (onboarding; one N/A left out): 2 of 3 satisfied
    # CES 6 2 4 7 (Typeform) 6 3 5 (onboarding): mean 33/7, 4 of 7 easy
    [(promoters, detractors, nps_n)] = query(
        warehouse,
        "select sum(promoters), sum(detractors), sum(responses) from marts.mart_nps "
        "where segment_type = 'all'",
    )
    assert (promoters, detractors, nps_n) == (3, 2, 7)
    assert query(
        warehouse,
        "select sum(satisfied), sum(responses) from marts.mart_csat where segment_type = 'all'",
    ) == [(2, 3)]
    [(easy, ces_n, ces_sum)] = query(
        warehouse,
        "select sum(easy), sum(responses), sum(ces_mean * responses) from marts.mart_ces "
        "where segment_type = 'all'",
    )
    assert (easy, ces_n) == (4, 7)
    assert ces_sum == pytest.approx(33, abs=0.05)  # ces_mean is rounded to 2 places per day
    by_source = query(
        warehouse,
        "select source, count(*) from marts.fct_survey_responses group by 1 order by 1",
    )
    assert by_source == [("survey_csv", 6), ("typeform", 5)]
