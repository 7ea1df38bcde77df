"""The whole resolution on hand-written records: rules, Splink, the guard, stable ids."""

from __future__ import annotations

import pandas as pd
from identity_records import frame, record

from cxloop.identity.resolve import resolve
from cxloop.identity.stable_ids import mint_id


def by_key(result: pd.DataFrame) -> dict[str, pd.Series]:
    """Rows of a resolution keyed by source:record."""
    return {row.record_key: row for row in result.itertuples(index=False)}  # type: ignore[misc]


def run(records: pd.DataFrame, previous: dict[str, str] | None = None, **kw: object):
    """Resolve with the default threshold and a roomy guard unless told otherwise."""
    options = {"threshold": 0.9, "max_cluster_size": 25, **kw}
    return resolve(records, previous or {}, **options)  # type: ignore[arg-type]


def test_rules_join_the_same_person_across_spellings_scripts_and_formats(
    records: pd.DataFrame,
) -> None:
    rows = by_key(run(records).records)
    mohammed = rows["salesforce:003000000000001AAA"].customer_id
    assert rows["zendesk:361000000001"].customer_id == mohammed  # e-mail case and spaces
    assert rows["zendesk:361000000001"].match_rule == "email"
    assert rows["qualtrics:R_1"].customer_id == mohammed  # Arabic script, 15-char Contact Id
    assert rows["qualtrics:R_1"].match_rule == "external_id"
    # the helpdesk phone in national format is the CRM's E.164 number
    assert rows["zendesk:361000000001"].phone_e164 == "+966115840910"


def test_two_people_sharing_a_company_phone_stay_apart(records: pd.DataFrame) -> None:
    rows = by_key(run(records).records)
    mohammed = rows["salesforce:003000000000001AAA"].customer_id
    khalid = rows["salesforce:003000000000002AAA"].customer_id
    assert mohammed != khalid
    # Khalid's helpdesk user: personal e-mail, switchboard phone, other spelling -> Splink
    assert rows["zendesk:361000000002"].customer_id == khalid
    # its strongest own link is the CSAT response's ticket (the rule recorded per record)
    assert rows["zendesk:361000000002"].match_rule == "ticket_requester"
    assert rows["qualtrics:R_2"].customer_id == khalid  # CSAT -> ticket requester


def khalid_records() -> list[dict[str, object]]:
    """Khalid's CRM contact and his helpdesk user: personal e-mail, other spelling, the
    account's switchboard phone (a Splink match, not a rule's)."""
    acme = "001000000000001AAA"
    return [
        record("salesforce", "003000000000002AAA", email_raw="khalid.haddad@acme.sa",
               phone_raw="+966115840910", first_name="Khalid", last_name="Haddad",
               account_hint=acme),
        record("zendesk", "2", email_raw="khalidhaddad7@gmail.com", phone_raw="011 584 0910",
               first_name="Khaled", last_name="Hadad", account_hint=acme,
               account_phone="+966115840910"),
    ]  # fmt: skip


def test_splink_links_a_transliterated_helpdesk_user_with_a_personal_email() -> None:
    rows = khalid_records()
    out = by_key(run(frame(rows)).records)["zendesk:2"]
    assert (
        out.customer_id
        == by_key(run(frame(rows)).records)["salesforce:003000000000002AAA"].customer_id
    )
    assert out.match_rule == "splink"
    assert 0.9 <= out.match_probability < 1.0


def test_a_rerun_on_the_same_records_keeps_each_splink_match_and_its_probability() -> None:
    """Resolution is idempotent: the run after one on the same records, with that run's map as
    `previous`, gives the same map (so skipping it when nothing changed is the same)."""
    rows = khalid_records()
    columns = ["record_key", "customer_id", "account_id", "match_rule", "match_probability"]
    first = run(frame(rows)).records[columns]
    previous = dict(zip(first["record_key"], first["customer_id"], strict=True))
    again = run(frame(rows), previous).records[columns]
    assert by_key(again)["zendesk:2"].match_rule == "splink"  # not 'previous_run'
    assert again.to_dict("records") == first.to_dict("records")


def test_phone_and_company_alone_do_not_merge_people() -> None:
    acme = "001000000000001AAA"
    rows = [
        record("salesforce", "003000000000001AAA", first_name="Sara", last_name="Jones",
               phone_raw="+442076227035", account_hint=acme),
        record("zendesk", "1", first_name="Peter", last_name="Brown", phone_raw="020 7622 7035",
               account_hint=acme, account_phone="+442076227035"),
    ]  # fmt: skip
    result = by_key(run(frame(rows)).records)
    assert result["salesforce:003000000000001AAA"].customer_id != result["zendesk:1"].customer_id


