"""Salesforce Bulk API 2.0 query results (CSV): Account, Contact, Opportunity, Contract, User.

An object is one export file (`Account.csv`) and/or a folder of result pages
(`Account/*.csv`, what `cxloop pull` writes, read in name order after the file).
Every value arrives double-quoted, nulls are empty strings, datetimes look like
`2024-03-27T22:52:16.000Z`. Reference ids that arrive in their 15-character form are
normalized to 18 characters here so that every id in raw compares equal to what the API returns.
What Opportunity must carry, and whether Contract.csv must exist, follow the source's churn
method (cxloop.yaml `churn`, docs/metrics.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from cxloop.config import TERM_FIELDS, SourceConfig
from cxloop.errors import ConfigError, SourceError
from cxloop.sources.contracts import Violation, contract_for, to_sfid18
from cxloop.sources.readers import Adapter, Batch, ParsedRow, decode, file_sha256, read_csv_records

KIND = "salesforce"
FILES = {
    "account": "Account.csv",
    "contact": "Contact.csv",
    "opportunity": "Opportunity.csv",
    "contract": "Contract.csv",
    "user": "User.csv",
}
# Opportunity columns each churn method needs beyond the contract's (docs/metrics.md)
METHOD_COLUMNS: dict[str, tuple[str, ...]] = {
    "renewal_opportunities": ("Type",),
    "term_fields": TERM_FIELDS,
    "contract": (),
}
_ID_FIELD = re.compile(r"Id|.+Id")


def entities(cfg: SourceConfig) -> tuple[str, ...]:
    """The Salesforce objects we land."""
    return tuple(FILES)


def find_files(folder: Path, cfg: SourceConfig) -> dict[str, list[Path]]:
    """Each object's CSV in the Salesforce folder (an object without a file has no files)."""
    unknown = sorted(set(cfg.columns) - set(FILES))
    if unknown:
        raise ConfigError(
            f"key 'columns.{unknown[0]}' of the {KIND} source at {cfg.path!r}: "
            f"not a Salesforce object we read (expected one of {', '.join(FILES)})"
        )
    found = {entity: object_files(folder, name) for entity, name in FILES.items()}
    if cfg.churn_config().method == "contract" and not found["contract"]:
        raise SourceError(
            f"{cfg.path}/{FILES['contract']}",
            "missing: the churn method is contract",
            expected=(
                "the standard Contract object exported as Contract.csv (Id, AccountId, "
                "StartDate, EndDate, ContractTerm, Status), or another churn.method in cxloop.yaml"
            ),
        )
    return found


def object_files(folder: Path, name: str) -> list[Path]:
    """`Account.csv` (an export), then `Account/*.csv` (pages of `cxloop pull`) by name."""
    export = [folder / name] if (folder / name).is_file() else []
    pages = folder / name.removesuffix(".csv")
    return export + (
        sorted(p for p in pages.glob("*.csv") if p.is_file()) if pages.is_dir() else []
    )


def read_file(entity: str, path: Path, rel: str, cfg: SourceConfig) -> Batch:
    """Parse one Bulk API CSV: header check, empty cells as nulls, 15-char ids as 18."""
    data = path.read_bytes()
    contract = contract_for(KIND, entity)
    records = read_csv_records(decode(data, rel, cfg.encoding), rel)
    header, _ = next(records, ([], ""))
    if not header:
        raise SourceError(rel, "empty file", row=1, expected="a header row of field API names")
    header = rename_columns(rel, header, cfg.columns.get(entity, {}))
    contract.check_columns(rel, header)
    if entity == "opportunity":
        _check_method_columns(rel, header, cfg)
    id_columns = {name for name in header if _ID_FIELD.fullmatch(name)}
    rows = [
        _parse_row(number, record, original, header, id_columns, rel)
        for number, (record, original) in enumerate(records, start=1)
        if record
    ]
    return Batch(KIND, entity, rel, file_sha256(data), contract, list(header), rows)


def rename_columns(rel: str, header: list[str], mapping: dict[str, str]) -> list[str]:
    """The header with the export's field names replaced by ours (cxloop.yaml `columns`)."""
    if not mapping:
        return header
    missing = [theirs for theirs in mapping.values() if theirs not in header]
    if missing:
        raise SourceError(
            rel,
            f"wrong columns: missing {', '.join(missing)} (named in cxloop.yaml columns)",
            row=1,
            expected=f"the mapped columns {', '.join(mapping.values())} in the header",
        )
    clashes = [ours for ours in mapping if ours in header and mapping[ours] != ours]
    if clashes:
        raise SourceError(
            rel,
            f"ambiguous columns: {', '.join(clashes)} present and also mapped from another column",
            row=1,
            expected="either the column or a mapping to it in cxloop.yaml, not both",
        )
    ours_for = {theirs: ours for ours, theirs in mapping.items()}
    return [ours_for.get(name, name) for name in header]


def _check_method_columns(rel: str, header: list[str], cfg: SourceConfig) -> None:
    """The Opportunity columns the churn method reads; a one-line error naming the method."""
    method = cfg.churn_config().method
    missing = [name for name in METHOD_COLUMNS[method] if name not in header]
    if not missing:
        return
    hint = (
        "map your org's term fields in cxloop.yaml columns.opportunity, or choose "
        "churn.method renewal_opportunities or contract"
        if method == "term_fields"
        else "add Type to the export, or choose another churn.method in cxloop.yaml"
    )
    raise SourceError(
        rel,
        f"wrong columns for churn method {method}: missing {', '.join(missing)}",
        row=1,
        expected=f"columns {', '.join(METHOD_COLUMNS[method])} ({hint})",
    )


def _parse_row(
    number: int, record: list[str], original: str, header: list[str], id_columns: set[str], rel: str
) -> ParsedRow:
    if len(record) != len(header):
        reason = f"row: has {len(record)} values, expected {len(header)} like the header"
        return ParsedRow(number, {}, original, Violation("", reason))
    values = {
        name: (to_sfid18(cell) if name in id_columns else cell) if cell != "" else None
        for name, cell in zip(header, record, strict=True)
    }
    if "" in values:  # columns with no name (trailing commas): a value there is quarantined
        unnamed = [cell for name, cell in zip(header, record, strict=True) if not name and cell]
        values[""] = unnamed[0] if unnamed else None  # cxloop.sources.prepared.named_columns
    return ParsedRow(number, values, original)


ADAPTER = Adapter(KIND, entities, find_files, read_file)
