"""Fixtures of the connector tests: local vendor servers and a sources folder pointing at them.

The servers (vendor_http.py, zendesk_api.py, ...) are plain modules beside this file so the
benchmarks and other vendors' tests can reuse them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qualtrics_api import QualtricsApp
from typeform_api import TypeformApp
from vendor_http import VendorServer, serve
from zendesk_api import ZendeskApp

ZENDESK_ENV = {"TEST_ZENDESK_EMAIL": "admin@acme.example", "TEST_ZENDESK_TOKEN": "zd-token-123"}


@pytest.fixture
def zendesk_app() -> ZendeskApp:
    return ZendeskApp(ZENDESK_ENV["TEST_ZENDESK_EMAIL"], ZENDESK_ENV["TEST_ZENDESK_TOKEN"])


@pytest.fixture
def zendesk_server(zendesk_app: ZendeskApp) -> Iterator[VendorServer]:
    with serve(zendesk_app) as server:
        yield server


@pytest.fixture
def zendesk_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in ZENDESK_ENV.items():
        monkeypatch.setenv(key, value)
    return ZENDESK_ENV


TYPEFORM_ENV = {"TEST_TYPEFORM_TOKEN": "tfp_test_token"}


@pytest.fixture
def typeform_app() -> TypeformApp:
    return TypeformApp(TYPEFORM_ENV["TEST_TYPEFORM_TOKEN"])


@pytest.fixture
def typeform_server(typeform_app: TypeformApp) -> Iterator[VendorServer]:
    with serve(typeform_app) as server:
        yield server


@pytest.fixture
def typeform_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in TYPEFORM_ENV.items():
        monkeypatch.setenv(key, value)
    return TYPEFORM_ENV


QUALTRICS_ENV = {"TEST_QUALTRICS_TOKEN": "qx-token-123"}


@pytest.fixture
def qualtrics_app() -> QualtricsApp:
    return QualtricsApp(QUALTRICS_ENV["TEST_QUALTRICS_TOKEN"])


@pytest.fixture
def qualtrics_server(qualtrics_app: QualtricsApp) -> Iterator[VendorServer]:
    with serve(qualtrics_app) as server:
        yield server


@pytest.fixture
def qualtrics_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in QUALTRICS_ENV.items():
        monkeypatch.setenv(key, value)
    return QUALTRICS_ENV
