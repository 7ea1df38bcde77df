"""Hand-made frames in the documented formats: one good frame per dataset."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date

import pandas as pd
import pytest

LOADED_AT = pd.Timestamp("2024-06-01 10:00:00")


def landing(source: str, entity: str, rows: list[dict[str, str | None]]) -> pd.DataFrame:
    """Source rows (all text) plus the landing metadata of docs/architecture.md."""
    frame = pd.DataFrame(rows)
    frame["_batch_id"] = f"{source}-{entity}-0123456789ab"
    frame["_loaded_at"] = LOADED_AT
    frame["_source"] = source
    frame["_source_file"] = f"{source}/{entity}.csv"
    frame["_row_number"] = range(1, len(rows) + 1)
    frame["_content_hash"] = [
        hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest() for r in rows
    ]
    return frame


def raw_frames() -> dict[str, pd.DataFrame]:
    sf_dates = {
        "CreatedDate": "2024-03-27T22:52:16.000Z",
        "LastModifiedDate": "2024-03-28T08:01:00.000Z",
    }  # noqa: E501
    accounts = [
        {
            "Id": "001Dp00000Ulaz4IAB",
            "Name": "Acme",
            "Type": "Customer - Direct",
            "OwnerId": "005Dp000001AbcdIAA",
            "Plan__c": "Pro",
            "Region__c": "EMEA",
            **sf_dates,
        },
        {
            "Id": "001Dp00000Ulaz5IAB",
            "Name": "Globex",
            "Type": "",
            "OwnerId": "",
            "Plan__c": "",
            "Region__c": "",
            **sf_dates,
        },
    ]
    contacts = [
        {
            "Id": "003Dp00000AbCdEIAZ",
            "AccountId": "001Dp00000Ulaz4IAB",
            "FirstName": "Lina",
            "LastName": "Haddad",
            "Email": "lina@example.com",
            "HasOptedOutOfEmail": "false",
            "Preferred_Language__c": "ar",
            **sf_dates,
        },
        {
            "Id": "003Dp00000AbCdFIAZ",
            "AccountId": "",
            "FirstName": "",
            "LastName": "Li",
            "Email": "",
            "HasOptedOutOfEmail": "true",
            "Preferred_Language__c": "pt_BR",
            **sf_dates,
        },
    ]
    opportunities = [
        {
            "Id": "006Dp000004XyZaIAK",
            "AccountId": "001Dp00000Ulaz4IAB",
            "Name": "Acme renewal",
            "Amount": "12500.0",
            "CloseDate": "2024-06-30",
            "IsClosed": "false",
            "IsWon": "false",
            "Seats__c": "25",
            "Subscription_Start_Date__c": "2024-07-01",
            "Subscription_End_Date__c": "2025-06-30",
            **sf_dates,
        },
        {
            "Id": "006Dp000004XyZbIAK",
            "AccountId": "",
            "Name": "Globex new",
            "Amount": "",
            "CloseDate": "2024-07-15",
            "IsClosed": "true",
            "IsWon": "true",
            "Seats__c": "",
            "Subscription_Start_Date__c": "",
            "Subscription_End_Date__c": "",
            **sf_dates,
        },
    ]
    contracts = [
        {
            "Id": "800Dp000000AbCdIAK",
            "AccountId": "001Dp00000Ulaz4IAB",
            "StartDate": "2024-07-01",
            "EndDate": "2025-06-30",
            "ContractTerm": "12",
            "Status": "Activated",
            **sf_dates,
        },
        {
            "Id": "800Dp000000AbCeIAK",
            "AccountId": "001Dp00000Ulaz4IAB",
            "StartDate": "",
            "EndDate": "",
            "ContractTerm": "",
            "Status": "Draft",
            **sf_dates,
        },
    ]
    users = [
        {
            "Id": "005Dp000001AbcdIAA",
            "Username": "carla@vendor.example",
            "Email": "carla@vendor.example",
            "IsActive": "true",
            "TimeZoneSidKey": "America/Los_Angeles",
            "LocaleSidKey": "en_US",
        },
    ]
    tickets = [
        {
            "id": "1001",
            "url": "https://acme.zendesk.com/api/v2/tickets/1001.json",
            "created_at": "2024-03-01T09:15:02Z",
            "updated_at": "2024-03-02T11:00:40Z",
            "type": "question",
            "status": "solved",
            "priority": "normal",
            "requester_id": "501",
            "assignee_id": "9001",
            "organization_id": "77",
            "group_id": None,
            "tags": '["refund","vip"]',
            "custom_fields": '[{"id":360001,"value":"billing"}]',
            "satisfaction_rating": '{"id":42,"score":"good"}',
            "via": '{"channel":"email"}',
        },
        {
            "id": "1002",
            "url": None,
            "created_at": "2024-03-03T10:00:00Z",
            "updated_at": "2024-03-03T10:00:00Z",
            "type": None,
            "status": "new",
            "priority": None,
            "requester_id": "502",
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "tags": "[]",
            "custom_fields": "[]",
            "satisfaction_rating": None,
            "via": '{"channel":"web"}',
        },
    ]
    users_zd = [
        {
            "id": "501",
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "+15551234567",
            "role": "end-user",
            "organization_id": "77",
            "locale": "en-US",
            "time_zone": "Eastern Time (US & Canada)",
            "active": "true",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-02T00:00:00Z",
        },
    ]
    organizations = [
        {
            "id": "77",
            "name": "Acme",
            "domain_names": '["acme.com"]',
            "external_id": None,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-02T00:00:00Z",
        },
    ]
    events = [
        {
            "id": "5001",
            "ticket_id": "1001",
            "timestamp": "1709284502",
            "created_at": "2024-03-01T09:15:02Z",
            "updater_id": "501",
            "via": '{"channel":"email"}',
            "event_type": "Audit",
            "child_events": '[{"event_type":"Comment","public":true}]',
        },
    ]
    comments = [
        {
            "ticket_id": "1001",
            "id": "70011",
            "type": "VoiceComment",
            "author_id": "9001",
            "body": "Call recording",
            "public": "false",
            "attachments": "[]",
            "audit_id": "70010",
            "via": '{"channel":"voice","source":{"rel":"voicemail"}}',
            "created_at": "2024-03-01T10:00:40Z",
        },
    ]
    ratings = [
        {
            "id": "42",
            "url": None,
            "assignee_id": "9001",
            "group_id": None,
            "requester_id": "501",
            "ticket_id": "1001",
            "score": "good",
            "comment": "Quick!",
            "reason": None,
            "created_at": "2024-03-02T11:00:40Z",
            "updated_at": "2024-03-02T11:00:40Z",
        },
    ]
    responses = [
        {
            "StartDate": "2024-05-02 10:01:07",
            "EndDate": "2024-05-02 10:03:40",
            "Status": "0",
            "Progress": "100",
            "Finished": "1",
            "RecordedDate": "2024-05-02 10:03:41",
            "ResponseId": "R_1a2B3c4D5e6F7g8",
            "RecipientEmail": "lina@example.com",
            "UserLanguage": "AR",
            "survey_id": "SV_nps",
            "survey_kind": "relational",
            "touchpoint": "quarterly",
            "channel": "email",
            "time_zone": "Asia/Dubai",
            "nps": "6",
            "nps_group": "1",
            "csat": None,
            "ces": None,
            "open_text": "بطيء جدا",
            "ticket_id": None,
            "contact_id": None,
            "account_id": None,
            "language": "ar",
            "answers": '{"QID1":"6","QID1_NPS_GROUP":"1"}',
        },
        {
            "StartDate": "2024-05-03 09:00:00",
            "EndDate": "2024-05-03 09:01:00",
            "Status": "0",
            "Progress": "100",
            "Finished": "True",
            "RecordedDate": "2024-05-03 09:01:01",
            "ResponseId": "R_9z8Y7x6W5v4U3t2",
            "RecipientEmail": "",
            "UserLanguage": "PT-BR",
            "survey_id": "SV_ticket",
            "survey_kind": "transactional",
            "touchpoint": "support",
            "channel": "email",
            "time_zone": "UTC",
            "nps": None,
            "nps_group": None,
            "csat": "4",
            "ces": "6",
            "open_text": None,
            "ticket_id": "1001",
            "contact_id": None,
            "account_id": None,
            "language": "pt",
            "answers": '{"QID3":"4","QID4":"6"}',
        },
    ]
    return {
        "raw.salesforce__account": landing("salesforce", "account", accounts),
        "raw.salesforce__contact": landing("salesforce", "contact", contacts),
        "raw.salesforce__opportunity": landing("salesforce", "opportunity", opportunities),
        "raw.salesforce__contract": landing("salesforce", "contract", contracts),
        "raw.salesforce__user": landing("salesforce", "user", users),
        "raw.zendesk__tickets": landing("zendesk", "tickets", tickets),
        "raw.zendesk__users": landing("zendesk", "users", users_zd),
        "raw.zendesk__organizations": landing("zendesk", "organizations", organizations),
        "raw.zendesk__ticket_events": landing("zendesk", "ticket_events", events),
        "raw.zendesk__satisfaction_ratings": landing("zendesk", "satisfaction_ratings", ratings),
        "raw.zendesk__ticket_comments": landing("zendesk", "ticket_comments", comments),
        "raw.qualtrics__responses": landing("qualtrics", "responses", responses),
        **survey_frames(),
    }


def survey_frames() -> dict[str, pd.DataFrame]:
    """Typeform and generic survey CSV rows as their adapters land them."""
    common = {"survey_kind": "transactional", "csat": None, "ticket_id": "1001"}
    typeform = [
        {
            "token": "a1n2a3l4i5m6a7t8o9k0e1n2a3l4i5m6",
            "event_id": "01HZX3K9Q5V7B8C2D4E6F8G0H1",
            "event_type": "form_response",
            "form_id": "aBc12XyZ",
            "delivery": "webhook",
            "landed_at": "2024-05-02T10:00:01Z",
            "submitted_at": "2024-05-02T10:01:30Z",
            "survey_id": "TF_support",
            "nps": "9",
            "ces": "6",
            "email": "ana@example.com",
            "hidden": '{"email":"ana@example.com","ticket_id":"1001"}',
            "answers": '{"nps":"9","effort":"6"}',
            **common,
        },
        {
            "token": "d1e2e3t4o5k6e7n8d9e0e1t2o3k4e5n6",
            "event_id": None,
            "event_type": "form_response",
            "form_id": "aBc12XyZ",
            "delivery": "responses_api",
            "landed_at": "2024-05-03T09:10:00Z",
            "submitted_at": "2024-05-03T09:11:45Z",
            "survey_id": "TF_support",
            "nps": "7",
            "ces": None,
            "email": None,
            "hidden": None,
            "answers": '{"nps":"7"}',
            **common,
        },
    ]
    survey_csv = [
        {
            "response_id": "r-100",
            "responded_at": "2024-05-02T10:00:00Z",
            "survey_id": "APP_nps",
            "nps": "10",
            "ces": None,
            "email": "ana@example.com",
            "answers": '{"Score":"10"}',
            **common,
        },
        {
            "response_id": "row-60a78a47335fbb4f",
            "responded_at": "2024-05-05T03:30:00Z",
            "survey_id": "GF_onboarding",
            "nps": None,
            "ces": "5",
            "email": "",
            "answers": '{"How easy?":"5"}',
            **common,
        },
    ]
    return {
        "raw.typeform__responses": landing("typeform", "responses", typeform),
        "raw.survey_csv__responses": landing("survey_csv", "responses", survey_csv),
    }


def metric_rows(measures: list[dict[str, object]]) -> pd.DataFrame:
    """A metric mart: one 'all' row and one 'region' row per measure dict, on one day."""
    keys = [("all", "all"), ("region", "emea")]
    rows = [
        {"date_day": pd.Timestamp("2024-06-01"), "segment_type": t, "segment_value": v, **m}
        for (t, v), m in zip(keys, measures, strict=True)
    ]
    return pd.DataFrame(rows)


def mart_frames() -> dict[str, pd.DataFrame]:
    ts = pd.Timestamp
    return {
        "marts.dim_accounts": pd.DataFrame(
            {
                "account_id": ["A1", "A2"],
                "account_name": ["Acme", "Globex"],
                "industry": ["Retail", None],
                "region": ["EMEA", "unknown"],
                "plan": ["Pro", "Basic"],
                "country": ["AE", None],
                "domain": ["acme.com", None],
                "csm_user_id": ["U1", None],
                "csm_name": ["Carla", None],
                "csm_email": ["carla@vendor.example", None],
                "csm_time_zone": ["Asia/Dubai", None],
                "zendesk_organization_id": [77, None],
                "created_at": [ts("2022-01-01"), ts("2023-01-01")],
                "first_subscription_start_date": [ts("2022-02-01"), ts("2023-02-01")],
                "current_subscription_end_date": [ts("2025-01-31"), ts("2024-01-31")],
                "arr_amount": [12500.0, 0.0],
                "seats": [25, 0],
                "tenure_days": [900, 365],
                "is_churned": [False, True],
                "churned_date": [None, ts("2024-01-31")],
                "clv_historical_amount": [30500.0, 6016.44],
                "clv_predicted_amount": [None, 0.0],  # A1 not scored yet; A2 churned
                "clv_at_risk_amount": [None, 0.0],
            }
        ),
        "marts.dim_customers": pd.DataFrame(
            {
                "customer_id": ["C1", "C2"],
                "account_id": ["A1", None],
                "email": ["lina@example.com", None],
                "first_name": ["Lina", None],
                "last_name": ["Haddad", "Li"],
                "full_name": ["Lina Haddad", "Li"],
                "phone_e164": ["+971501234567", None],
                "language": ["ar", "en"],
                "salesforce_contact_id": ["003Dp00000AbCdEIAZ", None],
                "zendesk_user_id": [501, None],
                "has_opted_out_of_email": [False, True],
                "time_zone": ["Asia/Dubai", None],
                "time_zone_source": ["zendesk_user", None],
                "last_nps_score": [6, None],
                "last_nps_at": [ts("2024-05-02 06:03:41"), None],
                "survey_responses": [1, 0],
                "tickets_total": [2, 0],
                "tickets_open": [1, 0],
            }
        ),
        "marts.fct_survey_responses": pd.DataFrame(
            {
                "response_id": ["R_1a2B3c4D5e6F7g8", "R_9z8Y7x6W5v4U3t2", "R_aaaaaaaaaaaaaaa"],
                "survey_id": ["SV_nps", "SV_ticket", "SV_nps"],
                "survey_kind": ["relational", "transactional", "relational"],
                "touchpoint": ["quarterly", "support", "quarterly"],
                "channel": ["email", "email", "email"],
                "customer_id": ["C1", "C2", "C1"],
                "account_id": ["A1", None, "A1"],
                "ticket_id": [None, 1001, None],
                "nps_score": [6, None, 9],
                "nps_category": ["detractor", None, "promoter"],
                "csat_score": [None, 4, None],
                "ces_score": [None, 6, None],
                "open_text": ["بطيء جدا", None, None],
                "language": ["ar", "pt", "en"],
                "respondent_email": ["lina@example.com", None, "lina@example.com"],
                "responded_at": [
                    ts("2024-05-02 06:03:41"),
                    ts("2024-05-03 09:01:01"),
                    ts("2024-05-04 12:00:00"),
                ],
                "responded_date": [ts("2024-05-02"), ts("2024-05-03"), ts("2024-05-04")],
            }
        ),
        "marts.fct_tickets": pd.DataFrame(
            {
                "ticket_id": [1001, 1002],
                "account_id": ["A1", None],
                "customer_id": ["C1", "C2"],
                "created_at": [ts("2024-03-01 09:15:02"), ts("2024-03-03 10:00:00")],
                "solved_at": [ts("2024-03-02 11:00:40"), None],
                "status": ["solved", "new"],
                "priority": ["normal", None],
                "channel": ["email", "web"],
                "first_reply_at": [ts("2024-03-01 10:00:00"), None],
                "first_reply_time_calendar_minutes": [45.0, None],
                "full_resolution_calendar_minutes": [1545.0, None],
                "count_agent_replies": [1, 0],
                "count_reopens": [0, 0],
                "is_one_touch_resolution": [True, False],
                "satisfaction_score": ["good", None],
                "is_open": [False, True],
            }
        ),
        "marts.mart_nps": metric_rows(
            [
                {
                    "responses": 10,
                    "promoters": 5,
                    "passives": 3,
                    "detractors": 2,
                    "nps": 30.0,
                    "nps_margin_of_error": 25.1,
                    "is_small_sample": True,
                },
                {
                    "responses": 3,
                    "promoters": 1,
                    "passives": 0,
                    "detractors": 2,
                    "nps": -33.3,
                    "nps_margin_of_error": 60.0,
                    "is_small_sample": True,
                },
            ]
        ),
        "marts.mart_csat": metric_rows(
            [
                {
                    "responses": 8,
                    "satisfied": 6,
                    "csat": 75.0,
                    "csat_margin_of_error": 30.0,
                    "is_small_sample": True,
                },
                {
                    "responses": 3,
                    "satisfied": 2,
                    "csat": 66.7,
                    "csat_margin_of_error": 53.3,
                    "is_small_sample": True,
                },
            ]
        ),
        "marts.mart_ces": metric_rows(
            [
                {
                    "responses": 4,
                    "ces_mean": 5.25,
                    "easy": 3,
                    "ces_easy_pct": 75.0,
                    "ces_margin_of_error": 1.2,
                    "is_small_sample": True,
                },
                {
                    "responses": 1,
                    "ces_mean": 7.0,
                    "easy": 1,
                    "ces_easy_pct": 100.0,
                    "ces_margin_of_error": None,
                    "is_small_sample": True,
                },
            ]
        ),
        # issue 4's marts (hand rows that satisfy their suites)
        "marts.mart_ticket_kpis": pd.DataFrame(
            {
                "date_day": [date(2024, 1, 1)] * 2,
                "segment_type": ["all", "priority"],
                "segment_value": ["all", "urgent"],
                "tickets": [4, 1],
                "solved_tickets": [3, 1],
                "avg_first_reply_time_calendar_minutes": [300.0, 60.0],
                "avg_first_reply_time_business_minutes": [120.0, 60.0],
                "avg_full_resolution_calendar_minutes": [900.0, 200.0],
                "avg_full_resolution_business_minutes": [400.0, 100.0],
                "reopen_rate": [33.33, 0.0],
                "one_touch_resolution_rate": [66.67, 100.0],
                "sla_breach_rate": [25.0, None],
                "ticket_csat": [50.0, None],
            }
        ),
        "marts.mart_churn": pd.DataFrame(
            {
                "month_start_date": [date(2024, 1, 1)] * 2,
                "cohort": ["all", "2023-06"],
                "accounts_at_start": [4, 2],
                "churned_accounts": [1, 1],
                "logo_churn_rate": [25.0, 50.0],
                "gross_revenue_retention": [70.0, 50.0],
                "net_revenue_retention": [82.5, 75.0],
            }
        ),
        "marts.mart_account_health": pd.DataFrame(
            {
                "account_id": ["A1", "A2"],
                "health_score": [85.0, 42.86],
                "health_band": ["healthy", "at_risk"],
                "support_score": [75.0, 100.0],
                "voice_score": [100.0, None],
                "revenue_score": [70.0, 0.0],
                "engagement_score": [100.0, 0.0],
                "churn_probability": [0.2, None],
            }
        ),
        "marts.mart_clv_at_risk": pd.DataFrame(
            {  # docs/metrics.md's worked example: A (scored) and C (not) in region EMEA
                "segment_type": ["all", "region", "csm"],
                "segment_value": ["all", "EMEA", "U1"],
                "accounts": [2, 2, 1],
                "scored_accounts": [1, 1, 1],
                "clv_predicted_amount": [6633.95, 6633.95, 6633.95],
                "clv_if_retained_amount": [14559.89, 14559.89, 11164.13],
                "clv_at_risk_amount": [4530.18, 4530.18, 4530.18],
            }
        ),
        "marts.mart_topics": pd.DataFrame(
            {
                "month_start_date": [date(2024, 1, 1)] * 2,
                "topic": ["billing", "other"],
                "mentions": [3, 5],
                "open_text_answers": [8, 8],
                "nps_responses": [3, 4],
                "nps": [-66.67, 50.0],
            }
        ),
        "marts.customer_identity_map": pd.DataFrame(
            {  # docs/identity.md's worked example, one record per way of joining
                "identity_record_id": [
                    "salesforce:0038d00000AnnaSAAR",
                    "qualtrics:R_1",
                    "zendesk:7003",
                    "qualtrics:R_5003",
                    "typeform:tf_9",
                    "survey_csv:7",
                    "qualtrics:R_9",
                ],
                "source": [
                    "salesforce",
                    "qualtrics",
                    "zendesk",
                    "qualtrics",
                    "typeform",
                    "survey_csv",
                    "qualtrics",
                ],
                "source_record_id": [
                    "0038d00000AnnaSAAR",
                    "R_1",
                    "7003",
                    "R_5003",
                    "tf_9",
                    "7",
                    "R_9",
                ],
                "customer_id": ["cus_a", "cus_a", "cus_b", "cus_b", "cus_c", "cus_d", "cus_e"],
                "account_id": ["A1", "A1", None, None, "A1", None, "A2"],
                "match_rule": [
                    "salesforce_contact",
                    "external_id",
                    "ticket_requester",
                    "ticket_requester",
                    "splink",
                    "no_identifier",
                    "unmatched",
                ],
                "match_probability": [1.0, 1.0, 1.0, 1.0, 0.9954, None, None],
            }
        ),  # fmt: skip
        "marts.fct_touchpoints": pd.DataFrame(
            {
                "touchpoint_id": [
                    "ticket_opened:zendesk:5001",
                    "agent_reply:zendesk:880001",
                    "internal_note:zendesk:880002",
                    "survey_response:qualtrics:R_1",
                    "opportunity_change:salesforce:0068d00000Opp1AAB",
                    "playbook_email:cxloop:act-1",
                ],
                "touchpoint_type": [
                    "ticket_opened",
                    "agent_reply",
                    "internal_note",
                    "survey_response",
                    "opportunity_change",
                    "playbook_email",
                ],
                "touched_at": [
                    ts("2024-06-03 09:15:00"),
                    ts("2024-06-03 23:59:59"),
                    ts("2024-06-04 00:00:00"),
                    ts("2024-06-05 12:00:00"),
                    ts("2024-06-06 08:00:00"),
                    ts("2024-06-07 07:30:00"),
                ],
                "touched_date": [
                    ts("2024-06-03"),
                    ts("2024-06-03"),
                    ts("2024-06-04"),
                    ts("2024-06-05"),
                    ts("2024-06-06"),
                    ts("2024-06-07"),
                ],
                # the opportunity is the account's; the e-mail went to its CSM, not a customer
                "customer_id": ["cus_a", "cus_a", "cus_a", "cus_a", None, None],
                "account_id": ["A1"] * 6,
                "channel": ["email", "email", "internal", "web", "sales", "email"],
                "source": ["zendesk", "zendesk", "zendesk", "qualtrics", "salesforce", "cxloop"],
                "source_entity": [
                    "ticket",
                    "ticket_comment",
                    "ticket_comment",
                    "response",
                    "opportunity",
                    "playbook_action",
                ],
                "source_record_id": [
                    "5001",
                    "880001",
                    "880002",
                    "R_1",
                    "0068d00000Opp1AAB",
                    "act-1",
                ],
            }
        ),  # fmt: skip
        "marts.mart_loop_closure": pd.DataFrame(
            {  # May: 10 detractors, 6 followed up, 4 of them delivered; June: none followed up
                "loop_closure_id": ["detractor_followup:2024-05", "detractor_followup:2024-06"],
                "playbook": ["detractor_followup"] * 2,
                "response_month": [date(2024, 5, 1), date(2024, 6, 1)],
                "detractors": [10, 3],
                "followed_up": [6, 0],
                "loops_closed": [4, 0],
                "loop_closure_rate": [0.4, 0.0],
                "avg_hours_to_first_contact": [5.5, None],
                "median_hours_to_first_contact": [3.0, None],
                "followed_up_with_next_response": [3, 0],
                "avg_nps_change_followed_up": [2.33, None],
                "not_followed_up_with_next_response": [2, 1],
                "avg_nps_change_not_followed_up": [-0.5, 1.0],
            }
        ),
        "marts.mart_callbacks": pd.DataFrame(
            {
                "callback_week_id": ["3f1c", "9a7e"],
                "owner_email": ["carla@vendor.example", "queue@vendor.example"],
                "week_start_date": [date(2024, 6, 3)] * 2,
                "opened": [2, 1],
                "contacted": [1, 0],
                "closed": [2, 0],
                "closed_within_sla": [1, 0],
                "escalated": [1, 1],
                "closed_within_sla_pct": [50.0, 0.0],
            }
        ),
        "ml.churn_scores": pd.DataFrame(
            {
                "account_id": ["A1", "A2"],
                "scored_at": [ts("2024-06-01 02:00:00")] * 2,
                "model_version": ["v1", "v1"],
                "churn_probability": [0.12, 0.81],
                "risk_band": ["low", "high"],
                "top_drivers": ['[{"feature":"tenure_days","impact":-0.2}]', "[]"],
            }
        ),
        "ml.text_sentiment": pd.DataFrame(
            {
                "text_id": ["survey_answer:R1", "ticket_comment:9", "ticket_comment:10"],
                "text_kind": ["survey_answer", "ticket_comment", "ticket_comment"],
                "source_id": ["R1", "9", "10"],
                "customer_id": ["C1", "C2", None],
                "account_id": ["A1", "A2", "A2"],
                "written_at": [ts("2024-06-01 10:00:00")] * 3,
                "language": ["fa", "en", "de"],
                "sentiment_score": [-0.62, 0.4, None],
                "sentiment_label": ["negative", "positive", None],
                "method": ["model", "lexicon", "none"],
                "model_version": ["v0001", None, None],
            }
        ),
        "ml.text_topics": pd.DataFrame(
            {
                "text_id": ["survey_answer:R1", "survey_answer:R1", "ticket_comment:9"],
                "topic": ["billing", "learned: app / mobile / android", "billing"],
                "topic_source": ["keyword", "learned", "learned"],
                "weight": [1.0, 0.41, 0.77],
            }
        ),
        "marts.mart_drivers": pd.DataFrame(
            {
                "driver_id": ["topic:billing", "ticket_experience:reopened"],
                "driver_kind": ["topic", "ticket_experience"],
                "driver": ["billing", "reopened"],
                "n_mentions": [5, 44],
                "detractor_share": [75.0, 28.33],
                "promoter_share": [20.0, 10.57],
                "nps_with": [-50.0, -9.09],
                "nps_without": [50.0, 28.03],
                "nps_impact": [-100.0, -37.12],
                "nps_impact_ci_low": [-208.24, -63.17],
                "nps_impact_ci_high": [8.24, -11.08],
                "churn_effect": [16.67, None],
                "method": ["keyword+learned", "ticket_before_answer"],
            }
        ),
    }


@pytest.fixture
def good_frames() -> Callable[[str], pd.DataFrame]:
    """A fresh good frame for a dataset name (raw or mart)."""
    frames = {**raw_frames(), **mart_frames()}
    return lambda name: frames[name].copy()


@pytest.fixture
def every_good_frame() -> dict[str, pd.DataFrame]:
    """Every dataset's good frame, by name."""
    return {**raw_frames(), **mart_frames()}
