"""Company A's identity map, listed by hand: every respondent who carries an identifier joins
the right customer, respondents with none stay alone, and nobody is over-merged.

The people (Salesforce contacts; Zendesk end-users; how each counted response names them):

  Anna Schmidt    0038d00000AnnaSAAR  Zendesk 7004 (external_id = the Contact Id, same e-mail)
      R_2xQmA8vLk3NcP1a  relational, ExternalReference 0038d00000AnnaS (the 15-character id)
      R_7yAnn5004Tk4ddX  ticket CSAT, ticket 5004 -> requester 7004
  Jonas Weber     0038d00000JonaWAAR
      R_3mJwEb3rInApp1X  in-app, embedded user_email "  Jonas.Weber@ACME-GmbH.example "
  Lena Vogel      0038d00000LenaVAAR  (no e-mail in the CRM; MobilePhone +4915123456789)
      R_1pLnVgl0nApp3cX  in-app, embedded user_phone "+49 151 2345 6789" and user_name
                         "Lena Vogel": Splink, first and last name keys and phone equal, no
                         account on the response side. Bayes factors from the priors in
                         splink_match._comparisons: 0.85/0.02 * 0.85/0.01 * 0.6/0.001
                         = 42.5 * 85 * 600 = 2,167,500; prior odds 1e-4 / (1 - 1e-4)
                         -> odds 216.8 -> probability 216.8 / 217.8 = 0.9954 (>= 0.9)
  Layla Haddad    0038d00000LaylHAAR
      R_3bTyW9uQe4RsD2b  relational, RecipientEmail "Layla.Haddad@Noor-Trading.example"
  Omar Al-Farsi   0038d00000OmarFAAR  Zendesk 7001 ("عمر الفارسي", e-mail in upper case)
      R_1vOmAr5001Tk1aX  ticket CSAT, ticket 5001 -> requester 7001
  Omar Nasser     0038d00000OmarNAAR  (same account and first name as Omar Al-Farsi)
      R_9dUzR2oAg6YhJ4d  relational, RecipientEmail
      R_7qOmNs5rPart4dX  in-app, unfinished but scored (include_partial), embedded
                         sf_contact_id 0038d00000OmarN (15 characters)
  Dariush Karimi  0038d00000DarkKAAR  Zendesk 7002 ("داریوش کریمی", same e-mail; organization
                                      9103 names Parsian by its 15-character Account Id)
      R_0cVxE1iPf5TgH3c  relational, RecipientEmail
      R_3wDar5002Tk2bbX  ticket CSAT, ticket 5002 -> requester 7002
  Sara Rahimi     0038d00000SaraRAAR
      R_2kSaRaRa7Him2Uk  relational, RecipientEmail
      R_5nSrRhm1nApp2bX  in-app, embedded user_email "SARA.RAHIMI@PARSIAN.EXAMPLE"
  Pat Morgan      (no CRM contact)    Zendesk 7003 (gmail, no organization)
      R_5xPat5003Tk3ccX  ticket CSAT, ticket 5003 -> requester 7003

Alone: R_8jAn0nYm7uSk1Tj (anonymous link), R_3cOfFl1neKioSk1 (offline app),
R_9sAn0nInApp6ffX (in-app, no embedded data), R_9zUnk9999Tk5eeX (ticket 9999 is in no
Zendesk export): no identifier. R_4tInf0NoorApp7X carries info@noor-trading.example, a shared
mailbox nobody has: an identifier that matches no one (`unmatched`), on Noor's account by
its e-mail domain. Not person records at all: previews, tests, spam and the unfinished
responses that do not count (test_company_a_metrics.NOT_COUNTED), and agent 8001.
"""

from __future__ import annotations

from collections import Counter

from company_a_build import BuiltCompany

ANNA, JONAS, LENA = "0038d00000AnnaSAAR", "0038d00000JonaWAAR", "0038d00000LenaVAAR"
LAYLA, OMAR_F, OMAR_N = "0038d00000LaylHAAR", "0038d00000OmarFAAR", "0038d00000OmarNAAR"
DARIUSH, SARA = "0038d00000DarkKAAR", "0038d00000SaraRAAR"
ACME, NOOR, PARSIAN = "0018d00000AcmeGAAR", "0018d00000NoorTAAR", "0018d00000PrsnCAAR"

