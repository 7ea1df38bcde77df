"""Generic survey CSVs mapped by column, and the cxloop.yaml keys of the new survey sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from survey_sources import SECRET, SECRET_ENV, ingest, rows, survey_sources

from cxloop.config import load_config
from cxloop.errors import ConfigError, SourceError

ONBOARDING = "survey_csv/onboarding_2024-05.csv"

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return survey_sources(tmp_path)


def test_columns_map_onto_our_fields_and_times_become_utc(folder: Path, tmp_path: Path) -> None:
    counts = ingest(folder, tmp_path)["entities"]["survey_csv.responses"]
    # onboarding: 6 records (one spans two lines), 2 quarantined; in-app: 2 records
    assert (counts["files"], counts["read"], counts["landed"], counts["quarantined"]) == (
        2, 8, 6, 2,
    )  # fmt: skip
    landed = rows(
        tmp_path,
        "select _row_number, responded_at, survey_id, survey_kind, touchpoint, channel, nps, "
        "csat, ces, not_applicable, email, contact_id, open_text "
        "from raw.survey_csv__responses order by _source_file, _row_number",
    )
    assert landed == [
        # in-app, ';'-separated, ISO times: an offset wins, a naive time is Berlin (CEST, +2)
        (1, "2024-05-02T10:00:00Z", "APP_nps", "in_the_moment", "in_app", "in_app", "10",
         None, None, None, "ana.lima@example.com", None, "Top"),
        (2, "2024-05-02T07:15:00Z", "APP_nps", "in_the_moment", "in_app", "in_app", "6",
         None, None, None, None, "0035g00000CyDiaAAF", None),  # 15-char id lands as 18
        # onboarding, Google Forms style M/D/YYYY in New York (EDT, -4)
        (1, "2024-05-02T18:03:11Z", "GF_onboarding", "relational", "onboarding", "email",
         None, "5", "6", None, "ana.lima@example.com", None, "Smooth, thanks"),
        (2, "2024-05-02T20:20:45Z", "GF_onboarding", "relational", "onboarding", "email",
         None, "2", "3", None, "BO.CHEN@example.com", None, 'Took "forever"'),
        (3, "2024-05-03T13:05:00Z", "GF_onboarding", "relational", "onboarding", "email",
         None, None, "5", "csat", "fay@example.com", None, None),  # N/A: no CSAT
        (6, "2024-05-05T03:30:00Z", "GF_onboarding", "relational", "onboarding", "email",
         None, "4", None, None, "hal@example.com", None, "Line one\r\nline two"),
    ]  # fmt: skip
    local = rows(tmp_path, "select responded_at_local from raw.survey_csv__responses "
                 "order by _source_file, _row_number")  # fmt: skip
    assert [t for (t,) in local] == [
        "2024-05-02 12:00:00", "2024-05-02 09:15:00", "2024-05-02 14:03:11",
        "2024-05-02 16:20:45", "2024-05-03 09:05:00", "2024-05-04 23:30:00",
    ]  # fmt: skip
    ids = rows(tmp_path, "select response_id from raw.survey_csv__responses order by 1")
    assert [i for (i,) in ids][:2] == ["r-100", "r-101"]
    assert all(i.startswith("row-") and len(i) == 20 for (i,) in ids[2:])  # no id column
    [(answers,)] = rows(
        tmp_path, "select answers from raw.survey_csv__responses where _row_number = 3 "
        f"and _source_file = '{ONBOARDING}'",
    )  # fmt: skip
    assert json.loads(answers)["How satisfied are you with your onboarding?"] == "N/A"


def test_off_scale_scores_and_bad_times_are_quarantined_by_row(
    folder: Path, tmp_path: Path
) -> None:
    ingest(folder, tmp_path)
    assert rows(
        tmp_path,
        "select row_number, field, reason, original from ops.quarantine "
        "where source = 'survey_csv' order by row_number",
    ) == [
        (4, "csat", "csat: '6' is not an integer from 1 to 5",
         "5/3/2024 10:00:00,gil@example.com,6,5,"),
        (5, "Timestamp",
         "Timestamp: '13/05/2024 10:00:00' is not a timestamp like %m/%d/%Y %H:%M:%S "
         "(timestamp_format)", "13/05/2024 10:00:00,ida@example.com,4,4,"),
    ]  # fmt: skip


def _edit(folder: Path, edit) -> None:  # noqa: ANN001
    path = folder / "cxloop.yaml"
    config = yaml.safe_load(path.read_text())
    edit(config["sources"])
    path.write_text(yaml.safe_dump(config))


def test_a_mapping_naming_a_missing_column_stops_with_file_and_key(
    folder: Path, tmp_path: Path
) -> None:
    _edit(folder, lambda s: s["surveys_csv"]["csv_surveys"][1]["columns"].update(nps="NPS"))
    with pytest.raises(SourceError) as err:
        ingest(folder, tmp_path)
    assert str(err.value) == (
        "survey_csv/inapp_nps_may.csv, row 1, field 'NPS': no column 'NPS', named by "
        "cxloop.yaml csv_surveys[1].columns.nps (APP_nps) (expected one header column of that "
        "name; the header has Response ID, Submitted at, Score, Comment, User email, Contact)"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["typeform"].pop("secret_env"),
            "key 'sources.typeform': Value error, secret_env",
        ),
        (
            lambda s: s["typeform"]["forms"][0].update(fields={"open_text": "why"}, hidden={}),
            "key 'sources.typeform.forms.0': Value error, needs at least one of nps, csat, ces",
        ),
        (
            lambda s: s["typeform"]["forms"][0]["hidden"].update(nps="score"),
            "nps is mapped in both fields and hidden",
        ),
        (
            lambda s: s["salesforce"].update(secret_env="X"),
            "key 'sources.salesforce': Value error, secret_env: only a typeform source has it",
        ),
        (
            lambda s: s["surveys_csv"]["csv_surveys"][0].update(time_zone="Mars/Olympus"),
            "key 'sources.surveys_csv.csv_surveys.0.time_zone': Value error, unknown time zone",
        ),
        (
            lambda s: s["surveys_csv"]["csv_surveys"][0].update(not_applicable={"nps": ["N/A"]}),
            "not_applicable: nps is not mapped in columns",
        ),
        (
            lambda s: s["surveys_csv"]["csv_surveys"][0]["columns"].update(nps_group="G"),
            "key 'sources.surveys_csv.csv_surveys.0.columns.nps_group.[key]': Input should be",
        ),
    ],
)
def test_config_errors_name_the_key(folder: Path, edit, message: str) -> None:  # noqa: ANN001
    _edit(folder, edit)
    with pytest.raises(ConfigError, match=r"cxloop.yaml: ") as err:
        load_config(folder / "cxloop.yaml")
    assert message in str(err.value)


def test_include_partial_on_a_typeform_form_reaches_the_dbt_var(folder: Path) -> None:
    assert load_config(folder / "cxloop.yaml").partial_response_surveys() == []
    _edit(folder, lambda s: s["typeform"]["forms"][0].update(include_partial=True))
    assert load_config(folder / "cxloop.yaml").partial_response_surveys() == ["TF_support"]
