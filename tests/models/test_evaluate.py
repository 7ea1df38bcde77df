"""Metrics on small cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from cxloop.models.evaluate import classification_metrics


def test_metrics_match_a_hand_worked_case() -> None:
    # 10 accounts, 2 churned; the model ranks one churner first and the other sixth.
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    m = classification_metrics(y, p)
    assert m["base_rate"] == pytest.approx(0.2)
    assert m["top_decile_precision"] == 1.0  # top 10% = 1 account, a churner
    assert m["top_decile_lift"] == pytest.approx(5.0)
    assert m["top_decile_recall"] == pytest.approx(0.5)
    assert m["roc_auc"] == pytest.approx(12 / 16)  # churner 1 beats 8 of 8, churner 2 beats 4
    assert m["pr_auc"] == pytest.approx(0.5 * 1.0 + 0.5 * (2 / 6))
    expected_brier = np.mean((p - y) ** 2)
    assert m["brier"] == pytest.approx(expected_brier)
    assert (m["n"], m["n_positive"]) == (10, 2)


def test_one_class_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics(np.zeros(5), np.linspace(0, 1, 5))
