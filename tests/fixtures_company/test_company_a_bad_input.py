"""Bad deliveries on top of Company A: bad rows are quarantined with the file, row and field,
a bad mapping stops with one line naming the file, row, field and cxloop.yaml key, and
nothing already landed is lost. Ingest only (no dbt): each test lands a copy of the set.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import duckdb
import pytest
from company_a_build import COMPANY_A

from cxloop.errors import SourceError
from cxloop.flows.ingest import ingest as ingest_sources

INAPP_LATER = "qualtrics/inapp_feedback_export_2024-05-06.csv"

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def sources(tmp_path: Path, cx_home: Path) -> Path:
    """A copy of Company A's exports, to add deliveries to."""
    return Path(shutil.copytree(COMPANY_A, tmp_path / "company_a"))


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as con:
        return con.execute(sql).fetchall()


def later_inapp_export(sources: Path, data_rows: list[str]) -> None:
    """The next in-app export: the same three header rows (BOM, CRLF), other responses."""
    first = (sources / "qualtrics" / "inapp_feedback_export.csv").read_bytes()
    header = b"\r\n".join(first.split(b"\r\n")[:3]) + b"\r\n"
    body = "".join(f"{row}\r\n" for row in data_rows).encode("utf-8")
    (sources / INAPP_LATER).write_bytes(header + body)


def test_bad_rows_are_quarantined_with_file_row_and_field(sources: Path, cx_home: Path) -> None:
    warehouse = cx_home / "warehouse" / "cx.duckdb"
    later_inapp_export(
        sources,
        [
            # data row 1: fine
            "2024-05-06 09:00:00,2024-05-06 09:01:00,0,100,60,1,2024-05-06 09:01:01,"
            "R_0aGoodRow6May01,anonymous,EN,9,3,6,,jonas.weber@acme-gmbh.example,,,,5.2.2",
            # data row 2: CES 8 on a 1-7 scale (no N/A code configured for CES)
            "2024-05-06 10:00:00,2024-05-06 10:01:00,0,100,60,1,2024-05-06 10:01:01,"
            "R_0bBadCes6May002,anonymous,EN,9,3,8,,,,,,5.2.2",
            # data row 3: RecordedDate in another format than the export's
            "2024-05-06 11:00:00,2024-05-06 11:01:00,0,100,60,1,06/05/2024 11:01,"
            "R_0cBadDate6May03,anonymous,EN,7,2,5,,,,,,5.2.2",
        ],
    )
    report = ingest_sources(sources, warehouse=warehouse)
    counts = report["entities"]["qualtrics.responses"]
    # 13 + 8 + 7 rows of the first exports, then 3 in the later one: 1 lands, 2 quarantined
    assert (counts["read"], counts["landed"], counts["quarantined"]) == (31, 29, 2)
    quarantined = rows(
        warehouse,
        "select source_file, row_number, field, reason from ops.quarantine order by row_number",
    )
    assert quarantined == [
        (INAPP_LATER, 2, "ces", "ces: '8' is not an integer from 1 to 7"),
        (
            INAPP_LATER,
            3,
            "RecordedDate",
            "RecordedDate: '06/05/2024 11:01' is not a datetime like 2024-05-02 10:01:07",
        ),
    ]


def test_a_not_applicable_code_without_its_mapping_is_quarantined_not_counted(
    sources: Path, cx_home: Path
) -> None:
    # Without `not_applicable: {csat: [6]}` the two N/A answers are out of the 1-5 range:
    # quarantined (rows 5 and 10 of the relational export), never a CSAT of 6.
    config = sources / "cxloop.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("        not_applicable: {csat: [6]}\n", ""), encoding="utf-8")
    warehouse = cx_home / "warehouse" / "cx.duckdb"
    ingest_sources(sources, warehouse=warehouse)
    assert rows(warehouse, "select row_number, field, reason from ops.quarantine") == [
        (5, "csat", "csat: '6' is not an integer from 1 to 5"),
        (10, "csat", "csat: '6' is not an integer from 1 to 5"),
    ]


def test_a_mapping_naming_a_missing_column_stops_with_one_line_and_loses_nothing(
    sources: Path, cx_home: Path
) -> None:
    warehouse = cx_home / "warehouse" / "cx.duckdb"
    ingest_sources(sources, warehouse=warehouse)
    landed_before = rows(warehouse, "select count(*) from raw.qualtrics__responses")
    later_inapp_export(
        sources,
        [
            "2024-05-06 09:00:00,2024-05-06 09:01:00,0,100,60,1,2024-05-06 09:01:01,"
            "R_0aGoodRow6May01,anonymous,EN,9,3,6,,jonas.weber@acme-gmbh.example,,,,5.2.2"
        ],
    )
    config = sources / "cxloop.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("email: user_email", "email: userEmail"), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        ingest_sources(sources, warehouse=warehouse)
    message = str(caught.value)
    assert "\n" not in message
    # the first in-app export landed before and is skipped unread; the new one is refused
    assert message.startswith(
        f"{INAPP_LATER}, row 3, field 'email': no column with ImportId "
        "'userEmail', named by cxloop.yaml surveys[1].fields.email (SV_8bInAppFeedback)"
    )
    assert rows(warehouse, "select count(*) from raw.qualtrics__responses") == landed_before


def test_the_same_exports_delivered_again_add_nothing(sources: Path, cx_home: Path) -> None:
    warehouse = cx_home / "warehouse" / "cx.duckdb"
    first = ingest_sources(sources, warehouse=warehouse)
    again = ingest_sources(sources, warehouse=warehouse)
    # 4 Salesforce + 4 Zendesk + 3 Qualtrics files, each skipped whole the second time
    assert first["totals"]["files"] == again["totals"]["skipped_files"] == 11
    assert again["totals"]["landed"] == again["totals"]["read"] == 0
    assert rows(warehouse, "select count(*) from raw.qualtrics__responses") == [(28,)]
