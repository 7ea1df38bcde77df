"""The demo generator writes the real export formats, deterministically, with a known truth."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import date
from pathlib import Path

import phonenumbers
import pytest

from cxloop.config import load_config
from cxloop.demo.common import sf_checksum
from cxloop.demo.generator import generate
from cxloop.demo.zendesk import _iso

SCALE = 0.04
AS_OF = date(2026, 11, 1)
SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
SF_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
QUOTED_CSV_LINE = re.compile(r'^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$')
RESPONSE_ID = re.compile(r"^R_[A-Za-z0-9]{15}$")
SF_PREFIX = {"Account": "001", "Contact": "003", "User": "005", "Opportunity": "006"}


def _to18(id15: str) -> str:
    """Reference checksum from the fact sheet, written independently of the generator."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for i in range(3):
        bits = "".join("1" if c.isupper() else "0" for c in reversed(id15[i * 5 : i * 5 + 5]))
        suffix += alphabet[int(bits, 2)]
    return id15 + suffix


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, scale=SCALE, seed=42, as_of=AS_OF)


def _sf(demo_dir: Path, name: str) -> list[dict[str, str]]:
    with open(demo_dir / "salesforce" / f"{name}.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _qualtrics(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


def _pages(demo_dir: Path, entity: str) -> list[dict]:
    files = sorted((demo_dir / "zendesk" / entity).glob(f"{entity}-*.json"))
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_data(demo, tmp_path: Path) -> None:
    first, _ = demo
    generate(tmp_path / "again", scale=SCALE, seed=42, as_of=AS_OF)
    generate(tmp_path / "other", scale=SCALE, seed=7, as_of=AS_OF)
    a, b = _all_files(first), _all_files(tmp_path / "again")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    other = _all_files(tmp_path / "other")
    assert other["salesforce/Account.csv"] != a["salesforce/Account.csv"]
    assert other["zendesk/tickets/tickets-0001.json"] != a["zendesk/tickets/tickets-0001.json"]


def test_volume_grows_about_linearly_with_scale(demo, tmp_path: Path) -> None:
    _, small = demo
    big = generate(tmp_path / "big", scale=SCALE * 3, seed=42, as_of=AS_OF)
    for entity in (
        "salesforce.account",
        "salesforce.contact",
        "zendesk.tickets",
        "qualtrics.Support_CSAT",
        "zendesk.ticket_events",
    ):
        assert 2.3 < big[entity] / small[entity] < 3.8, entity


def test_salesforce_ids_have_18_chars_and_valid_checksums(demo) -> None:
    out, _ = demo
    assert _to18("a0D30000001n7Pi") == "a0D30000001n7PiEAI"
    assert sf_checksum("0019000000B98de") == "AAB" and sf_checksum("AAAAAAAAAAAAAAA") == "555"
    seen = 0
    for name, prefix in SF_PREFIX.items():
        for row in _sf(out, name):
            for field in ("Id", "AccountId", "OwnerId"):
                value = row.get(field, "")
                if not value:
                    continue
                assert len(value) == 18 and _to18(value[:15]) == value, (name, field, value)
                seen += 1
            if row["Id"]:
                assert row["Id"].startswith(prefix)
    assert seen > 500


def test_salesforce_csv_quoting_booleans_dates_numbers(demo) -> None:
    out, _ = demo
    for name in SF_PREFIX:
        raw = (out / "salesforce" / f"{name}.csv").read_bytes()
        assert b"\r" not in raw
        lines = raw.decode("utf-8").split("\n")
        assert lines[-1] == "" and all(QUOTED_CSV_LINE.match(line) for line in lines[:-1])
    for name, bool_fields in (
        ("User", ["IsActive"]),
        ("Contact", ["HasOptedOutOfEmail"]),
        ("Opportunity", ["IsClosed", "IsWon"]),
    ):
        for row in _sf(out, name):
            assert all(row[f] in ("true", "false") for f in bool_fields)
    opps = _sf(out, "Opportunity")
    good_dates = [r for r in opps if SF_DATE.match(r["CloseDate"])]
    assert len(opps) - len(good_dates) <= 0.03 * len(opps)
    for r in opps:
        assert re.fullmatch(r"\d+\.\d+", r["Amount"]) and SF_DATETIME.match(r["LastModifiedDate"])
        assert re.fullmatch(r"\d+", r["TotalOpportunityQuantity"])
        assert "Subscription_Start_Date__c" not in r  # a standard org: no custom term fields
    accounts = _sf(out, "Account")
    assert {r["Plan__c"] for r in accounts} <= {"Starter", "Growth", "Enterprise"}
    assert {r["Region__c"] for r in accounts} <= {"EMEA", "NA", "APAC", "LATAM", "MENA"}
    users = _sf(out, "User")
    csm_ids = {u["Id"] for u in users if u["Title"] == "Customer Success Manager"}
    assert {r["OwnerId"] for r in accounts} <= csm_ids


def test_subscriptions_tell_a_consistent_churn_story(demo) -> None:
    out, _ = demo
    truth = {r["account_id"]: r for r in csv.DictReader(open(out / "_truth" / "accounts.csv"))}
    by_account: dict[str, list[dict[str, str]]] = {}
    for o in _sf(out, "Opportunity"):
        if o["Id"] and SF_DATE.match(o["CloseDate"]):
            by_account.setdefault(o["AccountId"], []).append(o)
    churned = [a for a, t in truth.items() if t["churned"] == "true"]
    assert churned and len(churned) < 0.6 * len(truth)
    for acct in churned:
        lost = [o for o in by_account[acct] if o["StageName"] == "Closed Lost"]
        assert len(lost) == 1 and lost[0]["Type"] == "Renewal" and lost[0]["IsWon"] == "false"
        # the renewal is lost before the term's last day (the truth's churn date)
        assert lost[0]["CloseDate"] <= truth[acct]["churn_date"]
    for o in (o for opps in by_account.values() for o in opps):
        if o["IsClosed"] == "false":
            assert o["StageName"] == "Negotiation/Review" and o["CloseDate"] >= str(AS_OF)
    types = {o["Type"] for opps in by_account.values() for o in opps}
    assert {"New Customer", "Renewal", "Existing Customer - Upgrade"} <= types


def test_qualtrics_files_have_three_header_rows_with_import_ids(demo) -> None:
    out, _ = demo
    files = sorted((out / "qualtrics").glob("*.csv"))
    assert {f.name for f in files} >= {
        "Support_CSAT.csv",
        "Interaction_CES.csv",
        "Relational_NPS_2025_Q3.csv",
    }
    zones = set()
    for f in files:
        rows = _qualtrics(f, "cp1256" if f.name == "Interaction_CES.csv" else "utf-8")
        names, import_row = rows[0], [json.loads(cell) for cell in rows[2]]
        assert names[:3] == ["StartDate", "EndDate", "Status"]
        assert all("ImportId" in doc for doc in import_row)
        ids = dict(zip(names, (d["ImportId"] for d in import_row), strict=True))
        assert ids["ResponseId"] == "_recordId"
        zones.add(import_row[0]["timeZone"])
        responses = [r[names.index("ResponseId")] for r in rows[3:]]
        assert sum(bool(RESPONSE_ID.match(r)) for r in responses) >= 0.95 * len(responses)
        for r in rows[3:]:
            assert len(r) == len(names)
        if f.name == "Support_CSAT.csv":
            assert (
                ids["Q5"] == "QID1" and ids["Q6"] == "QID3_TEXT" and ids["TicketId"] == "TicketId"
            )
        if f.name.startswith("Relational_NPS_"):
            assert ids["Q1"] == "QID1" and ids["Q1_NPS_GROUP"] == "QID1_NPS_GROUP"
            assert ids["Q2"] == "QID2_TEXT" and ids["ContactId"] == "ContactId"
    assert {"America/Denver", "Asia/Dubai", "UTC"} <= zones


def test_ces_file_is_windows_1256_not_utf8(demo) -> None:
    out, _ = demo
    raw = (out / "qualtrics" / "Interaction_CES.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("cp1256")
    assert re.search(r"[\u0600-\u06FF]", text)
    assert any(",FA," in line for line in text.splitlines())


def test_zendesk_envelopes_and_export_quirks(demo) -> None:
    out, _ = demo
    tickets = _pages(out, "tickets")
    assert len(tickets) >= 2
    for page in tickets:
        assert set(page) == {
            "tickets",
            "after_url",
            "after_cursor",
            "before_url",
            "before_cursor",
            "end_of_stream",
        }
    assert [p["end_of_stream"] for p in tickets] == [False] * (len(tickets) - 1) + [True]
    first_seen: dict[int, tuple[int, str]] = {}
    reappeared = 0
    for k, page in enumerate(tickets):
        for t in page["tickets"]:
            if t["id"] is None:
                continue
            if t["id"] in first_seen and first_seen[t["id"]][0] < k:
                assert t["updated_at"] > first_seen[t["id"]][1]
                reappeared += 1
            first_seen.setdefault(t["id"], (k, t["updated_at"]))
    assert reappeared >= 1
    for entity in ("users", "organizations", "ticket_events"):
        for page in _pages(out, entity):
            assert set(page) == {entity, "count", "end_time", "next_page", "end_of_stream"}
            assert page["count"] == len(page[entity])
    users = _pages(out, "users")
    assert len(users) >= 2
    assert (
        users[0]["users"][-1] == users[1]["users"][0]
        or users[0]["users"][-2] == users[1]["users"][0]
        or users[0]["users"][-3] == users[1]["users"][0]
    )
    ratings = _pages(out, "satisfaction_ratings")
    assert set(ratings[0]) == {"satisfaction_ratings", "meta", "links"}
    assert ratings[-1]["meta"]["has_more"] is False


def test_ticket_events_drive_reply_resolution_and_reopens(demo) -> None:
    out, _ = demo
    repeated = [e for p in _pages(out, "ticket_events") for e in p["ticket_events"]]
    events = list({e["id"]: e for e in repeated}.values())  # pages repeat boundary records
    assert len(events) < len(repeated)
    assert all(e["event_type"] == "Audit" and isinstance(e["timestamp"], int) for e in events)
    audit_ids = {e["id"] for e in events}
    child_ids = [c["id"] for e in events for c in e["child_events"]]
    assert len(set(child_ids)) == len(child_ids) and not audit_ids & set(child_ids)
    changes = [
        c
        for e in events
        for c in e["child_events"]
        if c["event_type"] == "Change" and "status" in c
    ]
    pairs = {(c["previous_value"], c["status"]) for c in changes}
    assert {
        ("new", "open"),
        ("open", "pending"),
        ("pending", "solved"),
        ("solved", "open"),
        ("solved", "closed"),
    } <= pairs
    comments = [c for e in events for c in e["child_events"] if c["event_type"] == "Comment"]
    assert comments and all(c["html_body"].startswith("<p>") for c in comments)
    ratings = {
        r["ticket_id"]: r["score"]
        for p in _pages(out, "satisfaction_ratings")
        for r in p["satisfaction_ratings"]
        if r["score"] in ("good", "bad")
    }
    final = {}
    for page in _pages(out, "tickets"):
        for t in page["tickets"]:
            if t["id"] is not None:
                final[t["id"]] = t
    for ticket_id, score in ratings.items():
        assert final[ticket_id]["satisfaction_rating"]["score"] == score


def test_about_one_percent_bad_rows_exist(demo) -> None:
    out, _ = demo
    contacts = _sf(out, "Contact")
    blank = sum(1 for r in contacts if not r["Id"])
    bad_dates = sum(1 for r in contacts if not SF_DATETIME.match(r["CreatedDate"]))
    assert 1 <= blank + bad_dates <= 0.03 * len(contacts)
    tickets = [t for p in _pages(out, "tickets") for t in p["tickets"]]
    null_ids = sum(1 for t in tickets if t["id"] is None)
    assert 1 <= null_ids <= 0.03 * len(tickets)
    nps_rows = [
        r
        for f in sorted((out / "qualtrics").glob("Relational_NPS_*.csv"))
        for r in _qualtrics(f)[3:]
    ]
    q1 = 17  # first question column after the 17 metadata columns
    assert any(r[q1] == "11" and r[q1 + 1] == "" for r in nps_rows)
    assert all(r[q1] == "11" or 0 <= int(r[q1]) <= 10 for r in nps_rows)
    bad = sum(
        1
        for r in nps_rows
        if r[q1] == "11" or not r[8] or not r[7][:4].isdigit() or r[7][4] != "-" or r[7][5:7] > "12"
    )
    assert 1 <= bad <= 0.05 * len(nps_rows)


def test_truth_covers_every_person_and_company_record(demo) -> None:
    out, _ = demo
    truth = list(csv.DictReader(open(out / "_truth" / "persons.csv", encoding="utf-8")))
    keys = {(r["source"], r["source_record_id"]) for r in truth}
    contact_ids = {r["Id"] for r in _sf(out, "Contact") if r["Id"]}
    assert {("salesforce", i) for i in contact_ids} <= keys
    end_users = {
        u["id"]
        for p in _pages(out, "users")
        for u in p["users"]
        if u["role"] == "end-user" and u["id"] is not None
    }
    assert {("zendesk", str(i)) for i in end_users} <= keys
    responses = {
        r[8]
        for f in (out / "qualtrics").glob("*.csv")
        for r in _qualtrics(f, "cp1256" if "CES" in f.name else "utf-8")[3:]
        if r[8]
    }
    assert {("qualtrics", r) for r in responses} <= keys
    companies = {
        r["source_record_id"]: r["account_id"]
        for r in csv.DictReader(open(out / "_truth" / "companies.csv"))
    }
    account_ids = {r["Id"] for r in _sf(out, "Account") if r["Id"]}
    orgs = [o for p in _pages(out, "organizations") for o in p["organizations"]]
    assert all(companies[str(o["id"])] in account_ids for o in orgs)
    with_external = [o for o in orgs if o["external_id"]]
    assert 0.75 * len(orgs) <= len(with_external) < len(orgs)
    assert all(companies[str(o["id"])] == o["external_id"] for o in with_external)


def test_identity_differs_across_systems_but_is_resolvable(demo) -> None:
    out, _ = demo
    truth = list(csv.DictReader(open(out / "_truth" / "persons.csv", encoding="utf-8")))
    person_of = {(r["source"], r["source_record_id"]): r["person_id"] for r in truth}
    crm = {person_of[("salesforce", r["Id"])]: r for r in _sf(out, "Contact") if r["Id"]}
    for r in crm.values():
        for field in ("Phone", "MobilePhone"):
            assert phonenumbers.is_valid_number(phonenumbers.parse(r[field]))
    region = {c.name: code for code, c in _regions().items()}
    same, case_or_space, other, phones = 0, 0, 0, 0
    for page in _pages(out, "users"):
        for u in page["users"]:
            if u["role"] != "end-user" or u["id"] is None:
                continue
            c = crm[person_of[("zendesk", str(u["id"]))]]
            if u["email"] == c["Email"]:
                same += 1
            elif u["email"].strip().lower() == c["Email"]:
                case_or_space += 1
            else:
                other += 1
            if u["phone"]:
                parsed = phonenumbers.parse(u["phone"], region[c["MailingCountry"]])
                assert (
                    phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                    == c["Phone"]
                )
                phones += 1
    assert same > case_or_space > 0 and other > 0 and phones > 0
    arabic_crm = [r for r in crm.values() if r["Preferred_Language__c"] in ("ar", "fa")]
    assert arabic_crm and all(r["FirstName"].isascii() for r in arabic_crm)


def _regions() -> dict:
    from types import SimpleNamespace

    from cxloop.demo.common import COUNTRIES

    return {code: SimpleNamespace(name=c["name"]) for code, c in COUNTRIES.items()}


def test_churners_had_worse_experience(demo) -> None:
    out, _ = demo
    accounts = {
        r["account_id"]: r["churned"] == "true"
        for r in csv.DictReader(open(out / "_truth" / "accounts.csv"))
    }
    account_of_contact = {r["Id"]: r["AccountId"] for r in _sf(out, "Contact") if r["Id"]}
    scores: dict[bool, list[int]] = {True: [], False: []}
    for f in (out / "qualtrics").glob("Relational_NPS_*.csv"):
        rows = _qualtrics(f)
        for r in rows[3:]:
            contact = r[rows[0].index("ContactId")]
            if contact in account_of_contact and r[17] != "11":
                scores[accounts[account_of_contact[contact]]].append(int(r[17]))
    mean = {k: sum(v) / len(v) for k, v in scores.items()}
    assert len(scores[True]) >= 10
    assert mean[True] < mean[False] - 0.5


def test_written_project_file_loads(demo) -> None:
    out, _ = demo
    config = load_config(out / "cxloop.yaml")
    assert {s.kind for s in config.sources.values()} == {"salesforce", "zendesk", "qualtrics"}
    for source in config.sources.values():
        assert (out / source.path).is_dir()
    surveys = {s.survey_id: s for s in config.sources["qualtrics"].surveys}
    assert surveys["interaction_ces"].encoding == "windows-1256"
    assert surveys["support_csat"].fields["csat"] == "QID1"
    for s in surveys.values():
        assert list((out / "qualtrics").glob(s.file)), s.file
    assert config.sources["salesforce"].churn_config().method == "renewal_opportunities"


def test_term_fields_option_writes_them_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "terms"
    generate(out, scale=0.02, seed=5, as_of=AS_OF, term_fields=True)
    assert load_config(out / "cxloop.yaml").sources["salesforce"].churn_config().method == (
        "term_fields"
    )
    opps = [o for o in _sf(out, "Opportunity") if o["Id"]]
    assert opps and all(SF_DATE.match(o["Subscription_End_Date__c"]) for o in opps)
    assert all(o["Seats__c"] == o["TotalOpportunityQuantity"] for o in opps)


def test_scale_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale=0)


def test_refuses_to_overwrite_a_folder_it_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "salesforce").mkdir()
    (tmp_path / "salesforce" / "Account.csv").write_text("real data")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        generate(tmp_path, scale=0.01)
    assert (tmp_path / "salesforce" / "Account.csv").read_text() == "real data"


