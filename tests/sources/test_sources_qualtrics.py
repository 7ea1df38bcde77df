"""Qualtrics exports: 3 header rows, ImportId mapping, time zones, encodings, layout errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cxloop.errors import SourceError
from cxloop.settings import Settings
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest, resolve_run
from cxloop.sources.landing import LandResult

Query = Callable[..., list[tuple]]
NPS_FILE = "qualtrics/nps_relational_2024.csv"
CSAT_FILE = "qualtrics/csat_after_ticket.csv"


def _land(run: IngestRun) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == "qualtrics.responses")
    return ingest_entity(run, job)


def _edit_surveys(run: IngestRun, edit: Callable[[list[dict]], None]) -> IngestRun:
    config_file = run.sources_dir / "cxloop.yaml"
    config = yaml.safe_load(config_file.read_text())
    edit(config["sources"]["qualtrics"]["surveys"])
    config_file.write_text(yaml.safe_dump(config))
    return resolve_run(
        Settings().paths, run.sources_dir, warehouse=run.warehouse, lake_dir=run.lake_dir
    )


def test_measures_are_mapped_by_import_id_not_by_export_tag(run: IngestRun, query: Query) -> None:
    _land(run)
    rows = query(
        "select ResponseId, nps, nps_group, open_text, account_id, csat, ces, ticket_id, "
        "survey_id, survey_kind, touchpoint, channel, time_zone, language, _row_number "
        "from raw.qualtrics__responses where _source_file = ? order by _row_number",
        [NPS_FILE],
    )
    assert rows[0] == (
        "R_1a2B3c4D5e6F7g8",
        "9",
        "3",
        'Schnell, freundlich und "kompetent"',
        "0015g00000AbCdEAAV",
        None,
        None,
        None,
        "SV_relational_nps",
        "relational",
        "quarterly",
        "email",
        "America/Denver",
        "DE",
        1,
    )
    assert [(r[0], r[1], r[3], r[13], r[14]) for r in rows[1:]] == [
        ("R_2b3C4d5E6f7G8h9", "6", None, "PT-BR", 2),  # empty cell is null
        ("R_4d5E6f7G8h9I0j1", None, None, "EN", 4),  # unanswered NPS is not an error
    ]


def test_metadata_columns_survive_the_bom_and_crlf(run: IngestRun, query: Query) -> None:
    _land(run)
    [(start, recorded, finished)] = query(
        "select StartDate, RecordedDate, Finished from raw.qualtrics__responses "
        "where ResponseId = 'R_1a2B3c4D5e6F7g8'"
    )
    assert (start, recorded, finished) == ("2024-05-02 10:01:07", "2024-05-02 10:03:41", "1")
    [(answers,)] = query(
        "select answers from raw.qualtrics__responses where ResponseId = 'R_2b3C4d5E6f7G8h9'"
    )
    assert json.loads(answers) == {
        "QID1": "6",
        "QID1_NPS_GROUP": "1",
        "QID2_TEXT": None,
        "account_id": "0015g00000XyZwVAAV",
    }
    columns = {
        c
        for (c,) in query(
            "select column_name from information_schema.columns "
            "where table_name = 'qualtrics__responses'"
        )
    }
    assert "IPAddress" not in columns and "LocationLatitude" not in columns


def test_a_windows_1256_export_lands_when_its_encoding_is_configured(
    run: IngestRun, query: Query
) -> None:
    _land(run)
    assert query(
        "select RecipientLastName, open_text, csat, ces, ticket_id, language, time_zone, "
        "touchpoint from raw.qualtrics__responses where _source_file = ?",
        [CSAT_FILE],
    ) == [("حداد", "خدمة ممتازة", "5", "6", "1002", "AR", "Asia/Dubai", "support_ticket")]


def test_out_of_range_measures_are_quarantined(run: IngestRun, query: Query) -> None:
    results = {r.source_file: r for r in _land(run)}
    assert (
        results[NPS_FILE].rows_read,
        results[NPS_FILE].rows_landed,
        results[NPS_FILE].rows_quarantined,
    ) == (5, 3, 2)
    assert query(
        "select source_file, row_number, field, reason from ops.quarantine "
        "order by source_file, row_number"
    ) == [
        (
            CSAT_FILE,
            2,
            "csat",
            "csat: '0' is not an integer from 1 to 5; ces: '8' is not an integer from 1 to 7",
        ),
        (NPS_FILE, 3, "nps", "nps: '11' is not an integer from 0 to 10"),
        (
            NPS_FILE,
            5,
            "RecordedDate",
            "RecordedDate: '05/06/2024 09:00' is not a datetime like 2024-05-02 10:01:07",
        ),
    ]
    [(original,)] = query("select original from ops.quarantine where field = 'nps'")
    assert original.startswith("2024-05-04 12:00:00,") and not original.endswith("\r")


def test_a_cp1256_file_read_as_utf8_names_the_line_and_encoding(
    run: IngestRun, query: Query
) -> None:
    def drop_encoding(surveys: list[dict]) -> None:
        del surveys[1]["encoding"]

    run = _edit_surveys(run, drop_encoding)
    with pytest.raises(SourceError) as err:
        _land(run)
    # line 2 holds the question labels: Q3's is Arabic, in cp1256
    assert str(err.value).startswith(f"{CSAT_FILE}, row 2, field 'Q3': cannot decode byte 0x")
    assert "at line 2 (expected text in utf-8 (set `encoding:`" in str(err.value)
    assert query("select count(*) from ops.ingest_files") == [(0,)]


def test_a_file_matching_no_survey_mapping_is_an_unknown_layout(run: IngestRun) -> None:
    source = Path(run.sources_dir, NPS_FILE)
    Path(run.sources_dir, "qualtrics/onboarding_survey.csv").write_bytes(source.read_bytes())
    with pytest.raises(SourceError) as err:
        _land(run)
    assert str(err.value) == (
        "qualtrics/onboarding_survey.csv: unknown survey layout: no survey mapping matches this "
        "file (expected exactly one `surveys[].file` glob in cxloop.yaml to match)"
    )


def test_a_legacy_export_without_import_ids_is_an_unknown_layout(run: IngestRun) -> None:
    path = Path(run.sources_dir, NPS_FILE)
    lines = path.read_bytes().decode("utf-8-sig").split("\r\n")
    lines[2] = ",".join(f"V{i}" for i in range(len(lines[0].split(","))))
    path.write_bytes("\r\n".join(lines).encode("utf-8"))
    with pytest.raises(
        SourceError,
        match=rf"{NPS_FILE}, row 3, field 'StartDate': unknown survey "
        r"layout: row 3 is not ImportId JSON",
    ):
        _land(run)


def test_a_mapped_import_id_missing_from_the_file_is_an_error(run: IngestRun) -> None:
    def map_csat_to_absent_question(surveys: list[dict]) -> None:
        surveys[0]["fields"]["csat"] = "QID9"

    run = _edit_surveys(run, map_csat_to_absent_question)
    with pytest.raises(SourceError) as err:
        _land(run)
    assert str(err.value) == (
        f"{NPS_FILE}, row 3, field 'csat': no column with ImportId 'QID9', named by "
        "cxloop.yaml surveys[0].fields.csat (SV_relational_nps) (expected a column whose "
        "row-3 ImportId is 'QID9'; besides the metadata the file has QID1, QID1_NPS_GROUP, "
        "QID2_TEXT, account_id)"
    )
