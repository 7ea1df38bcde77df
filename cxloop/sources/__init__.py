"""Source adapters: each reads one system's real export format into batches for landing."""

from __future__ import annotations

from cxloop.sources import (
    hubspot,
    qualtrics,
    salesforce,
    sendgrid,
    survey_csv,
    typeform,
    zendesk,
)
from cxloop.sources.readers import Adapter, Batch, ParsedRow

ADAPTERS: dict[str, Adapter] = {
    a.kind: a
    for a in (
        salesforce.ADAPTER,
        hubspot.ADAPTER,
        zendesk.ADAPTER,
        qualtrics.ADAPTER,
        sendgrid.ADAPTER,
        typeform.ADAPTER,
        survey_csv.ADAPTER,
    )
}

__all__ = ["ADAPTERS", "Adapter", "Batch", "ParsedRow"]
