"""Salesforce: Bulk API 2.0 query jobs per object, landed as the Bulk CSV the adapter reads.

Per object (Account, Contact, Opportunity, User; Contract with churn.method contract):
1. describe it (`GET /services/data/vXX.X/sobjects/<Object>/describe`) and select the fields
   staging reads that the org has, the ones cxloop.yaml maps (`columns`) and `api.fields`;
2. create a job (`POST .../jobs/query`, `operation: queryAll`, so deleted records arrive with
   `IsDeleted` true) for `SELECT ... FROM <Object> WHERE SystemModstamp >= <watermark>`;
3. poll it (`GET .../jobs/query/<id>`: UploadComplete, InProgress, then JobComplete; Failed
   and Aborted end the pull with Salesforce's message);
4. read the results page by page (`GET .../jobs/query/<id>/results`, `maxRecords`, then
   `locator` = the `Sforce-Locator` header until it is `null`), each page landing as
   `<Object>/pull-<n>.csv`, the bytes Salesforce sent.

The cursor after each page holds the job id, the next locator and the newest SystemModstamp
seen, so a killed pull resumes the same job where it stopped (results stay for days); a job
Salesforce no longer knows, or one that failed, is created again from the watermark. After
the last page the watermark becomes the newest SystemModstamp; `>=` brings the records at
that instant again, identical rows that ingest's content hash lands once.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from cxloop.api_config import ApiConfig
from cxloop.config import TERM_FIELDS, SourceConfig
from cxloop.connectors import salesforce_auth
from cxloop.connectors.base import Connector, Page, PullContext, Stream
from cxloop.connectors.http import ApiAuthError, ApiError
from cxloop.errors import ConfigError
from cxloop.sources.contracts import contract_for

log = logging.getLogger(__name__)

KIND = "salesforce"
API_VERSION = "v62.0"  # Bulk API 2.0 query needs v47.0+; results are read with the same version
OBJECTS = {
    "account": "Account",
    "contact": "Contact",
    "opportunity": "Opportunity",
    "user": "User",
    "contract": "Contract",
}
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")
# the fields staging reads (dbt_project/models/staging/salesforce); custom ones only when the
# org has them (describe), so a standard org pulls the standard fields
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("Name", "Type", "Industry", "BillingCountry", "Website", "Phone", "OwnerId",
                "Plan__c", "Region__c"),
    "contact": ("AccountId", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "Title",
                "MailingCountry", "HasOptedOutOfEmail", "Preferred_Language__c"),
    "opportunity": ("AccountId", "Name", "Type", "StageName", "Amount", "CloseDate", "IsClosed",
                    "IsWon", "OwnerId", "ContractId", "TotalOpportunityQuantity", "Seats__c",
                    "Product__c", *TERM_FIELDS),
    "user": ("Username", "Email", "FirstName", "LastName", "Name", "IsActive", "TimeZoneSidKey",
             "LocaleSidKey", "Title", "ManagerId"),
    "contract": ("AccountId", "ContractNumber", "Status", "StatusCode", "StartDate", "EndDate",
                 "ContractTerm", "ActivatedDate", "OwnerId"),
}  # fmt: skip
DONE_STATES = {"JobComplete"}
WAITING_STATES = {"Open", "UploadComplete", "InProgress"}
POLL_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)  # then every 30 s
POLL_TIMEOUT_SECONDS = 3600.0


def base_url(api: ApiConfig) -> str | None:
    return f"https://{api.subdomain}.my.salesforce.com" if api.subdomain else None


def headers(creds: Mapping[str, str]) -> dict[str, str]:
    """Unused: the token comes from `salesforce_auth.authorize`."""
    return {"Accept": salesforce_auth.ACCEPT}


def data_path(suffix: str) -> str:
    return f"/services/data/{API_VERSION}{suffix}"


def pulled_entities(cfg: SourceConfig) -> list[str]:
    """The objects pulled by default: all but Contract, which only churn.method contract reads."""
    method = cfg.churn_config().method
    return [e for e in OBJECTS if e != "contract" or method == "contract"]


def streams(cfg: SourceConfig) -> list[Stream]:
    chosen = cfg.api.entities if cfg.api and cfg.api.entities else pulled_entities(cfg)
    return [
        Stream(entity, entity, _pages_of(OBJECTS[entity]), {"object": OBJECTS[entity]})
        for entity in OBJECTS
        if entity in chosen
    ]


def _pages_of(sobject: str):  # noqa: ANN202
    return lambda seq: f"{sobject}/pull-{seq:08d}.csv"


def wanted_fields(cfg: SourceConfig, entity: str) -> tuple[list[str], list[str]]:
    """(fields selected when the org has them, fields cxloop.yaml names that it must have)."""
    mapped = (cfg.columns or {}).get(entity, {})
    extra = list(cfg.api.fields.get(entity, [])) if cfg.api else []
    required = [*contract_for(KIND, entity).columns, *mapped.values(), *extra]
    optional = [f for f in (*SYSTEM_FIELDS, *DEFAULT_FIELDS[entity]) if f not in mapped]
    return list(dict.fromkeys([*optional, *required])), list(dict.fromkeys(required))


def select_fields(ctx: PullContext, entity: str, sobject: str) -> list[str]:
    """The fields to select: the wanted ones the object has (describe), in our order."""
    path = data_path(f"/sobjects/{sobject}/describe")
    described = ctx.client.get_json(path)
    if not isinstance(described, dict) or not isinstance(described.get("fields"), list):
        raise ApiError(ctx.client.url(path), "the describe answer has no 'fields' array")
    if described.get("queryable") is False:
        raise ApiAuthError(
            ctx.client.url(path),
            f"{sobject} is not queryable for this user (grant Read on {sobject}; "
            "docs/connectors.md, Salesforce)",
        )
    has = {f.get("name", "").lower(): f.get("name") for f in described["fields"]}
    wanted, required = wanted_fields(ctx.cfg, entity)
    missing = [f for f in required if f.lower() not in has]
    if missing:
        raise ConfigError(
            f"key 'sources.{ctx.source}': {sobject} has no field {', '.join(missing)} visible "
            f"to this user (named by the contract, columns.{entity} or api.fields.{entity}; "
            "check field-level security)"
        )
    return [has[f.lower()] for f in wanted if f.lower() in has]


def soql(sobject: str, fields: list[str], watermark: str | None) -> str:
    """The job's query; the watermark to the second, inclusive (SOQL datetime literal)."""
    query = f"SELECT {', '.join(fields)} FROM {sobject}"
    return f"{query} WHERE SystemModstamp >= {watermark[:19]}Z" if watermark else query


