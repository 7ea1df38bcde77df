"""`sources.<name>.api` in cxloop.yaml: how `cxloop pull` reaches a source's API.

Its own module (like survey_mappings.py) so that cxloop/config.py stays one readable model;
the connectors (cxloop/connectors/) read it. Credentials are never in the file: it names the
environment variables (or Prefect Secret blocks, `secret:<block name>`) that hold them.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

SECRET_BLOCK_PREFIX = "secret:"


class ApiConfig(BaseModel):
    """One source's API connection (docs/connectors.md)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None,
        description=(
            "The API's root, e.g. https://acme.zendesk.com; default the vendor's (from "
            "`subdomain` for Zendesk, Qualtrics and Salesforce). Tests point it at a local server."
        ),
    )
    subdomain: str | None = Field(
        None,
        description=(
            "zendesk: your subdomain (https://<subdomain>.zendesk.com); qualtrics: your "
            "datacenter id (https://<id>.qualtrics.com); salesforce: your My Domain "
            "(https://<subdomain>.my.salesforce.com)."
        ),
    )
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "credential -> the environment variable holding it, or secret:<block> for a "
            "Prefect Secret block: zendesk {email, token}, typeform {token}, qualtrics {token}, "
            "hubspot {token}, salesforce {client_id, client_secret} or {client_id, username, "
            "private_key} (JWT bearer)."
        ),
    )
    start_date: date | None = Field(
        None,
        description=(
            "Where the first pull starts when there is no cursor yet (default: the whole "
            "history); `cxloop pull --since` overrides it and the cursor."
        ),
    )
    page_size: int | None = Field(
        None, ge=1, description="Records per page; default the vendor's maximum."
    )
    entities: list[str] | None = Field(
        None,
        description=(
            "zendesk: which of tickets, users, organizations, ticket_events, "
            "satisfaction_ratings to pull; salesforce: of account, contact, opportunity, user, "
            "contract; hubspot: of companies, contacts, deals, owners, deal_pipelines; default "
            "all (salesforce: contract only with churn.method contract)."
        ),
    )
    fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "salesforce: extra fields to select per object (account: [Segment__c]); hubspot: "
            "extra properties per object type (companies: [plan]); beside the defaults that "
            "staging reads (docs/connectors.md)."
        ),
    )
    timeout_seconds: float = Field(
        60, gt=0, description="Per request; a timed-out request is retried."
    )
    max_retries: int = Field(
        5, ge=0, description="Retries of a 5xx answer, timeout or dropped connection."
    )

    @field_validator("credentials")
    @classmethod
    def _names_not_values(cls, v: dict[str, str]) -> dict[str, str]:
        for role, name in v.items():
            block = name.removeprefix(SECRET_BLOCK_PREFIX)
            if not block or any(ch.isspace() for ch in block):
                raise ValueError(
                    f"{role}: {name!r} is not the name of an environment variable or "
                    f"{SECRET_BLOCK_PREFIX}<Prefect Secret block>"
                )
        return v
