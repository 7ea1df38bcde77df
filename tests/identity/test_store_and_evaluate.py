"""The identity step against a real DuckDB file, and `cxloop identity evaluate`."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from identity_records import ACME_PHONE as ACME
from identity_records import frame, many_records, record, write_person_records
from typer.testing import CliRunner

from cxloop.config import IdentityConfig
from cxloop.flows.cli import app
from cxloop.identity import resolve_identities
from cxloop.identity.evaluate import TruthFileError, pairwise_metrics, read_truth
from cxloop.identity.normalize import prepare
from cxloop.identity.resolve import resolve_warehouse
from cxloop.identity.store import IdentityError


def table(warehouse: Path, sql: str) -> pd.DataFrame:
    """Query the warehouse read-only."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_step_writes_one_row_per_record_and_logs_changes(
    tmp_path: Path, records: pd.DataFrame
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)
    first = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    clusters = table(warehouse, "select * from intermediate.identity_clusters")
    assert len(clusters) == len(records) == first["records"]
    assert not clusters.duplicated(["source", "source_record_id"]).any()
    assert {"load", "prepare", "rules", "cluster", "save"} <= set(first["timings"])  # type: ignore[arg-type]
    before = dict(zip(clusters["source_record_id"], clusters["customer_id"], strict=True))

    # a new helpdesk user with Khalid's e-mail joins Khalid; no existing id changes
    added = pd.concat(
        [records, frame([record("zendesk", "99", email_raw="khalid.haddad@acme.sa")])],
        ignore_index=True,
    )
    write_person_records(warehouse, added)
    second = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    after = table(warehouse, "select * from intermediate.identity_clusters")
    assert len(after) == len(added)
    moved = {r: cid for r, cid in zip(after["source_record_id"], after["customer_id"], strict=True)}
    assert all(moved[r] == cid for r, cid in before.items())  # existing ids kept
    assert moved["99"] == before["003000000000002AAA"]  # joined Khalid
    assert second["run_id"] != first["run_id"]


def test_splink_trains_once_and_reuses_its_model_while_records_change_little(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, many_records(1800))  # 2,400 records
    first = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    assert first["splink_model"] == "trained"
    kept = table(warehouse, "select run_id, records from ops.identity_models")
    assert kept.values.tolist() == [[first["run_id"], 2400]]

    write_person_records(warehouse, many_records(1890))  # 2,520: +5.0%
    second = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    assert second["splink_model"] == "reused"
    assert table(warehouse, "select run_id from ops.identity_models").run_id.tolist() == [
        first["run_id"]
    ]

    write_person_records(warehouse, many_records(1893))  # 2,524: past +5% of 2,400
    third = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    assert third["splink_model"] == "trained"
    kept = table(warehouse, "select run_id, records from ops.identity_models")
    assert kept.values.tolist() == [[third["run_id"], 2524]]  # the older model is gone

    ids = table(
        warehouse, "select source_record_id, customer_id from intermediate.identity_clusters"
    )
    retrained = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25, retrain=True)
    assert retrained["splink_model"] == "trained"  # a dbt full refresh (the build's retrain)
    again = table(
        warehouse, "select source_record_id, customer_id from intermediate.identity_clusters"
    )
    assert (
        again.sort_values("source_record_id").values.tolist()
        == ids.sort_values("source_record_id").values.tolist()
    )  # the last map still keeps the ids
    refreshed = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25, full_refresh=True)
    assert refreshed["splink_model"] == "trained"  # --full-refresh never reuses
    # other settings (or identity code, or libraries): the model is not theirs
    other = resolve_warehouse(warehouse, threshold=0.8, max_cluster_size=25)
    assert other["splink_model"] == "trained"


def test_guard_hits_are_rows_in_identity_changes(tmp_path: Path, records: pd.DataFrame) -> None:
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)
    report = resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=2)
    rows = table(warehouse, "select * from ops.identity_changes")
    hits = rows[rows["change_type"] == "over_merge_guard"]
    assert len(hits) == len(report["guard_hits"]) >= 1  # type: ignore[arg-type]
    assert json.loads(hits["detail"].iloc[0])["size"] > 2