def test_regenerating_replaces_earlier_output(tmp_path: Path) -> None:
    reused, fresh = tmp_path / "reused", tmp_path / "fresh"
    generate(reused, scale=0.06, seed=1)
    pages_before = len(list((reused / "zendesk" / "tickets").glob("*.json")))
    generate(reused, scale=0.02, seed=1)
    generate(fresh, scale=0.02, seed=1)
    assert pages_before > len(list((fresh / "zendesk" / "tickets").glob("*.json")))
    assert _all_files(reused) == _all_files(fresh)


def test_parallel_writers_write_the_same_bytes_and_counts(demo, tmp_path: Path) -> None:
    first, counts = demo  # written in this process (small scales default to no workers)
    parallel = generate(tmp_path / "parallel", scale=SCALE, seed=42, as_of=AS_OF, workers=3)
    a, b = _all_files(first), _all_files(tmp_path / "parallel")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert list(parallel.items()) == list(counts.items())


@pytest.mark.parametrize(
    "ts",
    [0, 59, 3599, 86399, 86400, -1, -86401, 951782400, 1709164799, 1798761599, 4102444800],
)
def test_zendesk_timestamps_are_the_utc_text_of_their_epoch_seconds(ts: int) -> None:
    """Zendesk's `created_at` text for an epoch second: midnight, the day's last second, leap
    days (2000-02-29, 2024-02-28 23:59:59), before 1970 and after 2099."""
    assert _iso(ts) == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def test_zendesk_timestamp_text_worked_by_hand() -> None:
    assert _iso(1798761599) == "2026-12-31T23:59:59Z" and _iso(-1) == "1969-12-31T23:59:59Z"
    assert _iso(951782400) == "2000-02-29T00:00:00Z"
