"""The API connectors by source kind: add a module exporting CONNECTOR and one line here."""

from __future__ import annotations

from cxloop.connectors import hubspot, qualtrics, salesforce, typeform, zendesk
from cxloop.connectors.base import Connector

CONNECTORS: dict[str, Connector] = {
    connector.kind: connector
    for connector in [
        zendesk.CONNECTOR,
        salesforce.CONNECTOR,
        hubspot.CONNECTOR,
        typeform.CONNECTOR,
        qualtrics.CONNECTOR,
    ]
}
