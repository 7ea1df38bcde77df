"""Typeform and survey-CSV respondents resolve by the same rules as Qualtrics respondents."""

from __future__ import annotations

import pytest
from identity_records import frame, record

from cxloop.identity.resolve import resolve


@pytest.mark.parametrize("survey_source", ["qualtrics", "typeform", "survey_csv"])
def test_a_survey_respondent_joins_by_email_contact_id_and_ticket_requester(
    survey_source: str,
) -> None:
    records = frame(
        [
            record("salesforce", "0035g00000Ana01AAB", email_raw="ana.lima@example.com",
                   first_name="Ana", last_name="Lima"),
            record("salesforce", "0035g00000CyDiaAAF", email_raw="cy@example.com",
                   first_name="Cy", last_name="Diaz"),
            record("zendesk", "361000000042", email_raw="bo@helpdesk-only.example",
                   first_name="Bo", last_name="Chen"),
            # a hidden-field e-mail in another case; a 15-character Contact id; a ticket's
            # requester; an e-mail nobody else has
            record(survey_source, "s-email", email_raw=" Ana.Lima@Example.com"),
            record(survey_source, "s-contact", explicit_contact_id="0035g00000CyDia"),
            record(survey_source, "s-ticket", explicit_zendesk_user_id=361000000042),
            record(survey_source, "s-alone", email_raw="eve@personal.example"),
        ]
    )  # fmt: skip
    result = resolve(records, {}, threshold=0.9, max_cluster_size=25).records
    rows = {row.record_key: row for row in result.itertuples(index=False)}
    customer = {key: row.customer_id for key, row in rows.items()}
    assert customer[f"{survey_source}:s-email"] == customer["salesforce:0035g00000Ana01AAB"]
    assert rows[f"{survey_source}:s-email"].match_rule == "email"
    assert customer[f"{survey_source}:s-contact"] == customer["salesforce:0035g00000CyDiaAAF"]
    assert rows[f"{survey_source}:s-contact"].match_rule == "external_id"
    assert customer[f"{survey_source}:s-ticket"] == customer["zendesk:361000000042"]
    assert rows[f"{survey_source}:s-ticket"].match_rule == "ticket_requester"
    assert customer[f"{survey_source}:s-alone"] not in {
        c for k, c in customer.items() if k != f"{survey_source}:s-alone"
    }
