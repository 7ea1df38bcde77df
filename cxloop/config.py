"""The project file `cxloop.yaml`: what a company has and how it maps onto cxloop's measures.

Validated on load; every error names the file and the key that is wrong.

Over 400 lines on purpose: one strict model of the whole file, so that every key is validated
and documented (docs/configuration.md, checked by a test) from one place; survey mappings live
in cxloop/survey_mappings.py.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cxloop.api_config import ApiConfig
from cxloop.errors import ConfigError
from cxloop.survey_mappings import (
    MEASURES,
    CsvSurvey,
    Measure,
    SurveyField,
    TypeformForm,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SurveyMapping(_Strict):
    """How one Qualtrics survey export maps onto our measures (keys are row-3 ImportIds)."""

    file: str = Field(description="File name or glob, relative to the Qualtrics folder.")
    survey_id: str
    kind: Literal["relational", "transactional", "in_the_moment"]
    touchpoint: str = "unknown"
    channel: str = "email"
    encoding: str = "utf-8"
    fields: dict[SurveyField, str] = Field(
        description=(
            "our field -> Qualtrics ImportId of any column (metadata, question or embedded "
            "data); email, phone, first_name, last_name, full_name, contact_id and account_id "
            "identify the respondent"
        )
    )
    include_partial: bool = Field(
        False,
        description=(
            "Count an unfinished response (Finished = 0) whose score was answered; by default "
            "only finished responses count."
        ),
    )
    not_applicable: list[str] | dict[Measure, list[str]] = Field(
        default_factory=dict,
        description=(
            "Answer codes meaning 'not applicable', left out of the metric instead of "
            "quarantined: a list when the survey has one measure ([6] on a 1-5 CSAT with an N/A "
            "choice), else per measure ({csat: [6], ces: [8]})."
        ),
    )

    @field_validator("fields")
    @classmethod
    def _has_a_measure(cls, v: dict[str, str]) -> dict[str, str]:
        if not set(MEASURES) & set(v):
            raise ValueError("needs at least one of nps, csat, ces")
        return v

    @field_validator("not_applicable", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        """Codes compare with the exported cell text: 6 and "6" are the same code."""
        if isinstance(v, list):
            return [str(code) for code in v]
        if isinstance(v, dict):
            return {
                k: [str(c) for c in c_list] if isinstance(c_list, list) else c_list
                for k, c_list in v.items()
            }
        return v

    @model_validator(mode="after")
    def _not_applicable_names_a_measure(self) -> SurveyMapping:
        measures = [m for m in MEASURES if m in self.fields]
        if isinstance(self.not_applicable, list) and self.not_applicable and len(measures) > 1:
            raise ValueError(
                f"not_applicable: a list is ambiguous on a survey with {', '.join(measures)}; "
                "give the codes per measure, e.g. {csat: [6]}"
            )
        if isinstance(self.not_applicable, dict):
            unmapped = [m for m in self.not_applicable if m not in self.fields]
            if unmapped:
                raise ValueError(f"not_applicable: {unmapped[0]} is not mapped in fields")
        return self

    def not_applicable_codes(self) -> dict[str, frozenset[str]]:
        """Per mapped measure, the answer codes that mean 'not applicable' (may be empty)."""
        if isinstance(self.not_applicable, list):
            return {m: frozenset(self.not_applicable) for m in MEASURES if m in self.fields}
        return {m: frozenset(codes) for m, codes in self.not_applicable.items() if codes}


ChurnMethod = Literal["renewal_opportunities", "term_fields", "contract"]
CRM_KINDS = ("salesforce", "hubspot")
# each CRM's own value for a first sale: Salesforce's Type picklist, HubSpot's dealtype
DEFAULT_NEW_BUSINESS_TYPES = {"salesforce": ["New Customer"], "hubspot": ["newbusiness"]}
TERM_FIELDS = ("Subscription_Start_Date__c", "Subscription_End_Date__c")


class ChurnConfig(_Strict):
    """How a CRM source says who is a customer and when one churned (docs/metrics.md)."""

    method: ChurnMethod = Field(
        "renewal_opportunities",
        description=(
            "renewal_opportunities (standard objects: a lost renewal with no later win), "
            "term_fields (Subscription_Start_Date__c / Subscription_End_Date__c on Opportunity, "
            "or the fields `columns` maps to them) or contract (the standard Contract object)."
        ),
    )
    new_business_types: list[str] | None = Field(
        None,
        description=(
            "Opportunity Type (HubSpot: dealtype) values that make an account a customer "
            "(case-insensitive); default the CRM's own: [New Customer] (Salesforce), "
            "[newbusiness] (HubSpot)."
        ),
    )
    renewal_types: list[str] | None = Field(
        None,
        description=(
            "Type values whose loss is churn; null means every Type not in new_business_types. "
            "Other types (upsells booked apart) add to ARR but their loss is not churn."
        ),
    )

    @model_validator(mode="after")
    def _types_do_not_overlap(self) -> ChurnConfig:
        if self.new_business_types is not None and not self.new_business_types:
            raise ValueError("new_business_types: name at least one Type, e.g. [New Customer]")
        return self

    def check_types_for(self, kind: str) -> None:
        """No Type may be both new business and renewal (the CRM's default list counts)."""
        new = self.new_business_types or DEFAULT_NEW_BUSINESS_TYPES.get(kind, [])
        both = {t.lower() for t in new} & {t.lower() for t in self.renewal_types or []}
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is in both new_business_types and renewal_types")


class SourceConfig(_Strict):
    kind: Literal[
        "salesforce", "hubspot", "zendesk", "qualtrics", "sendgrid", "typeform", "survey_csv"
    ]
    path: str = Field(description="Folder of the exports, relative to the sources folder.")
    encoding: str = "utf-8"
    surveys: list[SurveyMapping] = []
    forms: list[TypeformForm] = Field(
        default_factory=list, description="typeform: how each form maps onto our measures."
    )
    secret_env: str | None = Field(
        None,
        description=(
            "typeform: the environment variable holding the webhook secret that signs "
            "received requests (Typeform-Signature)"
        ),
    )
    csv_surveys: list[CsvSurvey] = Field(
        default_factory=list, description="survey_csv: the column mapping of each survey file."
    )
    freshness_hours: int = Field(
        48, ge=1, description="Hours without a delivery after which the source is stale."
    )
    columns: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description=(
            "Per entity, our column name -> the column name in your export, for fields your "
            "system names differently (Salesforce custom fields): "
            "{opportunity: {Subscription_Start_Date__c: Contract_Start__c}}."
        ),
    )
    api: ApiConfig | None = Field(
        None,
        description="How `cxloop pull` reaches this source's API (docs/connectors.md).",
    )
    churn: ChurnConfig | None = Field(
        None,
        description=(
            "CRM sources: the churn method and Opportunity Type lists. Default "
            "renewal_opportunities, or term_fields when `columns.opportunity` maps both "
            "term fields."
        ),
    )

    @model_validator(mode="after")
    def _churn_only_on_a_crm(self) -> SourceConfig:
        if self.churn is not None and self.kind not in CRM_KINDS:
            raise ValueError(f"churn: only a CRM source has one ({', '.join(CRM_KINDS)})")
        if self.churn is not None:
            self.churn.check_types_for(self.kind)
        return self

    def churn_config(self) -> ChurnConfig:
        """The churn settings in force: as configured, else what the column mapping implies."""
        if self.churn is not None:
            return self.churn
        mapped = self.columns.get("opportunity", {})
        if all(name in mapped for name in TERM_FIELDS):
            return ChurnConfig(method="term_fields")
        return ChurnConfig()

    @model_validator(mode="after")
    def _mappings_fit_the_kind(self) -> SourceConfig:
        for key, kind in (("surveys", "qualtrics"), ("forms", "typeform"),
                          ("csv_surveys", "survey_csv"), ("secret_env", "typeform")):  # fmt: skip
            if getattr(self, key) and self.kind != kind:
                raise ValueError(f"{key}: only a {kind} source has it, this one is {self.kind}")
        if self.kind == "typeform":
            if not self.forms:
                raise ValueError("forms: a typeform source needs at least one form mapping")
            if not self.secret_env:
                raise ValueError(
                    "secret_env: a typeform source names the environment variable holding "
                    "its webhook secret"
                )
            ids = [form.form_id for form in self.forms]
            if len(set(ids)) != len(ids):
                raise ValueError("forms: a form_id is mapped twice")
        if self.kind == "survey_csv" and not self.csv_surveys:
            raise ValueError("csv_surveys: a survey_csv source needs at least one survey mapping")
        return self


