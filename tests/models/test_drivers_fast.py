"""The drivers' shortcut (one preprocessing pass) gives what the full pipeline gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.features import coerce_features
from models.score import MIN_CONTRIBUTION, fast_contributions
from models.train import TrainResult


def test_shortcut_matches_replacing_each_feature_through_the_pipeline(
    snapshots: pd.DataFrame, trained: TrainResult
) -> None:
    model = trained.model
    features, _ = coerce_features(snapshots.head(400), model.spec, model.known_categories)
    fast = fast_contributions(model, features)
    assert fast is not None
    base = model.predict_proba(features)
    risky = base >= MIN_CONTRIBUTION
    assert risky.sum() > 100
    for col in model.spec.features:
        replaced = features.copy()
        typical = model.reference_values.get(col)
        replaced[col] = np.nan if typical is None else typical
        if col in model.spec.categorical:
            replaced[col] = replaced[col].astype(object)
        expected = base - model.predict_proba(replaced)
        np.testing.assert_allclose(fast[col].to_numpy()[risky], expected[risky], atol=1e-9)
        assert (fast[col].to_numpy()[~risky] == 0).all()  # below 1 point: no driver possible
