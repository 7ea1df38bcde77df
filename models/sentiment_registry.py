"""Sentiment model versions in the registry, beside the churn model:
`<models_dir>/sentiment/<version>/{model.joblib,metadata.json}` + `current` (models.registry).

A new version becomes current when there is none; never when it stops serving a language the
current one serves; when it serves a language the current one does not and is at least as
accurate on the languages both serve; otherwise only when it is strictly more accurate than the
current one on the new version's own held-out answers (those of the languages it serves). A tie
keeps the current version, as the churn registry does: a new current version re-scores every
text (cxloop.voice.reuse), which should buy a measurable gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from cxloop.models.registry import (
    ModelVersion,
    current_version,
    library_versions,
    list_versions,
    load_version,
    set_current,
    write_version,
)
from cxloop.models.sentiment import FAMILY, SentimentTrainResult, accuracy


@dataclass(frozen=True)
class SentimentPromotion:
    """Whether a candidate became current, and why."""

    promoted: bool
    reason: str
    candidate_version: str
    previous_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sentiment_metadata(version: str, result: SentimentTrainResult) -> dict[str, Any]:
    """What a version was trained on and how it did, per language."""
    return {
        "version": version,
        "family": FAMILY,
        "created_at": result.created_at.isoformat(),
        "estimator": "tfidf_char_wb_2_5+logistic_regression",
        "languages": result.languages,
        "per_language": result.per_language,
        "accuracy": result.accuracy,
        "data_window": result.window,
        "training_data_sha256": result.data_sha256,
        "libraries": library_versions(),
    }


def register_sentiment(result: SentimentTrainResult, models_dir: Path) -> ModelVersion:
    """Write the fitted pipeline as the next sentiment version (not yet current)."""
    if result.pipeline is None:
        raise ValueError("no fitted sentiment pipeline to register")
    version, path, metadata = write_version(
        models_dir, FAMILY, result.pipeline, lambda v: sentiment_metadata(v, result)
    )
    return ModelVersion(version=version, path=path, metadata=metadata, _model=result.pipeline)  # type: ignore[arg-type]


def load_current_sentiment(models_dir: Path) -> ModelVersion | None:
    """The current sentiment version, or None before the first one."""
    version = current_version(models_dir, FAMILY)
    return None if version is None else load_version(models_dir, version, FAMILY)


def latest_sentiment(models_dir: Path) -> ModelVersion | None:
    """The newest registered sentiment version, current or not (None before the first)."""
    versions = list_versions(models_dir, FAMILY)
    return load_version(models_dir, versions[-1], FAMILY) if versions else None


def promote_sentiment_if_better(
    candidate: ModelVersion, result: SentimentTrainResult, models_dir: Path
) -> SentimentPromotion:
    """Make the candidate current by the module's rule (languages served, then held-out
    accuracy on the candidate's test set; a tie keeps the current one)."""
    current = load_current_sentiment(models_dir)
    if current is None:
        set_current(models_dir, candidate.version, FAMILY)
        return SentimentPromotion(True, "first version", candidate.version, None)
    served = set(current.metadata.get("languages", []))
    dropped = sorted(served - set(result.languages))
    added = sorted(set(result.languages) - served)
    shared = served & set(result.languages)  # all it serves, unless it adds or drops one
    held_out = result.test[result.test["language"].isin(shared)]
    if dropped:
        better = False
        reason = f"would stop serving {', '.join(dropped)}, which {current.version} serves"
    else:
        pipeline: Pipeline = current.model  # type: ignore[assignment]
        ours = accuracy(result.pipeline, held_out) if len(held_out) and result.pipeline else None
        theirs = accuracy(pipeline, held_out) if len(held_out) else None
        if added:  # more languages served: as accurate as the current one on the others
            better = ours is None or theirs is None or ours >= theirs
            compared = ">=" if better else "<"
            reason = f"serves {', '.join(added)}, which {current.version} does not; "
        else:
            better = ours is not None and (theirs is None or ours > theirs)
            compared = ">" if better else "<="
            reason = ""
        reason += (
            f"held-out accuracy {ours} {compared} {current.version}'s {theirs} on "
            f"{len(held_out)} answers"
        )
    if better:
        set_current(models_dir, candidate.version, FAMILY)
    return SentimentPromotion(better, reason, candidate.version, current.version)
