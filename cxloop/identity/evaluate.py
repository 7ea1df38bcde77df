"""Pairwise precision, recall and F1 of an identity map against a truth file.

`evaluate_identity` is what `cxloop identity evaluate` reports: the warehouse's map
(`load_identity_map`) scored against the generator's `_truth/persons.csv` (`read_truth`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from cxloop.errors import CxloopError
from cxloop.warehouse import fetch_frame, reader, table_exists

TRUTH_COLUMNS = {"source", "source_record_id", "person_id"}


# Where the map is, in order: the mart, else the identity step's own table.
IDENTITY_MAP_TABLES = (("marts", "customer_identity_map"), ("intermediate", "identity_clusters"))


class TruthFileError(CxloopError):
    """The truth file is missing or lacks a column."""


class IdentityMapError(CxloopError):
    """The warehouse is missing or holds no identity map yet."""


def read_truth(truth_dir: Path) -> pd.DataFrame:
    """`<truth_dir>/persons.csv`: source, source_record_id, person_id (all text)."""
    path = Path(truth_dir) / "persons.csv"
    if not path.is_file():
        raise TruthFileError(f"{path}: no such file (expected the generator's _truth/persons.csv)")
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    missing = TRUTH_COLUMNS - set(header)
    if missing:
        raise TruthFileError(
            f"{path}: header {header} lacks {sorted(missing)}; expected "
            "source, source_record_id, person_id"
        )
    return pd.read_csv(path, dtype=str, keep_default_na=False)[sorted(TRUTH_COLUMNS)]


def _pairs(sizes: pd.Series) -> int:
    """Number of unordered pairs within groups of these sizes."""
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_metrics(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, object]:
    """Compare `predicted` (source, source_record_id, customer_id) with the truth's persons.

    Only records present in both count; the counts of the others are reported.
    """
    pred = predicted[["source", "source_record_id", "customer_id"]].astype(str)
    both = pred.merge(truth.astype(str), on=["source", "source_record_id"], how="inner")
    true_pairs = _pairs(both.groupby("person_id").size())
    predicted_pairs = _pairs(both.groupby("customer_id").size())
    correct = _pairs(both.groupby(["customer_id", "person_id"]).size())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    sizes = pred.groupby("customer_id").size()
    return {
        "records_evaluated": len(both),
        "records_not_in_truth": len(pred) - len(both),
        "truth_records_not_in_map": len(truth) - len(both),
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "correct_pairs": correct,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
        "clusters": int(len(sizes)),
        "true_persons": int(both["person_id"].nunique()),
        "singleton_clusters": int((sizes == 1).sum()),
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
    }


def load_identity_map(warehouse: Path) -> pd.DataFrame:
    """The map to evaluate (source, source_record_id, customer_id), from IDENTITY_MAP_TABLES."""
    if not warehouse.is_file():
        raise IdentityMapError(
            f"{warehouse}: no warehouse (run `cxloop demo` or `cxloop run` first)"
        )
    with reader(warehouse) as con:
        for schema, table in IDENTITY_MAP_TABLES:
            if table_exists(con, schema, table):
                return fetch_frame(
                    con, f"select source, source_record_id, customer_id from {schema}.{table}"
                )
    raise IdentityMapError(f"{warehouse}: no marts.customer_identity_map (run the build first)")


def evaluate_identity(truth: Path, warehouse: Path) -> dict[str, object]:
    """Pairwise metrics of the warehouse's identity map against `truth`, with both paths."""
    truth_frame = read_truth(truth)
    result = pairwise_metrics(load_identity_map(warehouse), truth_frame)
    result["warehouse"] = str(warehouse)
    result["truth"] = str(truth)
    return result
