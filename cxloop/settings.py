"""Process-level settings (environment variables prefixed CXLOOP_, or a local .env file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where cxloop writes, and the credentials it may use. Secrets are never logged."""

    model_config = SettingsConfigDict(env_prefix="CXLOOP_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("var"), description="Everything a run writes lives here.")
    config: Path | None = Field(default=None, description="Path of cxloop.yaml.")
    resources: Literal["local", "production"] = Field(
        default="local",
        description=(
            "local: e-mail to the outbox, no Zendesk tickets or Slack messages, whatever "
            "credentials are set; production: SendGrid (its API key required), and the Zendesk "
            "and Slack mirrors cxloop.yaml configures (cxloop/resources.py)."
        ),
    )
    sendgrid_api_key: SecretStr | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_unsubscribe_group: int | None = None
    sendgrid_webhook_public_key: str | None = Field(
        default=None, description="SendGrid's Event Webhook verification key (base64 DER)."
    )
    sendgrid_webhook_max_age_seconds: int = 300
    survey_webhook_max_age_seconds: int = Field(
        default=86400,
        description="Refuse survey webhooks whose response was submitted longer ago (s).",
    )
    qualtrics_base_url: str | None = Field(
        default=None, description="Your data center's API host, e.g. https://fra1.qualtrics.com."
    )
    qualtrics_api_token: SecretStr | None = Field(
        default=None, description="X-API-TOKEN to fetch a notified response."
    )
    qualtrics_webhook_token: SecretStr | None = Field(
        default=None,
        description="The token in the event subscription's publicationUrl (?token=...).",
    )
    email_from: str = "cx-team@example.com"
    email_from_name: str = "Customer Experience Team"
    warehouse_key: SecretStr | None = Field(
        default=None,
        description=(
            "Encryption at rest is unavailable with the DuckDB line cxloop pins (2.0.x writes "
            "encrypted files only with its httpfs extension, not installable here): a key set "
            "here stops every command instead of being silently ignored (docs/security.md)."
        ),
    )

    duckdb_memory_limit: str = Field(
        default="1GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description=(
            "DuckDB's memory limit for each database cxloop opens (the warehouse, dbt's "
            "connection to it, identity's Splink database): past it DuckDB spills to disk. "
            "DuckDB's own default is 80% of the machine's memory (docs/benchmarks.md)."
        ),
    )

    dbt_threads: int = Field(
        default=2,
        ge=1,
        description=(
            "dbt nodes built at a time on the DuckDB target (dbt_project/profiles.yml reads "
            "CXLOOP_DBT_THREADS; validated here, so a bad value stops a run with this message)."
        ),
    )

    ingest_workers: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Worker processes that parse and prepare source files at ingest while the main "
            "process lands them (docs/ingest.md); default the machine's cores (os.cpu_count()), "
            "0 parses every file in the ingest process itself."
        ),
    )

    @cached_property
    def paths(self) -> Paths:
        require_no_warehouse_key(self.warehouse_key is not None)
        return Paths(self.home.resolve())


ENCRYPTION_UNAVAILABLE = (
    "CXLOOP_WAREHOUSE_KEY is set, but encryption at rest is unavailable: DuckDB 2.0 writes "
    "encrypted files only with its httpfs extension, which no package offers for 2.0 here; "
    "unset it, or encrypt the disk CXLOOP_HOME is on (docs/security.md)"
)


def require_no_warehouse_key(key_set: bool) -> None:
    """Refuse to run with a warehouse key: the data would not be encrypted as asked."""
    if key_set:
        from cxloop.errors import ConfigError

        raise ConfigError(ENCRYPTION_UNAVAILABLE)


class Paths:
    """The layout of CXLOOP_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.warehouse_dir = home / "warehouse"
        self.warehouse = self.warehouse_dir / "cx.duckdb"
        self.lake = home / "lake"
        self.demo = home / "demo"
        self.outbox = home / "outbox"
        self.models = home / "models"
        self.bi = home / "bi"
        self.reports = home / "reports"
        self.gx = home / "gx"
        self.logs = home / "logs"  # cxloop.log: the CLI's Prefect flow and task logs

    def ensure(self) -> Paths:
        for p in (self.warehouse_dir, self.lake, self.outbox, self.models, self.bi, self.reports):
            p.mkdir(parents=True, exist_ok=True)
        return self


def get_settings() -> Settings:
    """Fresh settings from the environment (cheap; not cached so tests can change env)."""
    return Settings()
