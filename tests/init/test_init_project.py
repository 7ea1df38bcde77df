"""`cxloop init` on hand-written exports in the vendors' formats, and on the demo's sources.

tests/fixtures/init/acme is a company folder whose folder names say nothing about the systems
(crm_export/, helpdesk/, surveys/, webhooks/): a standard Salesforce org (queryAll with
IsDeleted, no term fields, a Lead export we do not read), Zendesk cursor and time-based pages,
an in-app Qualtrics CSAT in Arabic whose respondent e-mail is embedded data (UTF-8 with BOM,
a preview and an unfinished row, Qualtrics' own `_<Month> <d>, <yyyy>_<hh.mm>` file name), a
Spanish NPS export whose export tag Q1 holds QID5, a SendGrid batch, a HubSpot page, a Typeform
body, and files that are none of these.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.config import ProjectConfig, load_config
from cxloop.demo.generator import generate
from cxloop.demo.truth import project_config
from cxloop.errors import CxloopError
from cxloop.flows.cli import app
from cxloop.init import init_project

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACME = FIXTURES / "init" / "acme"


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    target = tmp_path / "acme"
    shutil.copytree(ACME, target)
    return target


def survey_fields(config: ProjectConfig, source: str) -> dict[str, dict]:
    return {s.survey_id: s.model_dump() for s in config.sources[source].surveys}


def test_each_system_is_found_by_its_format_not_its_folder(acme: Path) -> None:
    result = init_project(acme)
    config = load_config(acme / "cxloop.yaml")
    assert {n: (s.kind, s.path) for n, s in config.sources.items()} == {
        "salesforce": ("salesforce", "crm_export"),
        "zendesk": ("zendesk", "helpdesk"),
        "qualtrics": ("qualtrics", "surveys"),
        "sendgrid": ("sendgrid", "webhooks"),
        "hubspot": ("hubspot", "hubspot_pull"),
    }
    salesforce = next(s for s in result.sources if s.kind == "salesforce")
    assert salesforce.entities == ["Account", "Contact", "Opportunity", "User"]
    zendesk = next(s for s in result.sources if s.kind == "zendesk")
    assert zendesk.entities == ["tickets", "users"]


def test_arabic_in_app_csat_with_embedded_email_is_mapped(acme: Path) -> None:
    init_project(acme)
    surveys = survey_fields(load_config(acme / "cxloop.yaml"), "qualtrics")
    in_app = surveys["in_app_satisfaction"]
    assert in_app["file"] == "In-app satisfaction_*.csv"  # Qualtrics' date suffix made a glob
    assert in_app["fields"] == {"csat": "QID1", "open_text": "QID2_TEXT", "email": "user_email"}
    assert (in_app["kind"], in_app["channel"], in_app["encoding"]) == (
        "in_the_moment",
        "web",  # DistributionChannel `anonymous`: an anonymous link
        "utf-8",
    )
    assert in_app["touchpoint"] == "unknown"  # nothing says which interaction


def test_spanish_nps_is_keyed_on_import_ids_not_export_tags(acme: Path) -> None:
    init_project(acme)
    nps = survey_fields(load_config(acme / "cxloop.yaml"), "qualtrics")["encuesta_nps"]
    assert nps["file"] == "Encuesta NPS *.csv"
    # ExternalReference holds the Contact Ids; staging reads it without a mapping
    assert nps["fields"] == {"nps": "QID5", "nps_group": "QID5_NPS_GROUP", "open_text": "QID6_TEXT"}
    assert (nps["kind"], nps["touchpoint"], nps["channel"]) == (
        "relational",
        "relationship",
        "email",
    )


def test_each_guess_carries_its_evidence_and_the_question_list(acme: Path) -> None:
    init_project(acme)
    text = (acme / "cxloop.yaml").read_text(encoding="utf-8")
    # the questions listed: ImportId, export tag, question text from row 2, range seen
    assert '#   QID1  Q1  "ما مدى رضاك عن تجربتك في التطبيق؟"  1-5 (6 answers)' in text
    assert '#   QID5  Q1  "¿Qué probabilidad hay de que recomiende Acme' in text
    assert 'csat: QID1  # Q1 "ما مدى رضاك عن تجربتك في التطبيق؟", 1-5 (6 answers): "رضا"' in text
    assert "email: user_email  # user_email (embedded data): 4 e-mail addresses" in text
    assert "kind: relational  # an NPS survey with no interaction key; review" in text


def test_a_standard_org_gets_renewal_opportunities(acme: Path) -> None:
    result = init_project(acme)
    salesforce = next(s for s in result.sources if s.kind == "salesforce")
    assert salesforce.churn.method == "renewal_opportunities"
    text = (acme / "cxloop.yaml").read_text(encoding="utf-8")
    assert "    churn:  # who is a customer" in text
    assert "      method: renewal_opportunities  # no term fields" in text
    assert load_config(acme / "cxloop.yaml").sources["salesforce"].churn.method == (
        "renewal_opportunities"
    )
    assert any("no subscription term fields" in note for note in salesforce.notes)
    assert load_config(acme / "cxloop.yaml").sources["salesforce"].columns == {}


def test_custom_term_fields_are_mapped_with_columns(acme: Path) -> None:
    opportunity = acme / "crm_export" / "Opportunity.csv"
    opportunity.write_text(
        '"Id","AccountId","Name","StageName","CloseDate","IsClosed","IsWon",'
        '"Contract_Start__c","Contract_End__c","Region__c"\n'
        '"006Dp000004XyZaIAK","001Dp00000Ulaz4IAB","Acme","Closed Won","2023-02-28","true",'
        '"true","2023-03-01","2024-02-29","EMEA"\n',
        encoding="utf-8",
    )
    result = init_project(acme)
    salesforce = next(s for s in result.sources if s.kind == "salesforce")
    assert salesforce.churn.method == "term_fields"
    assert load_config(acme / "cxloop.yaml").sources["salesforce"].columns == {
        "opportunity": {
            "Subscription_Start_Date__c": "Contract_Start__c",
            "Subscription_End_Date__c": "Contract_End__c",
        }
    }


def test_a_contract_export_with_dates_proposes_the_contract_method(acme: Path) -> None:
    (acme / "crm_export" / "Contract.csv").write_text(
        '"Id","AccountId","Status","StartDate","EndDate","ContractTerm","ContractNumber"\n'
        '"800Dp000000AbCdIAK","001Dp00000Ulaz4IAB","Activated","2023-03-01","2024-02-29",'
        '"12","00000100"\n',
        encoding="utf-8",
    )
    result = init_project(acme)
    salesforce = next(s for s in result.sources if s.kind == "salesforce")
    assert "Contract" in salesforce.entities
    assert salesforce.churn.method == "contract"


def test_unknown_files_are_reported_and_skipped(acme: Path) -> None:
    result = init_project(acme)
    skipped = {str(f.path): f.evidence for f in result.skipped}
    assert set(skipped) == {"crm_export/Lead_dump.csv", "misc/report.json", "notes.txt"}
    assert "key prefix 00Q" in skipped["crm_export/Lead_dump.csv"]
    summary = "\n".join(result.summary())
    assert "skipped notes.txt" in summary and "skipped misc/report.json" in summary


def test_hubspot_is_written_and_typeform_waits_for_its_secret_and_forms(acme: Path) -> None:
    result = init_project(acme)
    assert {s.kind: s.entities for s in result.sources if not s.accepted} == {
        "typeform": ["responses"]
    }
    text = (acme / "cxloop.yaml").read_text(encoding="utf-8")
    assert "  hubspot:\n    kind: hubspot\n    path: hubspot_pull" in text
    assert "  # typeform:\n  #   kind: typeform\n  #   path: typeform" in text


def test_a_zendesk_page_outside_its_entity_folder_is_flagged(acme: Path) -> None:
    (acme / "helpdesk" / "users" / "page1.json").rename(acme / "helpdesk" / "users-page1.json")
    result = init_project(acme)
    notes = [n for s in result.sources if s.kind == "zendesk" for n in s.notes]
    assert any("helpdesk/users-page1.json" in n and "folder named users" in n for n in notes)


def test_an_existing_file_is_not_overwritten_without_force(acme: Path) -> None:
    target = acme / "cxloop.yaml"
    target.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(CxloopError, match="already exists, not overwritten"):
        init_project(acme)
    assert target.read_text(encoding="utf-8") == "# mine\n"
    result = CliRunner().invoke(app, ["init", "--sources", str(acme)])
    assert result.exit_code == 1
    assert "--force" in result.output and len(result.output.strip().splitlines()) == 1
    assert target.read_text(encoding="utf-8") == "# mine\n"
    result = CliRunner().invoke(app, ["init", "--sources", str(acme), "--force"])
    assert result.exit_code == 0, result.output
    assert load_config(target).sources["qualtrics"].surveys


def test_cli_writes_to_output_and_prints_a_summary(acme: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "cxloop.yaml"
    result = CliRunner().invoke(app, ["init", "--sources", str(acme), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output
    assert "qualtrics (qualtrics) in surveys/: 2 survey(s)" in result.output
    assert not (acme / "cxloop.yaml").exists()


def test_a_folder_with_nothing_recognisable_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    with pytest.raises(CxloopError, match="no export cxloop recognises among 1 file"):
        init_project(tmp_path)
    assert not (tmp_path / "cxloop.yaml").exists()


def test_the_hand_written_source_fixtures_get_their_own_mappings(tmp_path: Path) -> None:
    """tests/fixtures/sources has a cxloop.yaml written by hand; init finds the same fields."""
    out, sources = tmp_path / "proposed.yaml", tmp_path / "sources"
    for name in ("salesforce", "zendesk", "qualtrics"):  # the folders its cxloop.yaml names
        shutil.copytree(FIXTURES / "sources" / name, sources / name)
    init_project(sources, out)
    mine = survey_fields(load_config(out), "qualtrics")
    theirs = {
        s.file: s
        for s in load_config(FIXTURES / "sources" / "cxloop.yaml").sources["qualtrics"].surveys
    }
    assert mine["nps_relational"]["fields"] == theirs["nps_relational_*.csv"].fields
    csat = mine["csat_after_ticket"]
    assert csat["fields"] == theirs["csat_after_ticket*.csv"].fields  # Arabic csat + ces
    assert csat["encoding"] == "windows-1256"  # the fixture says cp1256: the same code page


def test_the_demo_sources_give_the_demo_config(tmp_path: Path) -> None:
    """Sources, kinds, paths and every survey mapping equal the demo generator's own file."""
    demo = tmp_path / "demo"
    generate(demo, scale=0.02, seed=7)
    out = tmp_path / "proposed.yaml"
    init_project(demo, out)
    mine, theirs = load_config(out), ProjectConfig.model_validate(project_config())

    def by_source(config: ProjectConfig) -> dict[str, dict]:
        return {
            name: {
                **source.model_dump(exclude={"surveys", "churn"}),
                "surveys": {s.survey_id: s.model_dump() for s in source.surveys},
            }
            for name, source in config.sources.items()
        }

    assert by_source(mine) == by_source(theirs)
    assert mine.churn_methods() == theirs.churn_methods()  # the churn settings dbt gets