def test_resolve_identities_runs_without_prefect_and_logs_its_summary(
    tmp_path: Path, records: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)
    with caplog.at_level(logging.INFO, logger="cxloop.identity"):
        report = resolve_identities(warehouse, IdentityConfig(max_cluster_size=2))
    assert report["records"] == len(records)
    logged = [r for r in caplog.records if r.name == "cxloop.identity"]
    summary = f"{len(records)} records -> {report['customers']} customers"
    assert summary in logged[0].getMessage()
    guard = [r for r in logged if r.levelno == logging.WARNING]
    assert len(guard) == len(report["guard_hits"]) >= 1  # type: ignore[arg-type]
    assert "over-merge guard" in guard[0].getMessage()


def test_step_without_phase_1_names_the_missing_table(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="int_person_records__unioned"):
        resolve_warehouse(tmp_path / "cx.duckdb", threshold=0.9, max_cluster_size=25)


def write_truth(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A persons.csv in the generator's format."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["source,source_record_id,person_id"] + [",".join(r) for r in rows]
    (folder / "persons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


TRUTH = [
    ("salesforce", "a", "P1"), ("zendesk", "1", "P1"), ("qualtrics", "r1", "P1"),
    ("salesforce", "b", "P2"), ("zendesk", "2", "P2"),
    ("salesforce", "c", "P3"),
]  # fmt: skip


def test_pairwise_metrics_on_a_hand_truth(tmp_path: Path) -> None:
    truth = read_truth(write_truth(tmp_path / "_truth", TRUTH))
    predicted = pd.DataFrame(
        [  # P1 split (r1 alone), P2 right, c wrongly merged into P2
            ("salesforce", "a", "X"), ("zendesk", "1", "X"), ("qualtrics", "r1", "Y"),
            ("salesforce", "b", "Z"), ("zendesk", "2", "Z"), ("salesforce", "c", "Z"),
        ],
        columns=["source", "source_record_id", "customer_id"],
    )  # fmt: skip
    m = pairwise_metrics(predicted, truth)
    # true pairs: P1 3 + P2 1 = 4; predicted: X 1 + Z 3 = 4; correct: a-1, b-2 = 2
    assert (m["true_pairs"], m["predicted_pairs"], m["correct_pairs"]) == (4, 4, 2)
    assert m["precision"] == m["recall"] == m["f1"] == 0.5
    assert (m["clusters"], m["largest_cluster"], m["singleton_clusters"]) == (3, 3, 1)


def test_truth_without_person_id_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "_truth"
    folder.mkdir()
    (folder / "persons.csv").write_text("source,source_record_id\nzendesk,1\n")
    with pytest.raises(TruthFileError, match=r"persons.csv.*person_id"):
        read_truth(folder)


def test_cli_evaluate_prints_metrics_as_json(tmp_path: Path) -> None:
    warehouse = tmp_path / "cx.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute(
        "create table marts.customer_identity_map as select * from (values "
        "('salesforce','a','X'),('zendesk','1','X'),('qualtrics','r1','X'),"
        "('salesforce','b','Z'),('zendesk','2','Z'),('salesforce','c','W')) "
        "t(source, source_record_id, customer_id)"
    )
    con.close()
    truth = write_truth(tmp_path / "_truth", TRUTH)
    args = ["identity", "evaluate", "--truth", str(truth), "--warehouse", str(warehouse), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (1.0, 1.0, 1.0)
    assert metrics["largest_cluster"] == 3


def test_cli_evaluate_without_truth_fails_with_the_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["identity", "evaluate", "--truth", str(tmp_path / "nope"), "--warehouse", "x"]
    )
    assert result.exit_code == 1
    assert "persons.csv" in result.output


def test_a_merge_between_runs_is_a_row_in_identity_changes(
    tmp_path: Path, records: pd.DataFrame
) -> None:
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)
    resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    con = duckdb.connect(str(warehouse))  # as if the last run had this user on its own
    con.execute(
        "update intermediate.identity_clusters set customer_id = 'cus_old' "
        "where source = 'zendesk' and source_record_id = '361000000001'"
    )
    con.close()
    resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    changes = table(warehouse, "select * from ops.identity_changes")
    row = changes[changes["source_record_id"] == "361000000001"].iloc[0]
    assert (row["change_type"], row["previous_customer_id"]) == ("merge", "cus_old")
    mapped = table(
        warehouse,
        "select customer_id from intermediate.identity_clusters "
        "where source_record_id in ('361000000001', '003000000000001AAA')",
    )
    assert mapped["customer_id"].nunique() == 1


