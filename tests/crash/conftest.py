"""Fixtures of the kill tests (helpers in crashkit.py: a name no other test folder uses)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from crashkit import SendGridServer
from crashkit import sendgrid_server as serve_sendgrid


@pytest.fixture
def sendgrid_server() -> Iterator[SendGridServer]:
    """A SendGrid-compatible server on 127.0.0.1 recording every message (stopped after)."""
    with serve_sendgrid() as server:
        yield server
