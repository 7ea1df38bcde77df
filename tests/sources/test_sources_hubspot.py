"""HubSpot CRM v3 pages: envelopes, flattened properties, cleared values, archived objects."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from cxloop.errors import ConfigError, SourceError
from cxloop.settings import Settings
from cxloop.sources.contracts import contract_for
from cxloop.sources.ingest import IngestRun, ingest_entity, plan_ingest, resolve_run
from cxloop.sources.landing import LandResult

Query = Callable[..., list[tuple]]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
CONFIG = "version: 1\nsources:\n  crm:\n    kind: hubspot\n    path: hubspot\n"


@pytest.fixture
def hubspot(tmp_path: Path) -> Path:
    """A sources folder holding only the hand-written HubSpot pages."""
    target = tmp_path / "sources"
    shutil.copytree(FIXTURES / "hubspot", target / "hubspot")
    (target / "cxloop.yaml").write_text(CONFIG)
    return target


@pytest.fixture
def run(hubspot: Path, warehouse: Path, lake: Path) -> IngestRun:
    return resolve_run(Settings().paths, hubspot, warehouse=warehouse, lake_dir=lake)


def _land(run: IngestRun, entity: str) -> list[LandResult]:
    job = next(j for j in plan_ingest(run) if j.key == f"hubspot.{entity}")
    return ingest_entity(run, job)


def _counts(result: LandResult) -> tuple[int, int, int, int]:
    return (result.rows_read, result.rows_landed, result.rows_quarantined, result.rows_duplicate)


def test_the_layout_maps_folders_to_entities(run: IngestRun) -> None:
    files = {job.key: [p.name for p in job.files] for job in plan_ingest(run)}
    assert files == {
        "hubspot.companies": ["archived-page-001.json", "page-001.json", "page-002.json"],
        "hubspot.contacts": ["page-001.json"],
        "hubspot.deals": ["page-001.json"],
        "hubspot.owners": ["archived-page-001.json", "page-001.json", "page-002.json"],
        "hubspot.deal_pipelines": ["deals.json"],
        "hubspot.contact_companies": [],  # what `cxloop pull` lands (test_pull_hubspot.py)
        "hubspot.deal_companies": [],
    }


def test_company_pages_land_with_properties_as_columns(run: IngestRun, query: Query) -> None:
    archived, first, second = _land(run, "companies")
    # read = landed + quarantined (+ duplicate) per file
    assert [_counts(r) for r in (archived, first, second)] == [
        (1, 1, 0, 0),
        (2, 2, 0, 0),
        (2, 1, 1, 0),
    ]
    rows = query(
        "select id, name, domain, website, annualrevenue, hubspot_owner_id, archived, "
        "archivedAt, _row_number from raw.hubspot__companies order by id"
    )
    assert rows == [
        (
            "9001",
            "Acme Analytics GmbH",
            "acme-analytics.example",
            "https://www.acme-analytics.example/",
            "12500000",
            "41629779",
            "false",
            None,
            1,
        ),
        # cleared properties stay "" in raw (staging makes them null)
        ("9002", "Globex Retail", "globex.example", "", "", "41629780", "false", None, 2),
        (
            "9003",
            "Initech Ltd",
            "initech.example",
            "initech.example/about",
            "830000.50",
            "",
            "false",
            None,
            1,
        ),
        (
            "9004",
            "Old Umbrella Srl",
            "umbrella-old.example",
            "https://umbrella-old.example",
            "50000",
            "41629779",
            "true",
            "2024-04-01T12:00:00.000Z",
            1,
        ),
    ]


def test_a_bad_property_value_is_quarantined_with_its_field(run: IngestRun, query: Query) -> None:
    _land(run, "companies")
    [(file, row, field, reason, original)] = query(
        "select source_file, row_number, field, reason, original from ops.quarantine"
    )
    assert (file, row, field, reason) == (
        "hubspot/companies/page-002.json",
        2,
        "annualrevenue",
        "annualrevenue: 'about 2M' is not a decimal number",
    )
    assert json.loads(original)["properties"]["name"] == "Bad Revenue SARL"


def test_a_contact_without_an_id_is_quarantined_and_associations_stay_json(
    run: IngestRun, query: Query
) -> None:
    [page] = _land(run, "contacts")
    assert _counts(page) == (4, 3, 1, 0)
    assert query("select row_number, field, reason from ops.quarantine") == [
        (4, "id", "id: is required but empty")
    ]
    rows = query("select id, email, associatedcompanyid, associations from raw.hubspot__contacts")
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id["51"][0] == " Anna.Schmidt@Acme-Analytics.example"
    assert json.loads(by_id["51"][2])["companies"]["results"][0] == {
        "id": "9001",
        "type": "contact_to_company",
    }
    assert by_id["52"][1] is None  # JSON null
    assert by_id["53"][:3] == ("", "", None)  # cleared "" kept; no associations key at all


def test_owners_keep_teams_and_pipelines_keep_stages_as_json(run: IngestRun, query: Query) -> None:
    assert [_counts(r) for r in _land(run, "owners")] == [(1, 1, 0, 0), (2, 2, 0, 0), (1, 1, 0, 0)]
    [pipelines] = _land(run, "deal_pipelines")
    assert _counts(pipelines) == (2, 2, 0, 0)
    [(teams,)] = query("select teams from raw.hubspot__owners where id = '41629779'")
    assert json.loads(teams)[0] == {
        "id": "178588",
        "name": "EMEA Customer Success",
        "primary": True,
    }
    assert query("select userId, archived from raw.hubspot__owners where id = '52000002'") == [
        (None, "true")
    ]
    [(stages,)] = query("select stages from raw.hubspot__deal_pipelines where id = '75648211'")
    assert [s["metadata"] for s in json.loads(stages)][2] == {
        "isClosed": "true",
        "probability": "0.0",
    }


def test_deals_land_and_a_bad_amount_is_quarantined(run: IngestRun, query: Query) -> None:
    [page] = _land(run, "deals")
    assert _counts(page) == (6, 5, 1, 0)
    assert query("select row_number, field, reason from ops.quarantine") == [
        (6, "amount", "amount: '$1,200' is not a decimal number")
    ]
    assert query("select id, dealstage, pipeline from raw.hubspot__deals order by id")[3] == (
        "7004",
        "150012345",
        "75648211",
    )


def test_landing_the_same_pages_again_adds_nothing(run: IngestRun, query: Query) -> None:
    _land(run, "deals")
    [again] = _land(run, "deals")
    assert again.skipped
    assert query("select count(*) from raw.hubspot__deals") == [(5,)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"deals": [], "paging": {}}',
            "hubspot/deals/page-002.json, field 'results': no 'results' array in the page",
        ),
        ('[{"id": "1"}]', "hubspot/deals/page-002.json: the page is a JSON list"),
        (
            '{"results": [], "paging": "next"}',
            "hubspot/deals/page-002.json, field 'paging': 'paging' is not an object",
        ),
    ],
)
def test_a_page_of_another_shape_is_an_error_and_lands_nothing(
    run: IngestRun, query: Query, body: str, message: str
) -> None:
    Path(run.sources_dir, "hubspot/deals/page-002.json").write_text(body)
    with pytest.raises(SourceError) as err:
        _land(run, "deals")
    assert str(err.value).startswith(message + " (expected a HubSpot CRM v3 page like")
    assert "\n" not in str(err.value)
    assert query("select count(*) from ops.ingest_files") == [(0,)]


def test_an_object_without_properties_is_quarantined(run: IngestRun, query: Query) -> None:
    """An owners page dropped into deals/: its results have no properties map."""
    shutil.copy(
        Path(run.sources_dir, "hubspot/owners/page-002.json"),
        Path(run.sources_dir, "hubspot/deals/page-002.json"),
    )
    _, misplaced = _land(run, "deals")
    assert _counts(misplaced) == (1, 0, 1, 0)
    assert query(
        "select field, reason from ops.quarantine where source_file like '%page-002.json'"
    ) == [
        (
            "properties",
            "properties: missing or not an object (expected the object's properties map)",
        )
    ]


def test_a_property_named_like_an_object_key_is_an_error(run: IngestRun) -> None:
    page = Path(run.sources_dir, "hubspot/contacts/page-001.json")
    body = json.loads(page.read_text())
    body["results"][1]["properties"]["archived"] = "yes"
    page.write_text(json.dumps(body))
    with pytest.raises(SourceError) as err:
        _land(run, "contacts")
    assert str(err.value).startswith(
        "hubspot/contacts/page-001.json, row 2, field 'archived': property 'archived' has the "
        "name of the object's own key 'archived'"
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "tickets/page-001.json",
            "hubspot/tickets: not a HubSpot object folder we read ('tickets')",
        ),
        ("companies.json", "hubspot/companies.json: not a HubSpot object file we read"),
        ("pipelines/tickets.json", "hubspot/pipelines/tickets.json: not a pipelines file we read"),
    ],
)
def test_an_unknown_object_is_an_error_naming_it(hubspot: Path, path: str, message: str) -> None:
    target = hubspot / "hubspot" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('{"results": []}')
    run = resolve_run(
        Settings().paths, hubspot, warehouse=hubspot / "cx.duckdb", lake_dir=hubspot / "lake"
    )
    with pytest.raises(SourceError) as err:
        plan_ingest(run)
    text = str(err.value)
    assert text.startswith(f"{hubspot}/") and message in text
    assert "(expected " in text and "\n" not in text


def test_a_columns_mapping_is_a_config_error(hubspot: Path) -> None:
    (hubspot / "cxloop.yaml").write_text(CONFIG + "    columns: {deals: {amount: arr}}\n")
    run = resolve_run(
        Settings().paths, hubspot, warehouse=hubspot / "cx.duckdb", lake_dir=hubspot / "lake"
    )
    with pytest.raises(ConfigError, match=r"key 'columns' of the hubspot source at 'hubspot'"):
        plan_ingest(run)


@pytest.mark.parametrize(
    ("entity", "row", "reason"),
    [
        (
            "contacts",
            {"id": "51", "createdAt": "2024-01-05 10:00:00"},
            "createdAt: '2024-01-05 10:00:00' is not an ISO datetime like 2024-02-01T08:30:12.345Z",
        ),
        (
            "deals",
            {"id": "7001", "closedate": "30/06/2024"},
            "closedate: '30/06/2024' is not an ISO datetime like 2024-06-30T00:00:00Z "
            "or a date like 2024-06-30",
        ),
        (
            "companies",
            {"id": "9001", "hubspot_owner_id": "maria"},
            "hubspot_owner_id: 'maria' is not a HubSpot id (a numeric string)",
        ),
        (
            "owners",
            {"id": "41629779", "archived": "no"},
            "archived: 'no' is not a boolean (true/false or 1/0)",
        ),
    ],
)
def test_contract_reasons(entity: str, row: dict[str, str], reason: str) -> None:
    [violation] = contract_for("hubspot", entity).violations(row)
    assert violation.reason == reason


@pytest.mark.parametrize(
    "row",
    [
        {
            "id": "7001",
            "closedate": "2024-06-30",
            "amount": "1500.00",
            "createdAt": "2024-01-05T10:00:00Z",
        },
        {"id": "7001", "closedate": "", "amount": "", "hubspot_owner_id": ""},
        {"id": "7001", "updatedAt": "2024-02-01T08:30:12.345+01:00", "archived": "false"},
    ],
)
def test_contract_accepts_what_hubspot_sends(row: dict[str, str]) -> None:
    assert contract_for("hubspot", "deals").violations(row) == []


def test_an_empty_last_page_lands_nothing_and_is_recorded(run: IngestRun, query: Query) -> None:
    Path(run.sources_dir, "hubspot/deals/page-002.json").write_text('{"results": []}')
    _, empty = _land(run, "deals")
    assert _counts(empty) == (0, 0, 0, 0)
    assert query("select count(*) from ops.ingest_files where entity = 'deals'") == [(2,)]
