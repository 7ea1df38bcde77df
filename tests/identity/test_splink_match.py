"""Splink matching: which pairs are scored."""

from __future__ import annotations

from identity_records import frame, record

from cxloop.identity.normalize import prepare
from cxloop.identity.splink_match import splink_edges


def test_pairs_between_two_contacts_clusters_are_not_scored() -> None:
    acme = "001000000000001AAA"
    rows = [  # two colleagues of one name and phone: the CRM says they are two people
        record("salesforce", "003000000000001AAA", email_raw="sara.jones@acme.com",
               first_name="Sara", last_name="Jones", phone_raw="+442076227035",
               account_hint=acme),
        record("salesforce", "003000000000002AAA", email_raw="sara.jones2@acme.com",
               first_name="Sara", last_name="Jones", phone_raw="+442076227035",
               account_hint=acme),
        record("zendesk", "5", email_raw="sarajones9@gmail.com", first_name="Sara",
               last_name="Jones", phone_raw="+442076227035", account_hint=acme),
    ]  # fmt: skip
    df = prepare(frame(rows))
    pairs = splink_edges(df, 0.0, groups=[0, 1, 2])
    assert {(int(i), int(j)) for i, j in pairs[["i", "j"]].values} == {(0, 2), (1, 2)}
