"""The churn model as a plain package: feature spec, train, evaluate, score, registry.

No Prefect and no paths of its own: callers pass data frames and the models folder.
"""

from cxloop.models.evaluate import classification_metrics
from cxloop.models.features import CHURN_SPEC, FeatureDataError, FeatureSpec, infer_spec
from cxloop.models.registry import (
    ModelVersion,
    Promotion,
    load_current,
    promote_if_better,
    register,
)
from cxloop.models.score import ScoredBatch, score_frame
from cxloop.models.train import ChurnModel, TrainingDataError, TrainResult, train_churn_model

__all__ = [
    "CHURN_SPEC",
    "ChurnModel",
    "FeatureDataError",
    "FeatureSpec",
    "ModelVersion",
    "Promotion",
    "ScoredBatch",
    "TrainResult",
    "TrainingDataError",
    "classification_metrics",
    "infer_spec",
    "load_current",
    "promote_if_better",
    "register",
    "score_frame",
    "train_churn_model",
]
