"""Company A's exports keep the quirks real exports have, and land whole: counts per file.

The ingest counts come from the package's one build (conftest); the file checks read bytes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from company_a_build import COMPANY_A, BuiltCompany

QUALTRICS = sorted((COMPANY_A / "qualtrics").glob("*.csv"))


@pytest.mark.parametrize("path", QUALTRICS, ids=lambda p: p.name)
def test_qualtrics_exports_are_as_qualtrics_writes_them(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM"
    assert data.count(b"\r\n") == data.count(b"\n"), "CRLF line endings"
    rows = list(csv.reader(data.decode("utf-8-sig").splitlines(keepends=True), strict=True))
    names, labels, import_ids = rows[:3]
    assert len(names) == len(labels) == len(import_ids)
    specs = [json.loads(cell) for cell in import_ids]
    assert all("ImportId" in spec for spec in specs)
    zones = {spec["timeZone"] for spec in specs if "timeZone" in spec}
    assert len(zones) == 1, "StartDate, EndDate and RecordedDate carry the export's zone"


def test_salesforce_exports_quote_every_value() -> None:
    for path in sorted((COMPANY_A / "salesforce").glob("*.csv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            assert line.startswith('"') and line.endswith('"'), f"{path.name}: {line}"


# rows per entity, counted in the files by hand (Qualtrics: data rows after the 3 header rows,
# the multi-line Persian answer is one row); nothing quarantined, nothing duplicate
LANDED = {
    "salesforce.account": 3,
    "salesforce.contact": 8,
    "salesforce.opportunity": 3,
    "salesforce.user": 2,
    "zendesk.tickets": 4,
    "zendesk.users": 5,
    "zendesk.organizations": 3,
    "salesforce.contract": 0,
    "zendesk.ticket_comments": 0,
    "zendesk.ticket_events": 0,
    "zendesk.satisfaction_ratings": 2,
    "qualtrics.responses": 13 + 8 + 7,
}


def test_every_row_lands(company_a: BuiltCompany) -> None:
    entities = company_a.ingest["entities"]
    assert {key: counts["landed"] for key, counts in entities.items()} == LANDED
    assert {key: counts["read"] for key, counts in entities.items()} == LANDED
    assert company_a.ingest["totals"]["quarantined"] == 0
    landed = dict(
        company_a.rows(
            "select survey_id, count(*) from raw.qualtrics__responses group by survey_id"
        )
    )
    assert landed == {"SV_3kRelationalNps": 13, "SV_8bInAppFeedback": 8, "SV_5tTicketCsat": 7}


def test_ids_and_embedded_data_land_as_documented(company_a: BuiltCompany) -> None:
    rows = company_a.records(
        'select "ResponseId", contact_id, email, phone, full_name, "ExternalReference" '
        "from raw.qualtrics__responses "
        "where \"ResponseId\" in ('R_7qOmNs5rPart4dX', 'R_3mJwEb3rInApp1X', 'R_2xQmA8vLk3NcP1a')"
        ' order by "ResponseId"'
    )
    assert rows == [
        # ExternalReference is metadata: landed as exported (staging compares 15 characters)
        {
            "ResponseId": "R_2xQmA8vLk3NcP1a",
            "contact_id": None,
            "email": None,
            "phone": None,
            "full_name": None,
            "ExternalReference": "0038d00000AnnaS",
        },
        # the embedded e-mail lands as exported, spaces and case included
        {
            "ResponseId": "R_3mJwEb3rInApp1X",
            "contact_id": None,
            "email": "  Jonas.Weber@ACME-GmbH.example ",
            "phone": None,
            "full_name": None,
            "ExternalReference": None,
        },
        # a 15-character Contact Id mapped as contact_id lands in its 18-character form
        {
            "ResponseId": "R_7qOmNs5rPart4dX",
            "contact_id": "0038d00000OmarNAAR",
            "email": None,
            "phone": None,
            "full_name": None,
            "ExternalReference": None,
        },
    ]