def test_other_csvs_beside_the_survey_exports_are_flagged(acme: Path) -> None:
    shutil.copy(acme / "crm_export" / "Lead_dump.csv", acme / "surveys" / "Lead_dump.csv")
    result = init_project(acme)
    [qualtrics] = [s for s in result.sources if s.kind == "qualtrics"]
    assert qualtrics.notes == [
        "the Qualtrics ingest reads every *.csv in surveys/: move surveys/Lead_dump.csv out of it"
    ]


def test_the_proposed_config_ingests_the_exports(
    acme: Path, tmp_path: Path, prefect_harness: None
) -> None:
    """Every system lands with the proposed file as it is written, the standard Salesforce org
    (no term fields: churn from renewal opportunities) included."""
    import csv

    import duckdb

    from cxloop.flows.ingest import ingest as ingest_sources

    init_project(acme)
    warehouse = tmp_path / "cx.duckdb"
    report = ingest_sources(acme, acme / "cxloop.yaml", warehouse, tmp_path / "lake")
    with (acme / "crm_export" / "Opportunity.csv").open(encoding="utf-8", newline="") as f:
        opportunities = sum(1 for _ in csv.reader(f)) - 1
    assert report["entities"]["salesforce.opportunity"]["read"] == opportunities > 0
    assert report["totals"]["read"] == (
        report["totals"]["landed"]
        + report["totals"]["quarantined"]
        + report["totals"]["duplicate"]
        + report["totals"]["erased"]
    )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select survey_id, count(*), count(email), count(csat), count(nps) "
            "from raw.qualtrics__responses group by survey_id order by survey_id"
        ).fetchall()
        events = con.execute("select count(*) from raw.sendgrid__events").fetchone()
        tickets = con.execute("select count(*) from raw.zendesk__tickets").fetchone()
    finally:
        con.close()
    # in-app: 6 responses, 4 carry the embedded e-mail, 6 scores; NPS: 4 responses, 4 scores
    assert rows == [("encuesta_nps", 4, 0, 0, 4), ("in_app_satisfaction", 6, 4, 6, 0)]
    assert events == (2,) and tickets == (1,)


