"""cxloop.yaml business hours and health weights reach dbt as vars; bad values name the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from cxloop.config import ProjectConfig, project_config
from cxloop.dbt import dbt_vars
from cxloop.errors import ConfigError

SOURCES = {"crm": {"kind": "salesforce", "path": "salesforce"}}


def config(**extra: object) -> ProjectConfig:
    return ProjectConfig.model_validate({"sources": SOURCES, **extra})


def test_business_hours_and_health_become_dbt_vars() -> None:
    cfg = config(
        business_hours={
            "timezone": "Asia/Tehran",
            "start": "08:00",
            "end": "16:00",
            "weekdays": [5, 6, 0, 1, 2],
            "holidays": [date(2026, 3, 20)],
        },
        health={"weights": {"support": 1, "voice": 2, "revenue": 0, "engagement": 1}},
    )
    got = dbt_vars(cfg)
    assert got["business_hours_timezone"] == "Asia/Tehran"
    assert got["business_weekdays"] == [5, 6, 0, 1, 2]
    assert got["business_holidays"] == ["2026-03-20"]
    assert got["health_weights"] == {"support": 1, "voice": 2, "revenue": 0, "engagement": 1}
    assert got["health_bands"] == {"healthy": 70, "at_risk": 40}


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "business_hours.timezone"),
        ({"start": "9am"}, "business_hours.start"),
        ({"start": "18:00", "end": "09:00"}, "start must be before end"),
        ({"weekdays": [0, 7]}, "business_hours.weekdays"),
    ],
)
def test_bad_business_hours_name_the_key(hours: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dbt_vars(config(business_hours=hours))


def test_all_zero_health_weights_are_refused() -> None:
    zero = {"support": 0, "voice": 0, "revenue": 0, "engagement": 0}
    with pytest.raises(Exception, match="at least one weight"):
        config(health={"weights": zero})


def test_sla_targets_and_freshness_hours_become_dbt_vars() -> None:
    sources = {
        **SOURCES,
        "crm_eu": {"kind": "salesforce", "path": "eu", "freshness_hours": 24},
        "desk": {"kind": "zendesk", "path": "zendesk", "freshness_hours": 6},
    }
    cfg = ProjectConfig.model_validate(
        {"sources": sources, "sla": {"first_reply_business_minutes": {"urgent": 30, "low": 2880}}}
    )
    got = dbt_vars(cfg)
    assert got["sla_first_reply_business_minutes"] == {"urgent": 30, "low": 2880}
    # per source kind, the strictest source of that kind
    assert got["source_freshness_hours"] == {"salesforce": 24, "zendesk": 6}
    assert dbt_vars(config())["sla_first_reply_business_minutes"]["normal"] == 480


@pytest.mark.parametrize(
    ("sla", "message"),
    [
        ({"first_reply_business_minutes": {"critical": 10}}, "critical"),
        ({"first_reply_business_minutes": {"urgent": 0}}, "positive minutes"),
    ],
)
def test_bad_sla_targets_name_the_key(sla: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        config(sla=sla)


def test_a_flow_run_alone_finds_cxloop_yaml_through_cxloop_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment (act-frequent, train-weekly...) gets no config path: $CXLOOP_CONFIG."""
    path = tmp_path / "cxloop.yaml"
    path.write_text(
        "sources: {crm: {kind: salesforce, path: sf, freshness_hours: 12}}\n"
        "sla: {first_reply_business_minutes: {urgent: 15}}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path / "..")
    monkeypatch.delenv("CXLOOP_CONFIG", raising=False)
    assert project_config() is None  # none found: the defaults
    monkeypatch.setenv("CXLOOP_CONFIG", str(path))
    got = dbt_vars(project_config())
    assert got["sla_first_reply_business_minutes"] == {"urgent": 15}
    assert got["source_freshness_hours"] == {"salesforce": 12}
    with pytest.raises(ConfigError, match="no cxloop.yaml found"):
        project_config(tmp_path / "missing.yaml")


def test_churn_methods_become_a_dbt_var_keyed_by_crm_kind() -> None:
    assert dbt_vars(config())["churn_methods"] == {
        "salesforce": {
            "method": "renewal_opportunities",
            "new_business_types": ["new customer"],
            "renewal_types": None,
        }
    }
    sources = {
        "crm": {
            "kind": "salesforce",
            "path": "salesforce",
            "churn": {
                "new_business_types": ["New Business", " New Customer"],
                "renewal_types": ["Renewal"],
            },
        },
        "desk": {"kind": "zendesk", "path": "zendesk"},
    }
    got = dbt_vars(ProjectConfig.model_validate({"sources": sources}))["churn_methods"]
    assert got == {
        "salesforce": {
            "method": "renewal_opportunities",
            "new_business_types": ["new business", "new customer"],
            "renewal_types": ["renewal"],
        }
    }


def test_a_term_field_mapping_implies_the_term_fields_method() -> None:
    mapped = {
        "kind": "salesforce",
        "path": "salesforce",
        "columns": {
            "opportunity": {
                "Subscription_Start_Date__c": "Start__c",
                "Subscription_End_Date__c": "End__c",
            }
        },
    }
    cfg = ProjectConfig.model_validate({"sources": {"crm": mapped}})
    assert cfg.churn_methods()["salesforce"]["method"] == "term_fields"
    explicit = {**mapped, "churn": {"method": "contract"}}
    cfg = ProjectConfig.model_validate({"sources": {"crm": explicit}})
    assert cfg.churn_methods()["salesforce"]["method"] == "contract"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"kind": "zendesk", "path": "z", "churn": {"method": "contract"}},
            "churn: only a CRM source has one",
        ),
        (
            {"kind": "salesforce", "path": "s", "churn": {"method": "invoices"}},
            "sources.crm.churn.method",
        ),
        (
            {"kind": "salesforce", "path": "s", "churn": {"renewal_types": ["new customer"]}},
            "'new customer' is in both new_business_types and renewal_types",
        ),
    ],
)
def test_bad_churn_settings_name_the_key(tmp_path: Path, source: dict, message: str) -> None:
    path = tmp_path / "cxloop.yaml"
    path.write_text(yaml.safe_dump({"sources": {"crm": source}}))
    with pytest.raises(ConfigError, match=message) as err:
        project_config(path)
    assert "\n" not in str(err.value)


def test_two_salesforce_sources_must_agree_on_churn() -> None:
    sources = {
        "crm": {"kind": "salesforce", "path": "a"},
        "crm_eu": {"kind": "salesforce", "path": "b", "churn": {"method": "contract"}},
    }
    with pytest.raises(ConfigError, match="key 'sources.crm_eu.churn': differs"):
        ProjectConfig.model_validate({"sources": sources}).churn_methods()
