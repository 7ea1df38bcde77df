"""The one resources switch: local never reaches SendGrid, Zendesk or Slack; production, its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.config import load_config
from cxloop.errors import ConfigError
from cxloop.playbooks.channels import OutboxChannel, SendGridChannel
from cxloop.resources import email_channel, mirrors_for
from cxloop.settings import Settings

MIRRORED = (
    "version: 1\nsources: {}\nplaybooks:\n"
    "  zendesk: {subdomain: acme, email: a@v.example, token_env: ZD_TOKEN_FOR_TEST}\n"
    "  slack_webhook_url_env: SLACK_URL_FOR_TEST\n"
)


def test_local_uses_the_outbox_and_no_mirrors_even_with_credentials_set(
    tmp_path: Path, cx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_SENDGRID_API_KEY", "SG.not-used-locally")
    monkeypatch.setenv("ZD_TOKEN_FOR_TEST", "tok")
    monkeypatch.setenv("SLACK_URL_FOR_TEST", "http://127.0.0.1:9/hook")
    settings = Settings()
    assert settings.resources == "local"
    assert isinstance(email_channel(settings), OutboxChannel)
    (tmp_path / "cxloop.yaml").write_text(MIRRORED)
    assert mirrors_for(load_config(tmp_path / "cxloop.yaml"), settings.resources) == []


def test_production_needs_the_sendgrid_key_and_sends_through_sendgrid(
    cx_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CXLOOP_RESOURCES", "production")
    with pytest.raises(ConfigError, match="CXLOOP_SENDGRID_API_KEY is not set"):
        email_channel(Settings())
    monkeypatch.setenv("CXLOOP_SENDGRID_API_KEY", "")
    with pytest.raises(ConfigError, match="CXLOOP_SENDGRID_API_KEY is not set"):
        email_channel(Settings())
    monkeypatch.setenv("CXLOOP_SENDGRID_API_KEY", "SG.test")
    assert isinstance(email_channel(Settings()), SendGridChannel)


def test_an_unknown_resources_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXLOOP_RESOURCES", "staging")
    with pytest.raises(ValueError, match="resources"):
        Settings()