# record -> (the CRM contact of its customer, match_rule); "zendesk:7003" stands for the
# customer of that Zendesk user, who has no CRM contact
RESOLVED = {
    "qualtrics:R_2xQmA8vLk3NcP1a": (ANNA, "external_id"),
    "qualtrics:R_7yAnn5004Tk4ddX": (ANNA, "ticket_requester"),
    "zendesk:7004": (ANNA, "external_id"),
    "qualtrics:R_3mJwEb3rInApp1X": (JONAS, "email"),
    "qualtrics:R_1pLnVgl0nApp3cX": (LENA, "splink"),
    "qualtrics:R_3bTyW9uQe4RsD2b": (LAYLA, "email"),
    "qualtrics:R_1vOmAr5001Tk1aX": (OMAR_F, "ticket_requester"),
    "zendesk:7001": (OMAR_F, "ticket_requester"),
    "qualtrics:R_9dUzR2oAg6YhJ4d": (OMAR_N, "email"),
    "qualtrics:R_7qOmNs5rPart4dX": (OMAR_N, "external_id"),
    "qualtrics:R_0cVxE1iPf5TgH3c": (DARIUSH, "email"),
    "qualtrics:R_3wDar5002Tk2bbX": (DARIUSH, "ticket_requester"),
    "zendesk:7002": (DARIUSH, "ticket_requester"),
    "qualtrics:R_2kSaRaRa7Him2Uk": (SARA, "email"),
    "qualtrics:R_5nSrRhm1nApp2bX": (SARA, "email"),
    "qualtrics:R_5xPat5003Tk3ccX": ("zendesk:7003", "ticket_requester"),
}
ALONE = {
    "qualtrics:R_8jAn0nYm7uSk1Tj": "no_identifier",
    "qualtrics:R_3cOfFl1neKioSk1": "no_identifier",
    "qualtrics:R_9sAn0nInApp6ffX": "no_identifier",
    "qualtrics:R_9zUnk9999Tk5eeX": "no_identifier",
    "qualtrics:R_4tInf0NoorApp7X": "unmatched",
}
CONTACTS = [ANNA, JONAS, LENA, LAYLA, OMAR_F, OMAR_N, DARIUSH, SARA]
ACCOUNT_OF = {
    ANNA: ACME,
    JONAS: ACME,
    LENA: ACME,
    LAYLA: NOOR,
    OMAR_F: NOOR,
    OMAR_N: NOOR,
    DARIUSH: PARSIAN,
    SARA: PARSIAN,
    "zendesk:7003": None,
}


def identity_map(company_a: BuiltCompany) -> dict[str, dict[str, object]]:
    """`source:source_record_id` -> its row of marts.customer_identity_map."""
    return {
        f"{r['source']}:{r['source_record_id']}": r
        for r in company_a.records(
            "select source, source_record_id, customer_id, account_id, match_rule, "
            "match_probability from marts.customer_identity_map"
        )
    }


def test_the_person_records_are_the_live_people_and_the_counted_responses(
    company_a: BuiltCompany,
) -> None:
    # 8 contacts + 4 Zendesk end-users (not agent 8001) + 7 + 6 + 5 counted responses = 30
    keys = set(identity_map(company_a))
    expected = (
        {f"salesforce:{c}" for c in CONTACTS}
        | {"zendesk:7001", "zendesk:7002", "zendesk:7003", "zendesk:7004"}
        | set(RESOLVED)
        | set(ALONE)
    )
    assert keys == expected
    assert len(keys) == 30


def test_every_respondent_with_an_identifier_joins_the_right_customer(
    company_a: BuiltCompany,
) -> None:
    rows = identity_map(company_a)
    customer_of = {key: rows[f"salesforce:{key}"]["customer_id"] for key in CONTACTS}
    customer_of["zendesk:7003"] = rows["zendesk:7003"]["customer_id"]
    got = {key: (rows[key]["customer_id"], rows[key]["match_rule"]) for key in RESOLVED}
    want = {key: (customer_of[person], rule) for key, (person, rule) in RESOLVED.items()}
    assert got == want
    assert {key: rows[key]["account_id"] for key in RESOLVED} == {
        key: ACCOUNT_OF[person] for key, (person, _) in RESOLVED.items()
    }
    assert round(rows["qualtrics:R_1pLnVgl0nApp3cX"]["match_probability"], 4) == 0.9954


