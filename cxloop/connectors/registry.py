"""The API connectors by source kind: add a module exporting CONNECTOR and one line here."""

from __future__ import annotations

from cxloop.connectors import qualtrics, typeform, zendesk
from cxloop.connectors.base import Connector

CONNECTORS: dict[str, Connector] = {
    connector.kind: connector
    for connector in [
        zendesk.CONNECTOR,
        typeform.CONNECTOR,
        qualtrics.CONNECTOR,
    ]
}