def test_identity_is_skipped_only_while_records_and_map_are_what_a_good_build_consumed(
    tmp_path: Path, records: pd.DataFrame
) -> None:
    from cxloop.quality.gate import finish_build, start_build

    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)

    def step(build_id: str, config: IdentityConfig | None = None, ok: bool = True) -> dict:
        start_build(warehouse, build_id, None)
        report = resolve_identities(warehouse, config, build_id=build_id, reuse=True)
        finish_build(warehouse, build_id, [], ok=ok)
        return report

    failed = step("b1", ok=False)  # resolved, then the build failed: never consumed
    assert not failed["skipped"] and failed["clusters_changed"]
    first = step("b2")
    assert not first["skipped"] and first["clusters_changed"]  # no good build before it
    assert step("b3") == {"skipped": True, "records_changed": False, "clusters_changed": False}

    con = duckdb.connect(str(warehouse))  # an erasure-like edit of the map
    con.execute("delete from intermediate.identity_clusters where source_record_id = 'R_3'")
    con.close()
    restored = step("b4")
    assert not restored["skipped"]  # the map is not the one consumed: resolve again
    assert (restored["records_changed"], restored["clusters_changed"]) == (False, False)
    assert not step("b5", IdentityConfig(max_cluster_size=3))["skipped"]  # settings changed

    added = pd.concat([records, frame([record("zendesk", "99", email_raw="x@y.sa")])])
    write_person_records(warehouse, added)
    grown = step("b6", IdentityConfig(max_cluster_size=3))
    assert not grown["skipped"] and grown["records_changed"] and grown["clusters_changed"]
    runs = table(warehouse, "select build_id, records from ops.identity_runs order by resolved_at")
    assert list(runs["build_id"]) == ["b1", "b2", "b4", "b5", "b6"]
    assert list(runs["records"]) == [len(records)] * 4 + [len(records) + 1]


def test_phones_are_parsed_again_only_where_their_inputs_changed(
    tmp_path: Path, records: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import phonenumbers

    parsed: list[str] = []
    real_parse = phonenumbers.parse

    def counting_parse(text: str, region: str | None = None) -> object:
        parsed.append(text)
        return real_parse(text, region)

    monkeypatch.setattr(phonenumbers, "parse", counting_parse)
    warehouse = tmp_path / "cx.duckdb"
    write_person_records(warehouse, records)
    resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    assert parsed  # the first run parses every distinct phone

    # Khalid's CRM phone changes to his mobile; a new helpdesk user brings a local number
    changed = records.copy()
    khalid = changed["source_record_id"] == "003000000000002AAA"
    changed.loc[khalid, "phone_raw"] = "+966 50 266 1077"
    changed = pd.concat(
        [changed, frame([record("zendesk", "99", phone_raw="050 111 2233", account_phone=ACME)])],
        ignore_index=True,
    )
    write_person_records(warehouse, changed)
    parsed.clear()
    resolve_warehouse(warehouse, threshold=0.9, max_cluster_size=25)
    # only the two changed records' phones (and their account phone's region) are parsed
    assert set(parsed) <= {"+966 50 266 1077", "050 111 2233", ACME}
    assert "+966 50 266 1077" in parsed and "050 111 2233" in parsed
    phones = table(
        warehouse,
        "select source_record_id, phone_e164, is_phone_valid, phone_any "
        "from intermediate.identity_clusters order by source, source_record_id",
    ).set_index("source_record_id")
    assert phones.loc["003000000000002AAA", "phone_e164"] == "+966502661077"
    assert phones.loc["99", "phone_e164"] == "+966501112233"  # national, region from the account
    assert phones.loc["003000000000001AAA", "phone_any"] == "+966115840910"  # kept from run 1

    # the reused columns are those a run without reuse computes
    fresh = prepare(changed.sort_values(["source", "source_record_id"]))
    columns = ["phone_e164", "is_phone_valid", "phone_any"]
    expected = fresh.set_index("source_record_id")[columns].astype(object)
    got = phones[columns].astype(object)
    assert (
        got.where(got.notna(), None).to_dict() == expected.where(expected.notna(), None).to_dict()
    )

    # other settings (or code): nothing is reused
    parsed.clear()
    resolve_warehouse(warehouse, threshold=0.8, max_cluster_size=25)
    assert {"+966115840910", "011 584 0910"} <= set(parsed)