def test_the_customer_360_names_each_customer_s_weakest_probabilistic_link(
    company_a: BuiltCompany,
) -> None:
    """dim_customers.weakest_match_probability (docs/identity.md): Lena Vogel's customer holds
    the one Splink link (0.9954, worked out above); every other customer was joined by rules
    or stands alone: null."""
    lena = identity_map(company_a)[f"salesforce:{LENA}"]["customer_id"]
    weakest = dict(
        company_a.rows("select customer_id, weakest_match_probability from marts.dim_customers")
    )
    assert round(weakest.pop(lena), 4) == 0.9954
    assert weakest and set(weakest.values()) == {None}


def test_respondents_without_an_identifier_stay_alone(company_a: BuiltCompany) -> None:
    rows = identity_map(company_a)
    sizes = Counter(r["customer_id"] for r in rows.values())
    assert {key: rows[key]["match_rule"] for key in ALONE} == ALONE
    assert all(sizes[rows[key]["customer_id"]] == 1 for key in ALONE)
    assert {key: rows[key]["account_id"] for key in ALONE} == {
        **dict.fromkeys(ALONE),
        "qualtrics:R_4tInf0NoorApp7X": NOOR,
    }


def test_nobody_is_over_merged(company_a: BuiltCompany) -> None:
    # customers: 8 CRM contacts + Pat (Zendesk only) + 5 alone = 14; cluster sizes by hand:
    # Anna 4, Dariush 4, Omar Al-Farsi 3, Omar Nasser 3, Sara 3, Jonas 2, Lena 2, Layla 2,
    # Pat 2, and five of 1
    rows = identity_map(company_a)
    sizes = Counter(r["customer_id"] for r in rows.values())
    assert sorted(sizes.values(), reverse=True) == [4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1]
    crm_per_customer = Counter(
        r["customer_id"] for r in rows.values() if r["source"] == "salesforce"
    )
    assert set(crm_per_customer.values()) == {1}
    assert company_a.build["identity"]["guard_hits"] == []
    [(customers,)] = company_a.rows("select count(*) from marts.dim_customers")
    assert customers == 14


def test_zendesk_organizations_link_to_their_accounts(company_a: BuiltCompany) -> None:
    # Acme's organization holds the 18-character Account Id, Parsian's the 15-character one
    # (copied from the Salesforce UI) and no domain, Noor's no id but its website's domain.
    got = {
        account: (organization, rule)
        for account, organization, rule in company_a.rows(
            "select account_id, zendesk_organization_id, match_rule "
            "from intermediate.int_accounts__resolved"
        )
    }
    assert got == {
        ACME: (9101, "external_id"),
        NOOR: (9102, "domain"),
        PARSIAN: (9103, "external_id"),
    }


def test_a_ticket_and_its_csat_response_have_one_customer(company_a: BuiltCompany) -> None:
    # Zendesk's side (fct_tickets) and Qualtrics' side (fct_survey_responses) of tickets
    # 5001-5004 name the same customer and account; 9999 is in no Zendesk export.
    tickets = {
        ticket: (customer, account)
        for ticket, customer, account in company_a.rows(
            "select ticket_id, customer_id, account_id from marts.fct_tickets"
        )
    }
    responses = {
        ticket: (customer, account)
        for ticket, customer, account in company_a.rows(
            "select ticket_id, customer_id, account_id from marts.fct_survey_responses "
            "where ticket_id is not null"
        )
    }
    assert set(tickets) == {5001, 5002, 5003, 5004}
    assert set(responses) == {5001, 5002, 5003, 5004, 9999}
    assert {t: responses[t] for t in tickets} == tickets
    assert [t[1] for t in (tickets[5001], tickets[5002], tickets[5003], tickets[5004])] == [
        NOOR,
        PARSIAN,
        None,
        ACME,
    ]
