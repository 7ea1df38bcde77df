"""The Salesforce connector against a local org (salesforce_api.py): OAuth, Bulk API 2.0 jobs,
result pages by locator, the SystemModstamp watermark, and ingest of what it lands."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pullkit import ingest_raw, write_config
from salesforce_api import SalesforceApp, read_csv
from vendor_http import Request, VendorServer, serve

from cxloop.config import load_config
from cxloop.connectors.http import ApiAuthError, ApiError
from cxloop.connectors.run import check_source, pull_source
from cxloop.errors import ConfigError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectors" / "salesforce"
OBJECTS = ("Account", "Contact", "Opportunity", "User")
ENV = {"TEST_SF_CLIENT_ID": "3MVG9-test-client", "TEST_SF_CLIENT_SECRET": "sf-secret-123"}
CREDENTIALS = {"client_id": "TEST_SF_CLIENT_ID", "client_secret": "TEST_SF_CLIENT_SECRET"}
DATA = "/services/data/v62.0"


@pytest.fixture
def org() -> SalesforceApp:
    app = SalesforceApp()
    for sobject in OBJECTS:
        app.put(sobject, *read_csv((FIXTURES / f"{sobject}.csv").read_text(encoding="utf-8")))
    return app


@pytest.fixture
def server(org: SalesforceApp) -> Iterator[VendorServer]:
    with serve(org) as running:
        yield running


@pytest.fixture
def sf_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return ENV


def source(url: str, **api: object) -> dict:
    return {"kind": "salesforce", "path": "salesforce",
            "api": {"base_url": url, "credentials": CREDENTIALS, **api}}  # fmt: skip


def pull(sources: Path, url: str, **api: object) -> dict:
    config = load_config(write_config(sources, {"crm": source(url, **api)}))
    return pull_source(sources, "crm", config.sources["crm"])


def rows(sources: Path, sobject: str) -> list[dict[str, str]]:
    pages = sorted((sources / "salesforce" / sobject).glob("*.csv"))
    return [r for p in pages for r in csv.DictReader(io.StringIO(p.read_text(encoding="utf-8")))]


def state(sources: Path) -> dict:
    return json.loads((sources / "salesforce/.cxloop-pull/state.json").read_text())["streams"]


def test_job_lifecycle_locator_pages_and_the_watermark(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    report = pull(tmp_path, server.url, page_size=2, entities=["account"])
    assert report["records"] == 3 and report["pages"] == 2
    names = sorted(p.name for p in (tmp_path / "salesforce" / "Account").iterdir())
    assert names == ["pull-00000001.csv", "pull-00000002.csv"]
    # token, describe, create, InProgress, JobComplete, two result pages by locator
    assert server.paths() == [
        "/services/oauth2/token", f"{DATA}/sobjects/Account/describe", f"{DATA}/jobs/query",
        *[f"{DATA}/jobs/query/750xx0000000001AAA"] * 2,
        *[f"{DATA}/jobs/query/750xx0000000001AAA/results"] * 2]  # fmt: skip
    job = json.loads(server.requests[2].body)
    assert job["operation"] == "queryAll" and job["contentType"] == "CSV"
    assert job["query"] == (
        "SELECT Id, IsDeleted, CreatedDate, LastModifiedDate, SystemModstamp, Name, Type, "
        "Industry, BillingCountry, Website, Phone, OwnerId, Plan__c, Region__c FROM Account"
    )
    results = server.requests[5:]
    assert [r.query for r in results] == [
        {"maxRecords": "2"},
        {"maxRecords": "2", "locator": "NzUweHgwMDAwMDAwMDAxQUFBOjI="},
    ]
    # each page is the bytes Salesforce sent: quoted values, the header in SELECT order
    first = (tmp_path / "salesforce/Account/pull-00000001.csv").read_text()
    assert first.startswith('"Id","IsDeleted","CreatedDate",')
    assert [r["Name"] for r in rows(tmp_path, "Account")] == [
        "Acme Corp", 'Globex, "the" Company', "Initech"]  # fmt: skip
    assert state(tmp_path)["account"]["cursor"] == {"watermark": "2024-03-28T08:01:00.000Z"}

    # the next pull asks from the watermark, inclusive: the two records of 08:01:00 again
    # (ties at the boundary) and what changed since
    org.put("Account", {**read_csv((FIXTURES / "Account.csv").read_text())[0],
                        "Name": "Acme Corporation", "SystemModstamp": "2024-04-01T10:00:00.000Z",
                        "LastModifiedDate": "2024-04-01T10:00:00.000Z"})  # fmt: skip
    server.requests.clear()
    again = pull(tmp_path, server.url, page_size=2, entities=["account"])
    assert json.loads(server.requests[2].body)["query"].endswith(
        "FROM Account WHERE SystemModstamp >= 2024-03-28T08:01:00Z"
    )
    assert again["records"] == 3
    assert state(tmp_path)["account"]["cursor"] == {"watermark": "2024-04-01T10:00:00.000Z"}


def test_429_retry_after_500_then_success_and_an_empty_result(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    server.fail(f"{DATA}/jobs/query", 500)
    server.fail(f"{DATA}/jobs/query/750xx0000000001AAA/results", 429, Retry_After="1")
    report = pull(tmp_path, server.url, entities=["user"])
    assert report["retries"] == 1 and report["rate_limited"] == 1 and report["records"] == 2
    assert [r["Username"] for r in rows(tmp_path, "User")] == [
        "maria.rossi@acme-crm.example.com", "sam.lee@acme-crm.example.com"]  # fmt: skip

    # nothing at or after the watermark: the job completes empty, no page is asked or written
    org.records["User"] = {}
    server.requests.clear()
    nothing = pull(tmp_path, server.url, entities=["user"])
    assert nothing["records"] == 0 and nothing["pages"] == 0
    assert not any(p.endswith("/results") for p in server.paths())
    assert len(list((tmp_path / "salesforce" / "User").iterdir())) == 1
    assert state(tmp_path)["user"]["cursor"] == {"watermark": "2024-01-15T09:00:00.000Z"}


def test_a_pull_stopped_between_pages_resumes_the_same_job_at_its_locator(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    results = f"{DATA}/jobs/query/750xx0000000001AAA/results"

    def drop_the_second_page(request: Request) -> None:
        if request.path == results:  # page 1 is answered; the next results request is dropped
            server.fail(results, 0, times=1)

    server.before = drop_the_second_page
    with pytest.raises(ApiError, match="RemoteProtocolError after 1 attempts"):
        pull(tmp_path, server.url, page_size=2, entities=["opportunity"], max_retries=0)
    saved = state(tmp_path)["opportunity"]
    assert saved["next_seq"] == 2 and saved["cursor"]["job"] == "750xx0000000001AAA"
    assert saved["cursor"]["locator"] and saved["cursor"]["watermark"] is None

    # a record updated after the job was created is not in its snapshot
    org.put("Opportunity", {**org.records["Opportunity"]["0065g00000NewGlAAJ"],
                            "StageName": "Closed Won", "IsClosed": "true", "IsWon": "true",
                            "SystemModstamp": "2024-07-01T09:00:00.000Z"})  # fmt: skip
    server.before, server.faults = None, []
    server.requests.clear()
    resumed = pull(tmp_path, server.url, page_size=2, entities=["opportunity"])
    assert f"{DATA}/jobs/query" not in server.paths()  # no new job: the saved one resumed
    assert server.requests[-1].query["locator"] == saved["cursor"]["locator"]
    assert resumed["records"] == 1
    ids = [r["Id"] for r in rows(tmp_path, "Opportunity")]
    assert sorted(ids) == ["0065g00000LostIAAR", "0065g00000NewGlAAJ", "0065g00000RenwAAAR"]
    deleted = [r for r in rows(tmp_path, "Opportunity") if r["IsDeleted"] == "true"]
    assert [r["Name"] for r in deleted] == ["Initech expansion"]  # queryAll: deletions arrive
    # the update made while paging comes with the next pull (beside the record at the
    # watermark, again: a duplicate row that ingest lands once)
    later = pull(tmp_path, server.url, page_size=2, entities=["opportunity"])
    assert later["records"] == 2
    last = {r["Id"]: r["StageName"] for r in rows(tmp_path, "Opportunity")[-2:]}
    assert last == {"0065g00000NewGlAAJ": "Closed Won", "0065g00000RenwAAAR": "Closed Won"}


def test_a_job_salesforce_no_longer_knows_is_created_again(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    server.fail(f"{DATA}/jobs/query/750xx0000000001AAA", 503, times=10)
    with pytest.raises(ApiError, match="HTTP 503"):
        pull(tmp_path, server.url, entities=["contact"], max_retries=0)
    assert state(tmp_path)["contact"]["cursor"]["job"] == "750xx0000000001AAA"
    org.forget_jobs()
    server.faults.clear()
    report = pull(tmp_path, server.url, entities=["contact"])
    assert report["records"] == 3
    assert server.paths().count(f"{DATA}/jobs/query") == 2


def test_a_failed_job_is_one_line_with_salesforces_message(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    org.job_failure = "EXCEEDED_QUOTA: daily Bulk API limit"
    with pytest.raises(ApiError) as err:
        pull(tmp_path, server.url, entities=["account"])
    assert "\n" not in str(err.value)
    assert "job 750xx0000000001AAA is Failed: EXCEEDED_QUOTA" in str(err.value)


def test_auth_errors_and_secrets_are_nowhere(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    pull(tmp_path, server.url, entities=["account", "user"])
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in (b"sf-secret-123", org.token.encode()):
        assert secret not in written and secret.decode() not in caplog.text

    monkeypatch.setenv("TEST_SF_CLIENT_SECRET", "wrong-secret")
    with pytest.raises(ApiAuthError) as err:
        pull(tmp_path, server.url)
    message = str(err.value)
    assert message.startswith(f"POST {server.url}/services/oauth2/token: HTTP 400 invalid_client")
    assert "sources.crm.api.credentials" in message and "wrong-secret" not in message
    monkeypatch.delenv("TEST_SF_CLIENT_SECRET")
    with pytest.raises(ConfigError, match="TEST_SF_CLIENT_SECRET is not set"):
        pull(tmp_path, server.url)


def test_jwt_bearer_flow(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    org.public_key = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    monkeypatch.setenv("TEST_SF_KEY", pem.replace("\n", "\\n"))  # as one env line
    monkeypatch.setenv("TEST_SF_CLIENT_ID", org.client_id)
    monkeypatch.setenv("TEST_SF_USER", org.username)
    creds = {"client_id": "TEST_SF_CLIENT_ID", "username": "TEST_SF_USER",
             "private_key": "TEST_SF_KEY"}  # fmt: skip
    report = pull(tmp_path, server.url, entities=["user"], credentials=creds)
    assert report["records"] == 2
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    org.public_key = other.public_key()
    with pytest.raises(ApiAuthError, match="HTTP 400 invalid_grant"):
        pull(tmp_path, server.url, entities=["user"], credentials=creds)


def test_check_describes_each_object_and_needs_read(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    config = load_config(write_config(tmp_path, {"crm": source(server.url)}))
    result = check_source("crm", config.sources["crm"])
    assert json.loads(result["checked"])["fields_selected"] == {
        "Account": 14, "Contact": 15, "Opportunity": 14, "User": 14}  # fmt: skip
    assert not (tmp_path / "salesforce").exists()
    org.queryable["Contact"] = False
    with pytest.raises(ApiAuthError, match="Contact is not queryable"):
        check_source("crm", config.sources["crm"])
    org.queryable.clear()
    extra = load_config(write_config(tmp_path, {"crm": source(
        server.url, fields={"account": ["Segment__c"]})}))  # fmt: skip
    with pytest.raises(ConfigError, match="Account has no field Segment__c"):
        check_source("crm", extra.sources["crm"])


def test_pull_then_ingest_equals_the_hand_written_export_files(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    """The org holds the records of the hand-written Bulk CSV exports; after a pull in pages
    of two and a second pull (which brings the boundary records again), ingest gives the raw
    tables the export files give."""
    pulled = tmp_path / "pulled"
    pull(pulled, server.url, page_size=2)
    pull(pulled, server.url, page_size=2)
    assert len(list((pulled / "salesforce" / "Contact").iterdir())) == 3  # 2 pages, then 1

    by_files = tmp_path / "files"
    write_config(by_files, {"crm": {"kind": "salesforce", "path": "salesforce"}})
    (by_files / "salesforce").mkdir()
    for sobject in OBJECTS:
        (by_files / "salesforce" / f"{sobject}.csv").write_bytes(
            (FIXTURES / f"{sobject}.csv").read_bytes()
        )
    from_pull = ingest_raw(pulled, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert {"salesforce__account", "salesforce__contact", "salesforce__opportunity",
            "salesforce__user"} <= set(from_files)  # fmt: skip
    assert set(from_pull) == set(from_files)
    for table in from_files:
        assert from_pull[table] == from_files[table], table
    assert len(from_pull["salesforce__opportunity"]) == 3  # the deleted one is kept in raw


def test_the_adapter_reads_the_export_file_then_the_pages_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "salesforce"
    (folder / "User").mkdir(parents=True)
    lines = (FIXTURES / "User.csv").read_text().splitlines(keepends=True)
    (folder / "User.csv").write_text(lines[0] + lines[1])
    (folder / "User" / "pull-00000002.csv").write_text(lines[0] + lines[2])
    (folder / "User" / "pull-00000001.csv").write_text(lines[0])
    from cxloop.sources.salesforce import find_files

    write_config(tmp_path, {"crm": {"kind": "salesforce", "path": "salesforce"}})
    cfg = load_config(tmp_path / "cxloop.yaml").sources["crm"]
    found = find_files(folder, cfg)["user"]
    assert [p.relative_to(folder).as_posix() for p in found] == [
        "User.csv", "User/pull-00000001.csv", "User/pull-00000002.csv"]  # fmt: skip


CHILD = """
import sys
from cxloop.config import load_config
from cxloop.connectors.run import pull_source
config = load_config(sys.argv[1] + "/cxloop.yaml")
pull_source(sys.argv[1], "crm", config.sources["crm"])
"""


def test_a_killed_pull_resumes_with_nothing_missed_or_landed_twice(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    """A real process kill while the second result page is being asked for."""
    asked, release = threading.Event(), threading.Event()

    def hold_the_second_page(request: Request) -> None:
        if request.path.endswith("/results") and "locator" in request.query:
            asked.set()
            release.wait(30)

    server.before = hold_the_second_page
    write_config(tmp_path, {"crm": source(server.url, page_size=2, entities=["opportunity"])})
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)])
    try:
        assert asked.wait(60), "the child never asked for page 2"
        child.send_signal(signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        release.set()
        child.kill()
    assert [p.name for p in (tmp_path / "salesforce/Opportunity").iterdir()] == [
        "pull-00000001.csv"]  # fmt: skip
    server.before = None
    server.requests.clear()
    config = load_config(tmp_path / "cxloop.yaml")
    pull_source(tmp_path, "crm", config.sources["crm"])
    assert f"{DATA}/jobs/query" not in server.paths()  # the killed pull's job, resumed
    ids = [r["Id"] for r in rows(tmp_path, "Opportunity")]
    assert sorted(ids) == ["0065g00000LostIAAR", "0065g00000NewGlAAJ", "0065g00000RenwAAAR"]
    manifest = (tmp_path / "salesforce/.cxloop-pull/manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["path"] for line in manifest] == [
        "Opportunity/pull-00000001.csv", "Opportunity/pull-00000002.csv"]  # fmt: skip


def test_the_shared_source_fixture_pulls_to_the_same_raw_tables(
    tmp_path: Path, sf_env: dict
) -> None:
    """tests/fixtures/sources/salesforce (the exports the e2e and marts tests build from, bad
    rows included) served by the org and pulled: the raw tables and quarantine its files give.
    A marts test can pull it in place of copying the files."""
    shared = FIXTURES.parents[1] / "sources" / "salesforce"
    app = SalesforceApp()
    for sobject in OBJECTS:
        app.put(sobject, *read_csv((shared / f"{sobject}.csv").read_text(encoding="utf-8")))
    pulled = tmp_path / "pulled"
    with serve(app) as running:
        pull(pulled, running.url, page_size=2, fields={"account": ["Customer_Tier__c"]})
    by_files = tmp_path / "files"
    write_config(by_files, {"crm": {"kind": "salesforce", "path": "salesforce"}})
    shutil.copytree(shared, by_files / "salesforce")
    from_pull = ingest_raw(pulled, tmp_path / "home-pulled")
    from_files = ingest_raw(by_files, tmp_path / "home-files")
    assert from_files["ops.quarantine"]  # the fixture's bad rows, quarantined alike
    assert set(from_pull) == set(from_files)
    for table in from_files:
        assert from_pull[table] == from_files[table], table


def test_contract_is_pulled_when_the_churn_method_reads_it(
    tmp_path: Path, org: SalesforceApp, server: VendorServer, sf_env: dict
) -> None:
    org.put("Contract", {
        "Id": "8005g00000AcmeKAAR", "IsDeleted": "false", "CreatedDate": "2024-01-02T09:00:00.000Z",
        "LastModifiedDate": "2024-01-02T09:00:00.000Z",
        "SystemModstamp": "2024-01-02T09:00:00.000Z", "AccountId": "0015g00000AcmeAAAR",
        "ContractNumber": "00000100", "Status": "Activated", "StatusCode": "Activated",
        "StartDate": "2024-01-01", "EndDate": "2024-12-31", "ContractTerm": "12",
        "ActivatedDate": "2024-01-02T09:00:00.000Z", "OwnerId": "0055g00000MariRAAR"})  # fmt: skip
    pull(tmp_path / "default", server.url)
    assert not (tmp_path / "default/salesforce/Contract").exists()
    cfg = {**source(server.url), "churn": {"method": "contract"}}
    config = load_config(write_config(tmp_path / "contract", {"crm": cfg}))
    report = pull_source(tmp_path / "contract", "crm", config.sources["crm"])
    assert report["streams"]["contract"]["records"] == 1
    assert rows(tmp_path / "contract", "Contract")[0]["ContractTerm"] == "12"
