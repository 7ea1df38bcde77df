"""Fixtures of the connector tests: per vendor, `<vendor>_app` (the local API's data),
`<vendor>_server` (it running on 127.0.0.1) and `<vendor>_env` (the credentials' variables).

The servers (vendor_http.py, zendesk_api.py, typeform_api.py, qualtrics_api.py) are plain
modules beside this file so the benchmarks and other vendors' tests can reuse them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qualtrics_api import QualtricsApp
from typeform_api import TypeformApp
from vendor_http import VendorServer, serve
from zendesk_api import ZendeskApp

ZENDESK_ENV = {"TEST_ZENDESK_EMAIL": "admin@acme.example", "TEST_ZENDESK_TOKEN": "zd-token-123"}
TYPEFORM_ENV = {"TEST_TYPEFORM_TOKEN": "tfp_test_token"}
QUALTRICS_ENV = {"TEST_QUALTRICS_TOKEN": "qx-token-123"}


def vendor_fixtures(vendor: str, make_app: Callable[[], Any], env: dict[str, str]) -> tuple:
    """The three fixtures of one vendor's local API."""

    @pytest.fixture(name=f"{vendor}_app")
    def app() -> Any:
        return make_app()

    @pytest.fixture(name=f"{vendor}_server")
    def server(request: pytest.FixtureRequest) -> Iterator[VendorServer]:
        with serve(request.getfixturevalue(f"{vendor}_app")) as running:
            yield running

    @pytest.fixture(name=f"{vendor}_env")
    def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return app, server, credentials


zendesk_app, zendesk_server, zendesk_env = vendor_fixtures(
    "zendesk", lambda: ZendeskApp(*ZENDESK_ENV.values()), ZENDESK_ENV
)
typeform_app, typeform_server, typeform_env = vendor_fixtures(
    "typeform", lambda: TypeformApp(*TYPEFORM_ENV.values()), TYPEFORM_ENV
)
qualtrics_app, qualtrics_server, qualtrics_env = vendor_fixtures(
    "qualtrics", lambda: QualtricsApp(*QUALTRICS_ENV.values()), QUALTRICS_ENV
)
