"""Source freshness read from the dbt project's source YAML (no dbt invocation)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cxloop.errors import QualityGateError
from cxloop.quality.freshness_sources import freshness_sources

HOUR = timedelta(hours=1)


def test_the_shipped_project_sources_and_the_configured_hours() -> None:
    sources = {s.source: s for s in freshness_sources({"source_freshness_hours": {"zendesk": 12}})}
    assert "hubspot.deal_pipelines" not in sources  # freshness: null on the table
    assert "ops.playbook_actions" not in sources  # a source without freshness
    tickets = sources["zendesk.tickets"]
    assert tickets.relation == "raw.zendesk__tickets"
    assert (tickets.warn_after, tickets.error_after) == (6 * HOUR, 12 * HOUR)
    assert (sources["salesforce.user"].warn_after, sources["salesforce.user"].error_after) == (
        24 * HOUR,
        48 * HOUR,
    )
    events = sources["sendgrid.events"]  # only warns
    assert (events.warn_after, events.error_after) == (168 * HOUR, None)
    assert "where source || '__' || entity = 'zendesk__tickets'" in tickets.loaded_at_sql
    assert 'from "raw"."zendesk__tickets"' in tickets.loaded_at_sql
    assert [tickets.status(s * 3600) for s in (6, 6.01, 12.01)] == ["pass", "warn", "error"]


def write_project(root: Path, sources_yml: str) -> Path:
    (root / "macros").mkdir(parents=True)
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text("name: p\nvars:\n  limit_hours: 5\n")
    (root / "macros" / "m.sql").write_text(
        "{% macro newest(col) %}select max({{ col }}) from {{ this }}{% endmacro %}"
    )
    (root / "models" / "_s__sources.yml").write_text(sources_yml)
    return root


def test_table_config_over_source_config_and_loaded_at_field(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        """
sources:
  - name: crm
    schema: landing
    loaded_at_field: synced_at
    freshness:
      warn_after: {count: "{{ var('limit_hours') }}", period: hour}
      error_after: {count: 2, period: day}
    tables:
      - name: accounts
        identifier: crm_accounts
        filter: "deleted = false"
      - name: users
        config:
          loaded_at_query: "{{ newest('updated_at') }}"
          freshness:
            error_after: {count: 30, period: minute}
      - name: settings
        freshness: null
""",
    )
    got = {s.source: s for s in freshness_sources({}, project)}
    assert sorted(got) == ["crm.accounts", "crm.users"]
    accounts, users = got["crm.accounts"], got["crm.users"]
    assert accounts.loaded_at_sql == (
        'select max(synced_at) from "landing"."crm_accounts" where deleted = false'
    )
    assert (accounts.warn_after, accounts.error_after) == (5 * HOUR, timedelta(days=2))
    assert users.loaded_at_sql == 'select max(updated_at) from "landing"."users"'
    assert (users.warn_after, users.error_after) == (5 * HOUR, timedelta(minutes=30))
    # cxloop.yaml's dbt vars win over the project's
    assert freshness_sources({"limit_hours": 1}, project)[0].warn_after == HOUR


def test_a_threshold_that_is_not_a_number_names_the_file(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        """
sources:
  - name: crm
    loaded_at_field: synced_at
    freshness: {error_after: {count: "{{ var('nope') }}", period: hour}}
    tables: [{name: accounts}]
""",
    )
    with pytest.raises(QualityGateError, match=r"_s__sources\.yml: sources 'crm' table 'accounts'"):
        freshness_sources({}, project)
