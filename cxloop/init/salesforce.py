"""Which churn method a Salesforce org's exports support: subscription term fields on
Opportunity, the standard Contract object, or renewal opportunities (standard objects only)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cxloop.init.detect import read_csv_head

TERM_FIELDS = ("Subscription_Start_Date__c", "Subscription_End_Date__c")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ROWS = 200


@dataclass
class ChurnProposal:
    """The proposed churn method, why, and the column renames it needs (`columns.opportunity`)."""

    method: str  # term_fields | contract | renewal_opportunities
    evidence: str
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def propose_churn(opportunity: Path | None, contract: Path | None) -> ChurnProposal:
    """Term fields when Opportunity has them, else Contract with dates, else renewals."""
    header, rows = _read(opportunity)
    if all(name in header for name in TERM_FIELDS):
        return ChurnProposal("term_fields", f"Opportunity has {' and '.join(TERM_FIELDS)}")
    pair = _custom_term_fields(header, rows)
    if pair:
        start, end = pair
        return ChurnProposal(
            "term_fields",
            f"Opportunity has the custom date fields {start} and {end}",
            columns=dict(zip(TERM_FIELDS, pair, strict=True)),
        )
    notes = []
    if opportunity is not None:
        notes.append(
            f"{opportunity.name} has no subscription term fields: churn comes from the standard "
            "objects (renewal opportunities, or Contract when exported); check the Opportunity "
            "Type values against churn.new_business_types / renewal_types (docs/metrics.md)"
        )
    contract_header, _ = _read(contract)
    if {"StartDate", "EndDate"} <= set(contract_header):
        return ChurnProposal("contract", f"{contract.name} has StartDate and EndDate", notes=notes)
    why = "no term fields on Opportunity and no Contract export"
    return ChurnProposal("renewal_opportunities", why, notes=notes)


def _read(path: Path | None) -> tuple[list[str], list[list[str]]]:
    if path is None:
        return [], []
    head, _ = read_csv_head(path.read_bytes(), _ROWS + 1)
    return (head[0], head[1:]) if head else ([], [])


def _custom_term_fields(header: list[str], rows: list[list[str]]) -> tuple[str, str] | None:
    """A custom `*Start*__c` and `*End*__c` pair holding dates, the pair sharing a stem first."""
    dated = [name for name in header if name.endswith("__c") and _holds_dates(header, rows, name)]
    starts = [name for name in dated if "start" in name.lower()]
    ends = [name for name in dated if "end" in name.lower()]
    if not starts or not ends:
        return None
    for start in starts:
        for end in ends:
            if start.lower().replace("start", "end") == end.lower():
                return start, end
    return starts[0], ends[0]


def _holds_dates(header: list[str], rows: list[list[str]], name: str) -> bool:
    index = header.index(name)
    values = [r[index] for r in rows if len(r) == len(header) and r[index]]
    return bool(values) and all(_DATE.match(v) for v in values)
