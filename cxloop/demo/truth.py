"""The answer key (`OUT/_truth/`) and the demo's project file (`OUT/cxloop.yaml`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cxloop.demo.common import atomic_write_bytes, csv_text
from cxloop.demo.world import World


def write_truth(
    world: World,
    out: Path,
    zendesk_users: dict[int, int],
    zendesk_orgs: dict[int, int],
    responses: list[tuple[str, str]],
) -> dict[str, int]:
    """persons.csv, accounts.csv and companies.csv; returns rows per file."""
    person_ids = world.col("persons", "person_id")
    persons = [["source", "source_record_id", "person_id"]]
    persons += [
        ["salesforce", sf, pid]
        for sf, pid in zip(world.col("persons", "sf_id"), person_ids, strict=True)
    ]
    persons += [
        ["zendesk", str(uid), str(person_ids[p])]
        for p, uid in sorted(zendesk_users.items(), key=lambda kv: kv[1])
    ]
    persons += [["qualtrics", rid, pid] for rid, pid in responses]
    a = world.accounts
    accounts = [["account_id", "churn_propensity", "churned", "churn_date", "decision_date"]]
    for r in a.itertuples(index=False):
        accounts.append(
            [
                r.sf_id,
                f"{r.propensity:.6f}",
                "true" if r.churned else "false",
                r.churn_date.isoformat() if r.churn_date else "",
                r.decision_date.isoformat() if r.decision_date else "",
            ]
        )
    sf_ids = world.col("accounts", "sf_id")
    companies = [["source", "source_record_id", "account_id"]]
    companies += [
        ["zendesk", str(oid), str(sf_ids[acct])]
        for acct, oid in sorted(zendesk_orgs.items(), key=lambda kv: kv[1])
    ]
    for name, rows in (("persons", persons), ("accounts", accounts), ("companies", companies)):
        text = csv_text(rows, quote_all=False, lineterminator="\n")
        atomic_write_bytes(out / "_truth" / f"{name}.csv", text.encode("utf-8"))
    return {
        "truth.persons": len(persons) - 1,
        "truth.accounts": len(accounts) - 1,
        "truth.companies": len(companies) - 1,
    }


def project_config(term_fields: bool = False) -> dict:
    """The cxloop.yaml content for the demo sources (valid against flows.config.ProjectConfig).

    The Salesforce source says its churn method: renewal opportunities for the standard org
    the demo writes by default, term_fields when it writes the custom term fields.
    """
    churn: dict[str, object] = (
        {"method": "term_fields"}
        if term_fields
        else {"method": "renewal_opportunities", "new_business_types": ["New Customer"]}
    )
    return {
        "version": 1,
        "company": "cxloop demo",
        # at the demo's 4% churn rate few accounts reach an absolute 0.5: alert on the riskiest
        # 5% instead, so each CSM's digest shows (docs/metrics.md "Churn risk bands")
        "risk_bands": {"mode": "relative", "high_share": 0.05, "medium_share": 0.2},
        "sources": {
            "salesforce": {"kind": "salesforce", "path": "salesforce", "churn": churn},
            "zendesk": {"kind": "zendesk", "path": "zendesk"},
            "qualtrics": {
                "kind": "qualtrics",
                "path": "qualtrics",
                "surveys": [
                    {
                        "file": "Relational_NPS_*.csv",
                        "survey_id": "relational_nps",
                        "kind": "relational",
                        "touchpoint": "relationship",
                        "channel": "email",
                        "fields": {
                            "nps": "QID1",
                            "nps_group": "QID1_NPS_GROUP",
                            "open_text": "QID2_TEXT",
                            "contact_id": "ContactId",
                        },
                    },
                    {
                        "file": "Support_CSAT.csv",
                        "survey_id": "support_csat",
                        "kind": "transactional",
                        "touchpoint": "support_ticket",
                        "channel": "email",
                        "fields": {
                            "csat": "QID1",
                            "open_text": "QID3_TEXT",
                            "ticket_id": "TicketId",
                        },
                    },
                    {
                        "file": "Interaction_CES.csv",
                        "survey_id": "interaction_ces",
                        "kind": "in_the_moment",
                        "channel": "email",
                        "encoding": "windows-1256",
                        "fields": {
                            "ces": "QID1",
                            "open_text": "QID2_TEXT",
                            "touchpoint": "Touchpoint",
                        },
                    },
                ],
            },
        },
    }


def write_project_config(out: Path, term_fields: bool = False) -> None:
    """OUT/cxloop.yaml."""
    text = "# cxloop project file for the generated demo sources (cxloop generate)\n"
    text += yaml.safe_dump(project_config(term_fields), sort_keys=False, allow_unicode=True)
    atomic_write_bytes(out / "cxloop.yaml", text.encode("utf-8"))
