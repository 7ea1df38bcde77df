"""How good a churn model's probabilities are on a labelled window."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def top_fraction_mask(probability: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """True for the highest-risk `fraction` of rows (at least one; ties keep the input order)."""
    n_top = max(1, math.ceil(len(probability) * fraction))
    order = np.argsort(-np.asarray(probability, dtype=float), kind="stable")
    mask = np.zeros(len(probability), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def classification_metrics(
    y_true: np.ndarray, probability: np.ndarray, *, top_fraction: float = 0.1
) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, base rate, and lift/recall/precision in the top decile."""
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(probability, dtype=float)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need as many probabilities as labels, got {len(p)} and {len(y)}")
    positives = int(y.sum())
    if positives in (0, len(y)):
        raise ValueError(
            f"metrics need both classes, but all {len(y)} labels are {int(y[0])} "
            "(expected churned and retained accounts in the window)"
        )
    base_rate = positives / len(y)
    top = top_fraction_mask(p, top_fraction)
    top_precision = float(y[top].mean())
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "base_rate": float(base_rate),
        "mean_probability": float(p.mean()),
        "top_decile_precision": top_precision,
        "top_decile_lift": float(top_precision / base_rate),
        "top_decile_recall": float(y[top].sum() / positives),
        "n": int(len(y)),
        "n_positive": positives,
    }