def fetch(ctx: PullContext, stream: Stream, cursor: dict[str, Any] | None) -> Iterator[Page]:
    sobject = stream.options["object"]
    cursor = cursor or {}
    watermark = cursor.get("watermark") or (_stamp(ctx.since) if ctx.since else None)
    job_id, locator = cursor.get("job"), cursor.get("locator")
    newest = cursor.get("newest") or watermark
    info = _resumable(ctx, job_id) if job_id else None
    if info is None:
        fields = select_fields(ctx, stream.entity, sobject)
        info = _create_job(ctx, soql(sobject, fields, watermark))
        job_id, locator, newest = info["id"], None, watermark
        # the job is durable before it is waited on: a killed pull does not start another
        yield Page(None, 0, _open(watermark, job_id, None, newest))
    info = _wait(ctx, job_id, info)
    if not info.get("numberRecordsProcessed") and locator is None:
        yield Page(None, 0, {"watermark": watermark})
        return
    size = ctx.api.page_size
    while True:
        params: dict[str, Any] = {"maxRecords": size} if size else {}
        if locator:
            params["locator"] = locator
        path = data_path(f"/jobs/query/{job_id}/results")
        response = ctx.client.request("GET", path, params=params)
        rows, newest = scan_page(ctx.client.url(path), response.content, newest, response.headers)
        following = response.headers.get("Sforce-Locator")
        last = following in (None, "", "null")
        next_cursor = {"watermark": newest} if last else _open(watermark, job_id, following, newest)
        yield Page(response.content if rows else None, rows, next_cursor)
        if last:
            return
        locator = following


