"""Model versions on disk: `<models_dir>/churn/<version>/{model.joblib,metadata.json}` + `current`.

A version folder is written under a temporary name and renamed into place; the `current`
pointer is written to a temporary file and swapped in with os.replace, so a reader never sees
half a version or half a pointer.
"""

from __future__ import annotations

import json
import os
import platform
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn

from cxloop.models.evaluate import classification_metrics
from cxloop.models.train import SELECTION_METRIC, ChurnModel, TrainResult

FAMILY = "churn"
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CURRENT_FILE = "current"
_VERSION = re.compile(r"^v(\d{4,})$")


@dataclass
class ModelVersion:
    """A registered version; the test set is kept only in the process that trained it."""

    version: str
    path: Path
    metadata: dict[str, Any]
    test_features: pd.DataFrame | None = field(default=None, repr=False)
    test_labels: np.ndarray | None = field(default=None, repr=False)
    _model: ChurnModel | None = field(default=None, repr=False)

    @property
    def model(self) -> ChurnModel:
        """The fitted model (loaded from disk on first use)."""
        if self._model is None:
            self._model = joblib.load(self.path / MODEL_FILE)
        return self._model


@dataclass(frozen=True)
class Promotion:
    """Whether a candidate became current, and the comparison that decided it."""

    promoted: bool
    reason: str
    candidate_version: str
    previous_version: str | None
    metric: str
    candidate_score: float
    previous_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def family_dir(models_dir: Path, family: str = FAMILY) -> Path:
    """Where a family's versions live (churn by default; the sentiment model beside it)."""
    return Path(models_dir) / family


def list_versions(models_dir: Path, family: str = FAMILY) -> list[str]:
    """Registered version names, oldest first."""
    root = family_dir(models_dir, family)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return sorted(names, key=lambda n: int(_VERSION.match(n).group(1)))  # type: ignore[union-attr]


def next_version(models_dir: Path, family: str = FAMILY) -> str:
    """The name the next registered version of a family gets."""
    versions = list_versions(models_dir, family)
    last = int(versions[-1][1:]) if versions else 0
    return f"v{last + 1:04d}"


def library_versions() -> dict[str, str]:
    """The versions that must match to load a model file safely."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def build_metadata(version: str, result: TrainResult) -> dict[str, Any]:
    """Everything needed to trust, reproduce and compare a version."""
    model = result.model
    return {
        "version": version,
        "family": FAMILY,
        "created_at": result.created_at.isoformat(),
        "estimator": model.estimator_name,
        "calibration": result.metrics.get("calibration"),
        "features": model.spec.to_dict(),
        "reference_values": model.reference_values,
        "known_categories": model.known_categories,
        "data_window": result.window,
        "horizon_days": result.horizon_days,
        "random_state": result.random_state,
        "metrics": result.metrics,
        "training_data_sha256": result.data_sha256,
        "libraries": library_versions(),
    }


def write_version(
    models_dir: Path, family: str, model: Any, metadata_for: Callable[[str], dict[str, Any]]
) -> tuple[str, Path, dict[str, Any]]:
    """Write a family's next version folder (model + metadata) under a temporary name, then
    rename it into place; not yet current. `metadata_for(version)` gives its metadata."""
    root = family_dir(models_dir, family)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    version = next_version(models_dir, family)
    metadata = metadata_for(version)
    joblib.dump(model, staging / MODEL_FILE)
    (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    target = root / version
    os.rename(staging, target)
    return version, target, metadata


def register(result: TrainResult, models_dir: Path) -> ModelVersion:
    """Write a new version folder (not yet current) and return it with its test set."""
    version, target, metadata = write_version(
        models_dir, FAMILY, result.model, lambda v: build_metadata(v, result)
    )
    return ModelVersion(
        version=version,
        path=target,
        metadata=metadata,
        test_features=result.test_features,
        test_labels=result.test_labels,
        _model=result.model,
    )


def load_version(models_dir: Path, version: str, family: str = FAMILY) -> ModelVersion:
    """A registered version by name; a missing or broken folder is named in the error."""
    path = family_dir(models_dir, family) / version
    try:
        metadata = json.loads((path / METADATA_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FileNotFoundError(
            f"{path / METADATA_FILE}: cannot read model metadata ({exc}); "
            "expected a folder written by models.registry.register"
        ) from exc
    return ModelVersion(version=version, path=path, metadata=metadata)


def current_version(models_dir: Path, family: str = FAMILY) -> str | None:
    """The name in the `current` pointer, or None when nothing was promoted yet."""
    pointer = family_dir(models_dir, family) / CURRENT_FILE
    if not pointer.is_file():
        return None
    return pointer.read_text().strip() or None


def load_current(models_dir: Path) -> ModelVersion | None:
    """The current version, or None when no model was promoted yet."""
    version = current_version(models_dir)
    return None if version is None else load_version(models_dir, version)


def set_current(models_dir: Path, version: str, family: str = FAMILY) -> None:
    """Point `current` at a version atomically."""
    root = family_dir(models_dir, family)
    if not (root / version / MODEL_FILE).is_file():
        raise FileNotFoundError(
            f"{root / version}: no {MODEL_FILE} (expected a registered version)"
        )
    tmp = root / f".{CURRENT_FILE}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, root / CURRENT_FILE)


def promote_if_better(candidate: ModelVersion, models_dir: Path) -> Promotion:
    """Make the candidate current if it beats the current model on the candidate's test set."""
    if candidate.test_features is None or candidate.test_labels is None:
        raise ValueError(
            f"version {candidate.version}: no test set in memory "
            "(expected the ModelVersion returned by register in this process)"
        )
    metric = SELECTION_METRIC
    candidate_score = float(candidate.metadata["metrics"][metric])
    current = load_current(models_dir)
    if current is None or current.version == candidate.version:
        set_current(models_dir, candidate.version)
        return Promotion(
            True, "first version", candidate.version, None, metric, candidate_score, None
        )
    missing = set(current.model.spec.features) - set(candidate.test_features.columns)
    if missing:
        reason = f"{current.version} needs {', '.join(sorted(missing))}, absent from the test set"
        return Promotion(
            False, reason, candidate.version, current.version, metric, candidate_score, None
        )
    probability = current.model.predict_proba(candidate.test_features)
    previous_score = float(classification_metrics(candidate.test_labels, probability)[metric])
    better = candidate_score > previous_score
    if better:
        set_current(models_dir, candidate.version)
    verb = "beats" if better else "does not beat"
    window = candidate.metadata["metrics"].get("test_window")
    reason = (
        f"{metric} {candidate_score:.4f} {verb} {current.version}'s {previous_score:.4f} "
        f"on the test window {window}"
    )
    return Promotion(
        better, reason, candidate.version, current.version, metric, candidate_score, previous_score
    )
