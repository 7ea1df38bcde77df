"""The suites on hand-made frames: good data passes, each kind of bad data fails as it should."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import pytest

from cxloop.expectations.registry import SPECS, UnknownDatasetError, spec_for, suite_for
from cxloop.expectations.runner import SuiteResult, validate

Frames = Callable[[str], pd.DataFrame]


def failed(result: SuiteResult, severity: str | None = None) -> set[str]:
    return {r.label for r in result.failures(severity)}


@pytest.mark.parametrize("dataset", sorted(SPECS))
def test_good_frame_passes(dataset: str, good_frames: Frames) -> None:
    frame = good_frames(dataset)
    result = validate(dataset, frame)
    assert result.success, failed(result)
    assert not result.critical_failed
    assert result.row_count == len(frame)
    assert all(r.element_count in (None, len(frame)) for r in result.results)


def test_every_expectation_carries_a_severity_and_marts_have_critical_keys() -> None:
    for dataset in SPECS:
        suite = suite_for(dataset)
        severities = {e.meta["severity"] for e in suite.expectations}
        assert severities <= {"critical", "warning"}, dataset
        assert all(e.meta["severity"] == e.severity.value for e in suite.expectations)
    key_checks = {
        e.column
        for e in suite_for("marts.fct_survey_responses").expectations
        if e.expectation_type == "expect_column_values_to_be_unique"
    }
    assert key_checks == {"response_id"}


def test_duplicate_key_fails_critically(good_frames: Frames) -> None:
    frame = good_frames("marts.fct_survey_responses")
    frame.loc[2, "response_id"] = frame.loc[0, "response_id"]
    result = validate("marts.fct_survey_responses", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_column_values_to_be_unique(response_id)"}
    (dup,) = result.failures()
    assert dup.unexpected_count == 2
    assert json.loads(dup.unexpected_sample) == ["R_1a2B3c4D5e6F7g8"] * 2


def test_nps_out_of_range_fails_critically(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_nps")
    frame.loc[1, "nps"] = 140.0
    result = validate("marts.mart_nps", frame)
    assert result.critical_failed
    assert "expect_column_values_to_be_between(nps)" in failed(result, "critical")
    between = next(r for r in result.failures() if r.column == "nps")
    assert json.loads(between.unexpected_sample) == [140.0]
    # the arithmetic rule also sees that 140 is not 100 * (1 - 2) / 3
    assert "expect_column_values_to_be_in_set(_check__nps_matches_counts)" in failed(result)


def test_null_id_fails_critically(good_frames: Frames) -> None:
    frame = good_frames("marts.dim_customers")
    frame.loc[1, "customer_id"] = None
    result = validate("marts.dim_customers", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_column_values_to_not_be_null(customer_id)"}


def test_counts_that_do_not_add_up_fail_with_the_offending_row(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_nps")
    frame.loc[0, "passives"] = 4  # 5 + 4 + 2 != 10
    result = validate("marts.mart_nps", frame)
    assert result.critical_failed
    rule = next(r for r in result.failures() if r.column == "_check__responses_add_up")
    assert rule.description == "responses = promoters + passives + detractors"
    assert json.loads(rule.unexpected_sample) == [
        {"responses": 10, "promoters": 5, "passives": 4, "detractors": 2}
    ]


def test_nps_category_must_match_score(good_frames: Frames) -> None:
    frame = good_frames("marts.fct_survey_responses")
    frame.loc[0, "nps_category"] = "passive"  # score 6 is a detractor
    result = validate("marts.fct_survey_responses", frame)
    assert failed(result, "critical") == {
        "expect_column_values_to_be_in_set(_check__nps_category_matches_score)"
    }


def test_missing_contract_column_fails_and_its_checks_are_not_applicable(
    good_frames: Frames,
) -> None:
    frame = good_frames("ml.churn_scores").drop(columns=["churn_probability"])
    result = validate("ml.churn_scores", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_table_columns_to_match_set(table)"}
    (columns,) = result.failures()
    assert columns.details["details"]["mismatched"]["missing"] == ["churn_probability"]
    assert "churn_probability between 0 and 1" in result.not_applicable


def test_warning_only_failure_does_not_set_critical_failed(good_frames: Frames) -> None:
    frame = good_frames("marts.dim_customers")
    frame.loc[0, "email"] = "not-an-email"
    frame.loc[1, "phone_e164"] = "0501234567"
    result = validate("marts.dim_customers", frame)
    assert not result.success
    assert not result.critical_failed
    assert failed(result, "warning") == {
        "expect_column_values_to_match_regex(email)",
        "expect_column_values_to_match_regex(phone_e164)",
    }


MALFORMED: dict[str, list[tuple[str, str | None, str]]] = {
    # dataset: [(column, malformed value (each on its own row), severity of the failure)]
    "raw.salesforce__account": [
        ("Id", "001Dp00000Ulaz-4A", "critical"),  # not 15/18 alphanumerics
        ("CreatedDate", "27/03/2024 22:52", "warning"),
    ],
    "raw.salesforce__contact": [("Email", "lina(at)example.com", "warning")],
    "raw.salesforce__opportunity": [
        ("Amount", "12,500.00", "warning"),
        ("CloseDate", "30.06.2024", "warning"),
    ],
    "raw.salesforce__user": [("IsActive", "yes", "warning")],
    "raw.zendesk__tickets": [
        ("id", "10x1", "critical"),
        ("status", "escalated", "warning"),
        ("tags", "refund,vip", "warning"),
    ],
    "raw.zendesk__users": [("role", "superuser", "warning")],
    "raw.zendesk__ticket_events": [("ticket_id", None, "critical")],
    "raw.zendesk__satisfaction_ratings": [("score", "great", "critical")],
    "raw.qualtrics__responses": [
        ("ResponseId", "R-1a2B3c4D5e6F7g8", "critical"),
        ("nps", "11", "critical"),
        ("StartDate", "2024-05-02T10:01:07Z", "warning"),
    ],
}


@pytest.mark.parametrize("dataset", sorted(MALFORMED))
def test_raw_suites_reject_malformed_values(dataset: str, good_frames: Frames) -> None:
    good = good_frames(dataset)
    cases = MALFORMED[dataset]
    frame = pd.concat([good.iloc[[0]]] * len(cases), ignore_index=True)
    frame["_content_hash"] = [f"{i:064x}" for i in range(len(cases))]
    frame["_row_number"] = range(1, len(cases) + 1)
    for row, (column, value, _) in enumerate(cases):
        frame.loc[row, column] = value
    result = validate(dataset, frame)
    by_column: dict[str, set[str]] = {}
    for failure in result.failures():
        by_column.setdefault(failure.column, set()).add(failure.severity)
    expected = {column: severity for column, _, severity in cases}
    assert set(by_column) == set(expected)
    for column, severity in expected.items():  # the worst failure on the column is as expected
        assert ("critical" if "critical" in by_column[column] else "warning") == severity
    assert result.critical_failed is ("critical" in expected.values())


def test_raw_metadata_duplicate_hash_and_wrong_source_fail(good_frames: Frames) -> None:
    frame = good_frames("raw.salesforce__contact")
    frame.loc[1, "_content_hash"] = frame.loc[0, "_content_hash"]
    frame.loc[0, "_source"] = "hubspot"
    result = validate("raw.salesforce__contact", frame)
    assert failed(result, "critical") == {
        "expect_column_values_to_be_unique(_content_hash)",
        "expect_column_values_to_be_in_set(_source)",
    }


def test_absent_optional_raw_column_is_not_applicable(good_frames: Frames) -> None:
    frame = good_frames("raw.salesforce__contact").drop(columns=["Preferred_Language__c"])
    result = validate("raw.salesforce__contact", frame)
    assert result.success
    assert any("Preferred_Language__c" in d for d in result.not_applicable)


def test_unknown_dataset_is_named() -> None:
    with pytest.raises(UnknownDatasetError, match="no expectation suite for 'marts.nope'"):
        spec_for("marts.nope")


def test_callback_counts_that_do_not_nest_fail(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_callbacks")
    frame.loc[1, "closed_within_sla"] = 1  # within SLA but never closed
    result = validate("marts.mart_callbacks", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_column_values_to_be_in_set(_check__callback_counts_nest)"}


def test_clv_at_risk_that_does_not_add_up_fails(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_clv_at_risk")
    frame.loc[2, "clv_at_risk_amount"] = 5000.0  # the CSM's 1 scored account: 4530.18
    result = validate("marts.mart_clv_at_risk", frame)
    assert "at_risk_plus_predicted_is_retained" in " ".join(failed(result))
    frame.loc[2, "clv_at_risk_amount"] = 4530.18
    frame.loc[0, "clv_at_risk_amount"] = 1.0  # 'all' has an unscored account: not compared
    assert validate("marts.mart_clv_at_risk", frame).success


def test_an_identity_map_row_whose_probability_does_not_fit_its_rule_fails(
    good_frames: Frames,
) -> None:
    frame = good_frames("marts.customer_identity_map")
    frame.loc[1, "match_probability"] = 0.95  # an external id is a rule: 1.0
    frame.loc[6, "match_probability"] = 0.5  # a record alone has none
    result = validate("marts.customer_identity_map", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_column_values_to_be_in_set(_check__probability_fits_rule)"}
    frame = good_frames("marts.customer_identity_map")
    frame.loc[0, "identity_record_id"] = "salesforce:0038d00000AnnaS"  # not its record
    assert failed(validate("marts.customer_identity_map", frame)) == {
        "expect_column_values_to_be_in_set(_check__record_id_is_source_and_id)"
    }


def test_a_touchpoint_dated_another_day_or_without_its_customer_is_named(
    good_frames: Frames,
) -> None:
    frame = good_frames("marts.fct_touchpoints")
    frame.loc[1, "touched_date"] = pd.Timestamp("2024-06-04")  # 23:59:59 on the 3rd
    frame.loc[3, "customer_id"] = None  # a survey answer belongs to someone
    result = validate("marts.fct_touchpoints", frame)
    assert failed(result) == {
        "expect_column_values_to_be_in_set(_check__touched_date_is_its_day)",
        "expect_column_values_to_be_in_set(_check__person_touchpoint_has_customer)",
    }
    by_check = {r.column: r for r in result.results if not r.success}
    assert by_check["_check__touched_date_is_its_day"].severity == "critical"
    assert by_check["_check__person_touchpoint_has_customer"].severity == "warning"


def test_loop_closure_counts_that_do_not_nest_fail(good_frames: Frames) -> None:
    frame = good_frames("marts.mart_loop_closure")
    frame.loc[0, "loops_closed"] = 7  # more delivered than followed up (6)
    frame.loc[0, "loop_closure_rate"] = 0.7
    result = validate("marts.mart_loop_closure", frame)
    assert result.critical_failed
    assert failed(result) == {"expect_column_values_to_be_in_set(_check__loop_counts_nest)"}
    frame = good_frames("marts.mart_loop_closure")
    frame.loc[0, "loop_closure_rate"] = 0.6  # 4 of 10 detractors: 0.4
    assert failed(validate("marts.mart_loop_closure", frame)) == {
        "expect_column_values_to_be_in_set(_check__loop_counts_nest)"
    }