class BusinessHours(_Strict):
    timezone: str = "UTC"
    start: str = "09:00"
    end: str = "17:00"
    weekdays: list[int] = [0, 1, 2, 3, 4]
    holidays: list[date] = []


class HealthWeights(_Strict):
    """Weights of the account health components (mart_account_health); any scale."""

    support: float = Field(0.3, ge=0)
    voice: float = Field(0.3, ge=0)
    revenue: float = Field(0.25, ge=0)
    engagement: float = Field(0.15, ge=0)


class HealthBands(_Strict):
    """Score thresholds: >= healthy is healthy, >= at_risk is at risk, below is critical."""

    healthy: float = Field(70, ge=0, le=100)
    at_risk: float = Field(40, ge=0, le=100)


class HealthConfig(_Strict):
    weights: HealthWeights = HealthWeights()
    bands: HealthBands = HealthBands()

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, v: HealthWeights) -> HealthWeights:
        if v.support + v.voice + v.revenue + v.engagement <= 0:
            raise ValueError("at least one weight must be above 0")
        return v


class ClvConfig(_Strict):
    """Customer lifetime value (docs/metrics.md): expected revenue over horizon_periods periods."""

    period_days: int = Field(90, ge=1, le=366, description="Length of one period in days.")
    horizon_periods: int = Field(12, ge=1, le=120, description="Periods projected ahead.")
    annual_discount_rate: float = Field(
        0.1, ge=0, le=1, description="Yearly discount rate of future revenue (0.1 = 10%)."
    )