def test_records_without_identifiers_stay_alone_and_are_counted(records: pd.DataFrame) -> None:
    result = run(records)
    rows = by_key(result.records)
    alone = rows["qualtrics:R_3"]
    assert alone.match_rule == "no_identifier"
    assert alone.customer_id == mint_id("qualtrics:R_3")
    assert (result.records["customer_id"] == alone.customer_id).sum() == 1
    assert result.report["no_identifier"] == 1
    assert len(result.records) == len(records)  # nothing dropped


def test_malformed_email_and_phone_are_kept_and_flagged() -> None:
    rows = [
        record("zendesk", "7", email_raw="jane at example", phone_raw="call me", first_name="Jane"),
    ]
    result = run(frame(rows))
    out = result.records.iloc[0]
    assert out["email_raw"] == "jane at example" and out["is_email_valid"] == False  # noqa: E712
    assert out["email_normalized"] is None
    assert out["phone_raw"] == "call me" and out["is_phone_valid"] == False  # noqa: E712
    assert out["phone_e164"] is None
    assert result.report["invalid_emails"] == 1 and result.report["invalid_phones"] == 1


def test_over_merge_guard_keeps_a_too_large_cluster_apart_and_reports_it(
    records: pd.DataFrame,
) -> None:
    result = run(records, max_cluster_size=2)
    hits = result.report["guard_hits"]
    assert hits, "a three-record customer must trip a guard of 2"
    assert max(result.records["customer_id"].value_counts()) <= 2
    tripped = {key for hit in hits for key in hit["records"]}  # type: ignore[union-attr]
    assert "salesforce:003000000000001AAA" in tripped


def test_same_data_gives_the_same_ids_with_and_without_the_previous_map(
    records: pd.DataFrame,
) -> None:
    first = run(records)
    previous = dict(zip(first.records["record_key"], first.records["customer_id"], strict=True))
    again = run(records, previous)
    fresh = run(records)
    assert list(again.records["customer_id"]) == list(first.records["customer_id"])
    assert list(fresh.records["customer_id"]) == list(first.records["customer_id"])
    assert again.changes.empty


def test_added_records_join_existing_ids_without_renumbering(records: pd.DataFrame) -> None:
    first = run(records)
    previous = dict(zip(first.records["record_key"], first.records["customer_id"], strict=True))
    added = pd.concat(
        [
            frame(
                [
                    record("zendesk", "361000000009", email_raw="MOHAMMED.alhassan@acme.sa"),
                    record("qualtrics", "R_9", email_raw="new.person@other.org", first_name="Neda"),
                ]
            ),
            records,
        ],
        ignore_index=True,
    )  # new records first: ids must not depend on row order
    second = run(added, previous)
    rows = by_key(second.records)
    for key, old_id in previous.items():
        assert rows[key].customer_id == old_id
    assert rows["zendesk:361000000009"].customer_id == previous["salesforce:003000000000001AAA"]
    assert rows["qualtrics:R_9"].customer_id == mint_id("qualtrics:R_9")
    assert second.changes.empty


def test_merges_and_splits_between_runs_are_logged(records: pd.DataFrame) -> None:
    first = run(records)
    ids = dict(zip(first.records["record_key"], first.records["customer_id"], strict=True))
    # pretend the last run had Mohammed's helpdesk user alone and Khalid's two records merged
    previous = dict(ids)
    previous["zendesk:361000000001"] = "cus_old_alone"
    previous["salesforce:003000000000002AAA"] = previous["salesforce:003000000000001AAA"]
    second = run(records, previous, full_refresh=True)
    changes = second.changes.set_index("source_record_id")
    assert changes.loc["361000000001", "change_type"] == "merge"
    assert changes.loc["361000000001", "previous_customer_id"] == "cus_old_alone"
    assert changes.loc["003000000000002AAA", "change_type"] == "split"
    # the larger part keeps the old id: Mohammed's records did not move
    mohammed = by_key(second.records)["salesforce:003000000000001AAA"]
    assert mohammed.customer_id == previous["salesforce:003000000000001AAA"]


def test_a_personal_email_with_the_same_name_joins_only_within_the_account() -> None:
    acme, other = "001000000000001AAA", "001000000000002AAA"
    rows = [
        record("salesforce", "003000000000001AAA", email_raw="david.king@acme.com",
               first_name="David", last_name="King", phone_raw="+16173746587",
               account_hint=acme),
        # the same name and e-mail letters at another company: another David King
        record("zendesk", "1", email_raw="davidking60@yahoo.com", first_name="David",
               last_name="King", account_hint=other),
        # the same personal address style at his own company: him
        record("zendesk", "2", email_raw="davidking7@gmail.com", first_name="David",
               last_name="King", account_hint=acme),
    ]  # fmt: skip
    out = by_key(run(frame(rows)).records)
    crm = out["salesforce:003000000000001AAA"].customer_id
    assert out["zendesk:1"].customer_id != crm
    assert out["zendesk:2"].customer_id == crm
    assert out["zendesk:2"].match_rule == "splink"