def scan_page(
    endpoint: str, data: bytes, newest: str | None, headers: Any
) -> tuple[int, str | None]:
    """The page's record count (checked against Sforce-NumberOfRecords) and the newest
    SystemModstamp in it and before it."""
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8")))
    except UnicodeDecodeError:
        raise ApiError(endpoint, "the results page is not UTF-8 CSV") from None
    header = next(reader, None)
    if header is None:
        return 0, newest
    at = header.index("SystemModstamp") if "SystemModstamp" in header else None
    rows = 0
    for record in reader:
        if not record:
            continue
        rows += 1
        if at is not None and at < len(record) and record[at] and record[at] > (newest or ""):
            newest = record[at]
    stated = headers.get("Sforce-NumberOfRecords")
    if stated is not None and stated.strip().isdigit() and int(stated) != rows:
        raise ApiError(endpoint, f"Sforce-NumberOfRecords says {stated} but the page holds {rows}")
    return rows, newest


def _open(watermark: str | None, job: str, locator: str | None, newest: str | None) -> dict:
    return {"watermark": watermark, "job": job, "locator": locator, "newest": newest}


def _create_job(ctx: PullContext, query: str) -> dict:
    body = {"operation": "queryAll", "query": query, "contentType": "CSV",
            "columnDelimiter": "COMMA", "lineEnding": "LF"}  # fmt: skip
    info = ctx.client.json_of(ctx.client.request("POST", data_path("/jobs/query"), json=body))
    if not isinstance(info, dict) or not info.get("id"):
        raise ApiError(ctx.client.url(data_path("/jobs/query")), "the job answer has no 'id'")
    log.info("%s: job %s for %s", ctx.source, info["id"], query)
    return info


def _resumable(ctx: PullContext, job_id: str) -> dict | None:
    """The saved job's info, or None when it must be created again (gone, failed, aborted)."""
    try:
        info = ctx.client.get_json(data_path(f"/jobs/query/{job_id}"))
    except ApiAuthError as exc:
        if exc.status != 404:
            raise
        log.warning("%s: job %s is gone; creating it again from the watermark", ctx.source, job_id)
        return None
    if info.get("state") in DONE_STATES | WAITING_STATES:
        return info
    log.warning("%s: job %s is %s; creating it again", ctx.source, job_id, info.get("state"))
    return None


def _wait(ctx: PullContext, job_id: str, info: dict) -> dict:
    """Poll the job until JobComplete; Failed or Aborted raise with Salesforce's message."""
    path = data_path(f"/jobs/query/{job_id}")
    waited, polls = 0.0, 0
    while info.get("state") not in DONE_STATES:
        state = info.get("state")
        if state not in WAITING_STATES:
            message = str(info.get("errorMessage") or "no errorMessage")[:200]
            raise ApiError(ctx.client.url(path), f"job {job_id} is {state}: {message}")
        if waited >= POLL_TIMEOUT_SECONDS:
            raise ApiError(
                ctx.client.url(path),
                f"job {job_id} still {state} after {waited:.0f} s (the next pull resumes it)",
            )
        pause = POLL_SECONDS[min(polls, len(POLL_SECONDS) - 1)]
        ctx.client.sleep(pause)
        waited, polls = waited + pause, polls + 1
        info = ctx.client.get_json(path)
        if not isinstance(info, dict):
            raise ApiError(ctx.client.url(path), "the job answer is not a JSON object")
    return info


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def check(ctx: PullContext) -> str:
    """Describe each object to pull: the token works, Read is granted, the fields exist."""
    seen = {}
    for stream in streams(ctx.cfg):
        seen[stream.options["object"]] = len(
            select_fields(ctx, stream.entity, stream.options["object"])
        )
    return json.dumps({"api_version": API_VERSION, "fields_selected": seen})


CONNECTOR = Connector(
    kind=KIND,
    credentials=(),
    base_url=base_url,
    headers=headers,
    streams=streams,
    fetch=fetch,
    check=check,
    entities=tuple(OBJECTS),
    authorize=salesforce_auth.authorize,
)