class IdentityConfig(_Strict):
    match_threshold: float = Field(0.9, ge=0, le=1)
    max_cluster_size: int = Field(25, ge=2)


Priority = Literal["urgent", "high", "normal", "low"]


class SlaConfig(_Strict):
    """Support targets (mart_ticket_kpis): first reply within these business minutes."""

    first_reply_business_minutes: dict[Priority, int] = Field(
        default_factory=lambda: {"urgent": 60, "high": 240, "normal": 480, "low": 960}
    )

    @field_validator("first_reply_business_minutes")
    @classmethod
    def _positive(cls, v: dict[str, int]) -> dict[str, int]:
        bad = {k: n for k, n in v.items() if n <= 0}
        if bad:
            raise ValueError(f"targets must be positive minutes, got {bad}")
        return v


class RiskBands(_Strict):
    """Churn risk bands: absolute probability thresholds, or shares of the scored accounts."""

    mode: Literal["absolute", "relative"] = Field(
        "absolute",
        description=(
            "absolute: `high` and `medium` are probabilities; relative: the `high_share` "
            "accounts with the highest probability are high, the next up to `medium_share` medium."
        ),
    )
    high: float = Field(0.5, ge=0, le=1)
    medium: float = Field(0.25, ge=0, le=1)
    high_share: float = Field(0.10, gt=0, le=1, description="relative mode: share that is high")
    medium_share: float = Field(
        0.25, gt=0, le=1, description="relative mode: share that is high or medium"
    )
    drivers_min_probability: float = Field(
        0.2,
        ge=0,
        le=1,
        description=(
            "Accounts at or above this probability get their top drivers (the costly part of "
            "scoring). Keep it at or below `medium` and the at-risk alert's rise_threshold "
            "(0.2), so every alerted account shows its reasons."
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> RiskBands:
        if self.medium > self.high:
            raise ValueError(f"medium ({self.medium}) must not be above high ({self.high})")
        if self.medium_share < self.high_share:
            raise ValueError(
                f"medium_share ({self.medium_share}) counts the high accounts too: "
                f"it must be at least high_share ({self.high_share})"
            )
        return self


class ZendeskTicketSettings(_Strict):
    """Also open a Zendesk task ticket for each callback task."""

    subdomain: str
    email: str = Field(description="The agent the API token belongs to.")
    token_env: str = Field("CXLOOP_ZENDESK_API_TOKEN", description="Env var holding the token.")
    base_url: str | None = Field(None, description="Default https://<subdomain>.zendesk.com.")


class PlaybookSettings(_Strict):
    folder: str | None = None
    enabled: list[str] | None = None
    postal_address: str = "cxloop demo company, 1 Example Street, Springfield"
    unsubscribe_url: str = "https://example.com/unsubscribe?c={action_id}"
    zendesk: ZendeskTicketSettings | None = None
    slack_webhook_url_env: str | None = Field(
        None, description="Env var holding a Slack incoming-webhook URL for CSM alerts."
    )
    params: dict[str, dict[str, float | int | str]] = Field(
        default_factory=dict,
        description="Per playbook, values for its trigger parameters (replacing the YAML's).",
    )


class CallbacksConfig(_Strict):
    """Callback tasks: who owns them without a CSM, closing vocabularies, escalation."""

    queue: str | None = Field(
        None, description="E-mail of the queue that owns a callback whose account has no CSM."
    )
    outcomes: list[str] = Field(
        default_factory=lambda: ["resolved", "not_resolved", "no_answer", "declined"],
        description="Outcomes a callback may be closed with (lower_snake).",
    )
    root_causes: list[str] = Field(
        default_factory=lambda: [
            "product_defect",
            "support_experience",
            "billing",
            "onboarding",
            "pricing",
            "missing_feature",
            "other",
        ],
        description="Root causes a callback may be closed with (lower_snake).",
    )
    escalation_email: str | None = Field(
        None,
        description=(
            "Where an overdue callback escalates when the owner has no manager in the CRM "
            "(Salesforce User.ManagerId) and no HubSpot team in team_managers."
        ),
    )
    team_managers: dict[str, str] = Field(
        default_factory=dict,
        description="HubSpot owner team (name or id) -> the e-mail its overdue callbacks go to.",
    )
    escalate_again_after_business_hours: float = Field(
        8, gt=0, description="Business hours after one escalation level before the next."
    )
    max_escalation_level: int = Field(
        2, ge=0, le=5, description="1 = the owner's manager, 2 = that manager's manager; 0 = off."
    )

    @field_validator("outcomes", "root_causes")
    @classmethod
    def _snake_names(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not x or not x.replace("_", "a").isalnum() or x != x.lower()]
        if bad or not v:
            raise ValueError(f"expected a non-empty list of lower_snake names, got {bad or v}")
        return v


class VoiceConfig(_Strict):
    """The voice stage (docs/voice.md): learned topics and the drivers' look-back window."""

    learned_topics: int = Field(12, ge=0, le=50, description="NMF clusters to learn (0: none)")
    driver_window_days: int = Field(
        90, ge=1, le=730, description="a touch or ticket this many days before an answer drives it"
    )
    min_train_answers: int = Field(
        30, ge=2, description="labelled answers a language needs to train the sentiment model"
    )
    min_test_answers: int = Field(
        10, ge=1, description="held-out answers a language needs to be judged, and then served"
    )


class PublishSettings(_Strict):
    mask_personal_data: bool = True
    show_csm_names: bool = Field(False, description="publish CSM names in clear (else hashed)")
    tables: list[str] | None = Field(None, description="marts to publish; default all")


class ProjectConfig(_Strict):
    version: Literal[1] = 1
    company: str = "Example Co"
    sources: dict[str, SourceConfig]
    identity: IdentityConfig = IdentityConfig()
    business_hours: BusinessHours = BusinessHours()
    sla: SlaConfig = SlaConfig()
    risk_bands: RiskBands = RiskBands()
    churn_horizon_days: int = 90
    small_sample_size: int = 30
    health: HealthConfig = HealthConfig()
    clv: ClvConfig = ClvConfig()
    voice: VoiceConfig = VoiceConfig()
    playbooks: PlaybookSettings = PlaybookSettings()
    callbacks: CallbacksConfig = CallbacksConfig()
    publish: PublishSettings = PublishSettings()

    def partial_response_surveys(self) -> list[str]:
        """The survey ids whose unfinished-but-scored responses count (dbt var)."""
        qualtrics = {
            survey.survey_id
            for source in self.sources.values()
            for survey in source.surveys
            if survey.include_partial
        }
        typeform = {
            form.our_survey_id
            for source in self.sources.values()
            for form in source.forms
            if form.include_partial
        }
        return sorted(qualtrics | typeform)

    def churn_methods(self) -> dict[str, dict[str, object]]:
        """Per CRM kind, its churn method and lower-cased Type lists (dbt var `churn_methods`).

        Keyed by kind because staging is per kind: each CRM's staging model reads its own
        entry, so HubSpot's `dealtype` values sit beside Salesforce's `Type` values.
        """
        methods: dict[str, dict[str, object]] = {}
        for name, source in self.sources.items():
            if source.kind not in CRM_KINDS:
                continue
            value = _churn_var(source.churn_config(), source.kind)
            if methods.setdefault(source.kind, value) != value:
                raise ConfigError(
                    f"key 'sources.{name}.churn': differs from another {source.kind} source's "
                    f"(expected one churn method and Type lists per CRM kind)"
                )
        return methods


def _churn_var(churn: ChurnConfig, kind: str) -> dict[str, object]:
    def keys(types: list[str]) -> list[str]:
        return [t.strip().lower() for t in types]

    renewal = None if churn.renewal_types is None else keys(churn.renewal_types)
    return {
        "method": churn.method,
        "new_business_types": keys(churn.new_business_types or DEFAULT_NEW_BUSINESS_TYPES[kind]),
        "renewal_types": renewal,
    }


def find_config(sources_dir: Path | None = None, explicit: Path | None = None) -> Path:
    """The config file to use: explicit, $CXLOOP_CONFIG, <sources>/cxloop.yaml, ./cxloop.yaml."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get("CXLOOP_CONFIG"):
        candidates.append(Path(os.environ["CXLOOP_CONFIG"]))
    else:
        if sources_dir is not None:
            candidates.append(Path(sources_dir) / "cxloop.yaml")
        candidates.append(Path("cxloop.yaml"))
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"no cxloop.yaml found (looked at: {', '.join(map(str, candidates))})")


def load_config(path: Path) -> ProjectConfig:
    """Read and validate cxloop.yaml; errors name the file and the key."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{path}: key '{key}': {first['msg']}{more}") from exc


def load_project(
    sources_dir: Path | None = None, config_path: Path | None = None
) -> tuple[Path, ProjectConfig]:
    """Find and load the project file for a sources folder; returns (path, config)."""
    path = find_config(sources_dir, config_path)
    return path, load_config(path)


def project_config(explicit: str | Path | None = None) -> ProjectConfig | None:
    """cxloop.yaml for a flow run on its own (a deployment): `explicit`, else found as usual
    ($CXLOOP_CONFIG, ./cxloop.yaml); None, meaning the defaults, when there is none."""
    try:
        path = find_config(explicit=Path(explicit) if explicit else None)
    except ConfigError:
        if explicit:
            raise
        return None
    return load_config(path)
