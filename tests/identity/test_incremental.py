"""An incremental identity run gives the full run's map (cxloop.identity.incremental).

Each case resolves a base of hand-written records (551 CRM contacts and helpdesk users:
under MIN_TRAINING_RECORDS, so Splink scores with its documented priors, and a helpdesk user
of a contact's name and company is a match) once, changes the records, and resolves the
same warehouse twice more from that point: incrementally and in full (`incremental=False`).
The map, the change log and the report must be the same, and the incremental run must have
resolved only a part. The last cases cross Splink's training size both ways.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from identity_records import FIRST, LAST, frame, many_records, record, write_person_records

from cxloop.identity.resolve import resolve_warehouse

SETTINGS = {"threshold": 0.9, "max_cluster_size": 3}
REPORTED = [
    "records", "customers", "largest_cluster", "no_identifier", "invalid_emails",
    "invalid_phones", "rules", "changes", "guard_hits", "splink_model",
]  # fmt: skip


def contact(n: int) -> str:
    return f"003{n:012d}AAA"


def account(n: int) -> str:
    return f"001{n:012d}AAA"  # each person's own company


def name(n: int) -> tuple[str, str]:
    """Person n's first and last name (repeated across companies, never within one)."""
    return FIRST[n % 10], LAST[(n // 10) % 10]


def people(count: int) -> pd.DataFrame:
    """`count` CRM contacts, each at their own company, every third one also a helpdesk
    user with a personal e-mail (Splink joins the two: same name and company)."""
    rows = []
    for n in range(count):
        first, last = name(n)
        rows.append(
            record(
                "salesforce",
                contact(n),
                email_raw=f"{first}.{last}@a{n}.com",
                first_name=first,
                last_name=last,
                account_hint=account(n),
            )
        )
        if n % 3 == 0:
            rows.append(
                record(
                    "zendesk",
                    str(360000000000 + n),
                    first_name=first,
                    last_name=last,
                    email_raw=f"{first}{last}{n}@gmail.com",
                    account_hint=account(n),
                )
            )
    return frame(rows)


HASSAN = "001999000000001AAA"  # Mohammed Al-Hassan's account


ZED = [str(380000000000 + k) for k in range(4)]  # four helpdesk users Splink would join


def base_records() -> pd.DataFrame:
    """people(400); four helpdesk users sharing one e-mail: one cluster of four is
    over the guard's three (a guard hit at the e-mail stage every run); four more of one
    name, phone and account with their own e-mails (a guard hit at the Splink stage); a
    contact with a mobile phone; an e-mail of a tab alone."""
    shared = [
        record("zendesk", str(370000000000 + k), email_raw="frontdesk@shared.example",
               first_name="Desk", last_name=f"Agent{k}")
        for k in range(4)
    ]  # fmt: skip
    zed = [
        record("zendesk", key, email_raw=f"zq{k}@host{k}.example", phone_raw="+966502661099",
               first_name="Zed", last_name="Quux", account_hint="001999000000002AAA")
        for k, key in enumerate(ZED)
    ]  # fmt: skip
    hassan = record("salesforce", "003999000000001AAA", email_raw="m.alhassan@acme.sa",
                    phone_raw="+966502661076", first_name="Mohammed", last_name="Al-Hassan",
                    account_hint=HASSAN)  # fmt: skip
    tab = record("zendesk", "390000000099", email_raw="\t", first_name="Tab", last_name="Only")
    rows = [*shared, *zed, hassan, tab, *desk()]
    return pd.concat([people(400), frame(rows)], ignore_index=True)


DESK = "390000000500"  # a front desk sharing its e-mail with three contacts' helpdesk users


def desk() -> list[dict[str, object]]:
    """Three contacts whose helpdesk users (Splink twins) share a desk's e-mail, and the desk:
    a first run reverts the e-mail group of four; a rerun starts from the twins' customers,
    where the cannot-link splits it and the desk joins one (a rerun changes the map)."""
    rows = []
    for k, (first, last) in enumerate([("Sara", "Vance"), ("Omar", "Wolde"), ("Lena", "Xu")]):
        company = f"0019000000000{k}1AAA"
        rows.append(
            record(
                "salesforce",
                f"0039000000000{k}1AAA",
                first_name=first,
                last_name=last,
                email_raw=f"{first}@{company}.example",
                account_hint=company,
            )
        )
        rows.append(
            record(
                "zendesk",
                f"39000000060{k}",
                first_name=first,
                last_name=last,
                email_raw="desk@clash.example",
                account_hint=company,
            )
        )
    rows.append(
        record(
            "zendesk", DESK, email_raw="desk@clash.example", first_name="Front", last_name="Desk"
        )
    )
    return rows


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one (full) identity run over `base_records`."""
    warehouse = tmp_path_factory.mktemp("identity_base") / "cx.duckdb"
    write_person_records(warehouse, base_records())
    first = resolve_warehouse(warehouse, **SETTINGS)
    assert first["splink_model"] == "priors"
    assert [h["stage"] for h in first["guard_hits"]] == [2, 2, 3]  # type: ignore[attr-defined]
    return warehouse


def read(warehouse: Path) -> tuple[pd.DataFrame, list[tuple]]:
    """The map (without the run's id and time) and the last run's change log."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        clusters = con.execute(
            "select * exclude (resolved_at, run_id) from intermediate.identity_clusters "
            "order by source, source_record_id"
        ).df()
        changes = con.execute(
            "select change_type, source, source_record_id, previous_customer_id, customer_id, "
            "detail from ops.identity_changes where run_id = (select run_id from "
            "ops.identity_runs order by resolved_at desc limit 1)"
        ).fetchall()
    finally:
        con.close()
    parsed = [(*row[:5], json.loads(row[5]) if row[5] else None) for row in changes]
    return clusters, sorted(parsed, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def both_ways(
    base: Path, tmp_path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> tuple[dict, dict, pd.DataFrame]:
    """The incremental and the full run after `change`; asserts they wrote the same."""
    inc, full = tmp_path / "inc.duckdb", tmp_path / "full.duckdb"
    shutil.copyfile(base, inc)
    write_person_records(inc, change(base_records()))
    shutil.copyfile(inc, full)
    part = resolve_warehouse(inc, **SETTINGS)
    whole = resolve_warehouse(full, **SETTINGS, incremental=False)
    assert whole["resolved"]["mode"] == "full"  # type: ignore[index]
    (map_a, log_a), (map_b, log_b) = read(inc), read(full)
    pd.testing.assert_frame_equal(map_a, map_b, check_exact=True)
    assert log_a == log_b
    for key in REPORTED:
        assert part[key] == whole[key], key
    return part, whole, map_a


def add(*rows: dict[str, object]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda df: pd.concat([df, frame(list(rows))], ignore_index=True)


def customer(clusters: pd.DataFrame, source_record_id: str) -> str:
    return clusters.loc[clusters["source_record_id"] == source_record_id, "customer_id"].iloc[0]


def test_a_new_record_with_a_customers_email_is_resolved_alone_with_its_reach(
    base: Path, tmp_path: Path
) -> None:
    first, last = name(5)
    new = record("zendesk", "390000000005", email_raw=f"{first}.{last}@a5.com",
                 first_name=first, last_name=last)  # fmt: skip
    part, _, clusters = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    assert 1 <= part["resolved"]["records"] < 20  # type: ignore[index]
    assert customer(clusters, "390000000005") == customer(clusters, contact(5))


def test_a_helpdesk_twin_joins_its_contact_by_splink_alone(base: Path, tmp_path: Path) -> None:
    first, last = name(22)  # person 22 has no helpdesk user yet
    new = record("zendesk", str(360000000000 + 22), email_raw=f"{first}{last}22@gmail.com",
                 first_name=first, last_name=last, account_hint=account(22))  # fmt: skip
    part, _, clusters = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["splink_probes"] >= 1  # type: ignore[index]
    joined = clusters[clusters["source_record_id"] == str(360000000000 + 22)].iloc[0]
    assert (joined["customer_id"], joined["match_rule"]) == (
        customer(clusters, contact(22)),
        "splink",
    )


def test_a_record_only_splink_links_is_found_by_probing_past_the_rules(
    base: Path, tmp_path: Path
) -> None:
    # Mohammed in the helpdesk: other spelling, personal e-mail, his mobile and account;
    # no rule joins them (no shared e-mail or id), only Splink's pair does
    new = record("zendesk", "390000000077", email_raw="muhammad.h@gmail.com",
                 phone_raw="0502661076", account_phone="+966115840910",
                 first_name="Muhammad", last_name="Alhassan", account_hint=HASSAN)  # fmt: skip
    part, _, clusters = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    assert part["resolved"]["splink_probes"] >= 1  # type: ignore[index]
    joined = clusters[clusters["source_record_id"] == "390000000077"].iloc[0]
    assert joined["match_rule"] == "splink"
    assert joined["customer_id"] == customer(clusters, "003999000000001AAA")


def test_a_response_naming_two_contacts_keeps_them_apart_as_a_full_run_does(
    base: Path, tmp_path: Path
) -> None:
    # states contact 7's id and carries contact 8's e-mail: two contacts never join
    first, last = name(8)
    new = record("qualtrics", "R_twice", email_raw=f"{first}.{last}@a8.com",
                 explicit_contact_id=contact(7)[:15])  # fmt: skip
    part, _, clusters = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    assert customer(clusters, contact(7)) != customer(clusters, contact(8))


def test_changed_and_removed_records_move_and_split_as_in_a_full_run(
    base: Path, tmp_path: Path
) -> None:
    twin_12 = str(360000000000 + 12)

    def change(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        # helpdesk user 12 now has contact 13's name and e-mail; contact 15 is gone
        at = df["source_record_id"] == twin_12
        first, last = name(13)
        email = f"{first}.{last}@a13.com"
        df.loc[at, ["first_name", "last_name", "email_raw"]] = [first, last, email]
        df.loc[at, ["email_normalized", "account_hint"]] = [email.lower(), account(13)]
        return df[df["source_record_id"] != contact(15)].reset_index(drop=True)

    part, _, clusters = both_ways(base, tmp_path, change)
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    assert part["resolved"]["removed"] == 1  # type: ignore[index]
    # the last map keeps it with contact 12 (must-link), so contact 13's e-mail cannot join
    # a second contact: as a full run decides
    assert customer(clusters, twin_12) == customer(clusters, contact(12))
    assert contact(15) not in set(clusters["source_record_id"])


def test_a_guard_hit_outside_the_part_is_logged_again(base: Path, tmp_path: Path) -> None:
    new = record("zendesk", "390000000031", email_raw="someone.else@elsewhere.example",
                 first_name="Someone", last_name="Else")  # fmt: skip
    part, whole, _ = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    assert len(part["guard_hits"]) == len(whole["guard_hits"]) == 2  # type: ignore[arg-type]


def test_a_guarded_group_a_rerun_sees_split_by_contacts_changes_as_in_a_full_run(
    base: Path, tmp_path: Path
) -> None:
    # nothing near the desk changes, but a full run starts from the twins' customers and the
    # desk's e-mail group, split by the cannot-link, fits under the guard: the desk joins one
    new = record("zendesk", "390000000032", email_raw="x@unrelated.example", first_name="Xy")
    part, _, clusters = both_ways(base, tmp_path, add(new))
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    twins = {customer(clusters, f"39000000060{k}") for k in range(3)}
    assert customer(clusters, DESK) in twins


@pytest.mark.parametrize("how", ["removed", "changed"])
def test_a_member_leaving_a_guarded_group_lets_the_rest_merge_as_in_a_full_run(
    base: Path, tmp_path: Path, how: str
) -> None:
    # the four Zeds are one Splink group the guard (three) keeps apart; without the last
    # one the other three are not too many. No rule id joins them: the part must hold them
    def change(df: pd.DataFrame) -> pd.DataFrame:
        last = df["source_record_id"] == ZED[-1]
        if how == "removed":
            return df[~last].reset_index(drop=True)
        df = df.copy()
        df.loc[last, ["first_name", "last_name", "phone_raw"]] = ["Other", "Person", None]
        return df

    part, whole, clusters = both_ways(base, tmp_path, change)
    assert part["resolved"]["mode"] == "incremental"  # type: ignore[index]
    zeds = clusters[clusters["source_record_id"].isin(ZED[:3])]
    assert zeds["customer_id"].nunique() == 1 and set(zeds["match_rule"]) == {"splink"}
    assert len(whole["guard_hits"]) == 1  # type: ignore[arg-type]


def test_reaching_splinks_training_size_is_resolved_in_full(base: Path, tmp_path: Path) -> None:
    grown = pd.concat([base_records(), many_records(1100, start=5000)], ignore_index=True)
    part, _, _ = both_ways(base, tmp_path, lambda df: grown)  # 543 + 1,467 records
    assert part["resolved"]["mode"] == "full"  # type: ignore[index]
    assert part["splink_model"] == "trained"


def test_falling_under_splinks_training_size_is_resolved_in_full(tmp_path: Path) -> None:
    # a trained model, then 420 CRM contacts without a helpdesk twin leave: under
    # MIN_TRAINING_RECORDS the priors score every pair, the kept rows the model scored
    trained = tmp_path / "trained.duckdb"
    write_person_records(trained, many_records(1800))
    assert resolve_warehouse(trained, **SETTINGS)["splink_model"] == "trained"
    gone = {contact(n) for n in [n for n in range(1800) if n % 3][:420]}
    (tmp_path / "case").mkdir()
    part, _, _ = both_ways(
        trained,
        tmp_path / "case",
        lambda _: many_records(1800).loc[lambda df: ~df["source_record_id"].isin(gone)],
    )
    assert part["resolved"]["mode"] == "full"  # type: ignore[index]
    assert part["splink_model"] == "priors"


def test_nothing_new_resolves_only_the_last_guard_hits(base: Path, tmp_path: Path) -> None:
    part, _, _ = both_ways(base, tmp_path, lambda df: df)
    # only the last run's guard hits are resolved again (the e-mail group of four, the four
    # Zeds, the desk with three contacts and their helpdesk users)
    assert part["resolved"] == {  # type: ignore[comparoperator]
        "mode": "incremental", "records": 15, "new_or_changed": 0, "removed": 0,
        "splink_probes": part["resolved"]["splink_probes"],  # type: ignore[index]
    }  # fmt: skip


def test_a_map_edited_since_its_run_is_resolved_in_full(base: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "cx.duckdb"
    shutil.copyfile(base, warehouse)
    con = duckdb.connect(str(warehouse))  # as an erasure or a hand edit would
    con.execute(
        "update intermediate.identity_clusters set customer_id = 'cus_edited' "
        f"where source_record_id = '{contact(3)}'"
    )
    con.close()
    report = resolve_warehouse(warehouse, **SETTINGS)
    assert report["resolved"]["mode"] == "full"  # type: ignore[index]
