"""cxloop.yaml business hours and health weights reach dbt as vars; bad values name the key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

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
    """A deployment (build-nightly, check-nightly...) gets no config path: $CXLOOP_CONFIG."""
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