def test_typeform_fields_are_listed_with_the_measure_their_type_suggests(acme: Path) -> None:
    result = init_project(acme)
    [typeform] = [s for s in result.sources if s.kind == "typeform"]
    assert typeform.details == [
        'form aBc12XyZ "Post-support survey": 1 response(s); hidden fields email, ticket_id',
        '  ref nps: nps "How likely are you to recommend us?" -> nps?',
        '  ref effort: opinion_scale 1-7 "How easy was it?" -> ces?',
        '  ref why: long_text "Why?" -> open_text?',
    ]
    text = (acme / "cxloop.yaml").read_text(encoding="utf-8")
    assert '  #   #   ref effort: opinion_scale 1-7 "How easy was it?" -> ces?\n' in text


def test_an_output_that_is_a_folder_is_one_line(acme: Path) -> None:
    with pytest.raises(CxloopError, match="is a folder"):
        init_project(acme, acme / "surveys", force=True)


def test_hubspot_pages_get_one_source_that_lands_every_object(
    tmp_path: Path, prefect_harness: None
) -> None:
    """The hand-written HubSpot pages: one source at their folder; every page and the pipelines
    file land (counts from tests/sources/test_sources_hubspot.py's fixture: 9 files)."""
    from cxloop.flows.ingest import ingest

    sources = tmp_path / "sources"
    shutil.copytree(FIXTURES / "sources" / "hubspot", sources / "hubspot")
    result = init_project(sources, tmp_path / "proposed.yaml")
    (hubspot,) = result.sources
    assert (hubspot.kind, hubspot.path, hubspot.accepted) == ("hubspot", "hubspot", True)
    assert sorted(hubspot.entities) == ["companies", "contacts", "deals", "owners", "pipelines"]
    report = ingest(sources, tmp_path / "proposed.yaml", tmp_path / "cx.duckdb", tmp_path / "lake")
    assert report["totals"]["files"] == 9 and report["totals"]["skipped_files"] == 0
