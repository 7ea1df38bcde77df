"""Company A: each customer's own time zone in dim_customers, worked out by hand from the exports.

Zendesk users 7001-7004 carry `iana_time_zone` (the person set it); Salesforce contacts carry
`MailingCountry` (Germany, United Arab Emirates, Iran: each one zone, in the
country_time_zones seed). The Zendesk zone wins where a person has both.
"""

from __future__ import annotations

from company_a_build import BuiltCompany

EXPECTED = {
    # e-mail: (time_zone, time_zone_source)
    "anna.schmidt@acme-gmbh.example": ("Europe/Berlin", "zendesk_user"),  # user 7004
    "omar.alfarsi@noor-trading.example": ("Asia/Dubai", "zendesk_user"),  # user 7001
    "d.karimi@parsian.example": ("Asia/Tehran", "zendesk_user"),  # user 7002
    "pat.morgan.home@gmail.com": ("America/New_York", "zendesk_user"),  # 7003, no CRM record
    "jonas.weber@acme-gmbh.example": ("Europe/Berlin", "crm_contact_country"),  # Germany
    "layla.haddad@noor-trading.example": ("Asia/Dubai", "crm_contact_country"),  # UAE
    "omar.nasser@noor-trading.example": ("Asia/Dubai", "crm_contact_country"),  # UAE
    "sara.rahimi@parsian.example": ("Asia/Tehran", "crm_contact_country"),  # Iran
}


def test_each_customer_gets_their_zone_and_where_it_came_from(company_a: BuiltCompany) -> None:
    rows = company_a.rows(
        "select email, time_zone, time_zone_source from marts.dim_customers where email is not null"
    )
    got = {email: (zone, source) for email, zone, source in rows}
    assert {k: got.get(k) for k in EXPECTED} == EXPECTED


def test_the_contact_without_an_email_gets_the_zone_of_her_country(
    company_a: BuiltCompany,
) -> None:
    # Lena (0038d00000LenaVAAR): no e-mail, MailingCountry Germany
    rows = company_a.rows(
        "select time_zone, time_zone_source from marts.dim_customers "
        "where salesforce_contact_id = '0038d00000LenaVAAR'"
    )
    assert rows == [("Europe/Berlin", "crm_contact_country")]
