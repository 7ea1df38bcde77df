"""The API connectors by source kind: add a module exporting CONNECTOR and one line here."""

from __future__ import annotations

from cxloop.connectors import hubspot, salesforce, zendesk
from cxloop.connectors.base import Connector

CONNECTORS: dict[str, Connector] = {
    c.kind: c for c in (zendesk.CONNECTOR, salesforce.CONNECTOR, hubspot.CONNECTOR)
}
