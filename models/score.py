"""Score snapshots with a fitted churn model: probability, risk band and top drivers.

Drivers: for each feature, the drop in predicted probability when that feature alone is set to
its training median (numbers) or most common value (categories). A positive contribution means
the account's actual value raises its risk compared with a typical account; the top three
positive ones are kept. They are computed for the rows a person acts on: probability at or
above `drivers_min_probability` (default: the medium threshold, so the high and medium bands);
other rows get an empty list.

Speed (docs/churn.md): the rows are preprocessed once; for gradient boosting each tree is
evaluated once per row, and a feature's replacement re-evaluates only the trees that split on
that feature's columns, for the rows that get drivers. The result is the number running the
whole pipeline on the replaced frame gives (`reference_contributions`): bit for bit for the
trees, within 1e-15 for the linear model. Each batch checks a few rows against it and falls
back to it if they disagree.

Over 400 lines on purpose: the fast drivers path and its self-check against the full
pipeline belong beside the scoring they speed up.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting._binning import _map_to_bins
from threadpoolctl import threadpool_limits

from cxloop.models.features import CoercionReport, coerce_features, require_columns
from cxloop.models.train import SINGLE_THREAD_BELOW_ROWS, ChurnModel, thread_limit

RISK_BANDS = ("high", "medium", "low")
MIN_CONTRIBUTION = 0.01  # one percentage point: below that a "driver" is noise
CHUNK_ROWS = 50_000  # rows per unit of work (transform, bin, trees, drivers) on one thread
REFERENCE_CHUNK_ROWS = 5_000  # the reference path stacks one copy per feature: 22 x 5k rows
CHECK_ROWS = 200  # rows whose probability is checked against the full pipeline per batch
CHECK_DRIVER_ROWS = 8  # rows whose drivers are checked against the reference per batch

log = logging.getLogger(__name__)


@dataclass
class Drivers:
    """Contributions for the rows that got drivers (positions into the scored batch)."""

    rows: np.ndarray  # int positions, ascending
    contributions: np.ndarray  # shape (len(rows), len(features))
    features: tuple[str, ...]
    method: str  # "trees" / "matrix" (fast paths) or "full pipeline" (the reference)

    def frame(self, index: pd.Index) -> pd.DataFrame:
        """One row per scored row, zeros where no drivers were computed."""
        full = np.zeros((len(index), len(self.features)))
        full[self.rows] = self.contributions
        return pd.DataFrame(full, index=index, columns=list(self.features))


@dataclass
class ScoredBatch:
    """One row per input row (key columns, probability, band, drivers JSON) and the fixes made."""

    scores: pd.DataFrame
    issues: CoercionReport
    driver_rows: int = 0  # rows at or above the drivers' probability floor
    drivers_method: str = ""  # Drivers.method: how their contributions were computed
    thresholds: dict[str, float] | None = None  # the band thresholds used (relative: derived)

    def band_counts(self) -> dict[str, int]:
        """How many rows fell in each risk band (every band listed)."""
        counts = self.scores["risk_band"].value_counts()
        return {band: int(counts.get(band, 0)) for band in RISK_BANDS}


def risk_bands(probability: np.ndarray, high: float = 0.5, medium: float = 0.25) -> np.ndarray:
    """'high' at or above `high`, 'medium' at or above `medium`, else 'low'."""
    if not 0 <= medium <= high <= 1:
        raise ValueError(
            f"risk thresholds must satisfy 0 <= medium <= high <= 1, got {medium}, {high}"
        )
    return np.where(probability >= high, "high", np.where(probability >= medium, "medium", "low"))


def relative_thresholds(
    probability: np.ndarray, high_share: float, medium_share: float
) -> tuple[float, float]:
    """The (high, medium) probability thresholds that put the top shares in those bands.

    High is the probability of the ceil(high_share x n)-th highest row (at least the first), so
    that row and every row at or above it are high; ties at the line all go up, so a band can
    hold a little more than its share. Medium likewise with medium_share (which counts the high
    rows too). No rows: (1.0, 1.0).
    """
    if not 0 < high_share <= medium_share <= 1:
        raise ValueError(
            f"risk shares must satisfy 0 < high_share <= medium_share <= 1, "
            f"got {high_share}, {medium_share}"
        )
    ranked = np.sort(np.asarray(probability, dtype=float))[::-1]
    if ranked.size == 0:
        return 1.0, 1.0

    def line(share: float) -> float:
        k = max(1, int(np.ceil(round(share * ranked.size, 9))))
        return float(ranked[min(k, ranked.size) - 1])

    return line(high_share), line(medium_share)


def _feature_slices(pipeline: Any, spec: Any) -> dict[str, np.ndarray] | None:
    """Which columns of the preprocessed matrix each feature owns (None if not knowable)."""
    names = list(pipeline[:-1].get_feature_names_out())
    slices: dict[str, np.ndarray] = {}
    for col in spec.numeric:
        own = [f"numeric__{col}", f"numeric__missingindicator_{col}"]
        slices[col] = np.array([names.index(n) for n in own if n in names], dtype=int)
    onehot = pipeline[0].named_transformers_["categorical"].named_steps["onehot"]
    categorical = [i for i, n in enumerate(names) if n.startswith("categorical__")]
    start = categorical[0] if categorical else len(names)
    for i, col in enumerate(spec.categorical):
        infrequent = (onehot.infrequent_categories_ or [None] * len(spec.categorical))[i]
        width = len(onehot.categories_[i]) - (len(infrequent) - 1 if infrequent is not None else 0)
        slices[col] = np.arange(start, start + width)
        start += width
    if start != len(names):
        return None
    return slices


def _reference_frame(model: ChurnModel, features: pd.DataFrame, col: str) -> pd.DataFrame:
    """`features` with `col` set to its typical value (NaN when the training column was empty)."""
    typical = model.reference_values.get(col)
    replaced = features.copy()
    replaced[col] = np.nan if typical is None else typical
    if col in model.spec.categorical:
        replaced[col] = replaced[col].astype(object)
    return replaced


def reference_contributions(model: ChurnModel, features: pd.DataFrame) -> pd.DataFrame:
    """Per row and feature: probability minus probability with that feature set to typical.

    The definition, computed the slow and obvious way (the whole pipeline on the frame with one
    feature replaced, all replacements stacked into one call); the fast path must agree with
    it. Every given row is computed, whatever its probability.
    """
    columns = model.spec.features
    stacked = pd.concat(
        [features, *(_reference_frame(model, features, col) for col in columns)],
        ignore_index=True,
    )
    probability = model.predict_proba(stacked).reshape(len(columns) + 1, len(features))
    return pd.DataFrame((probability[0] - probability[1:]).T, index=features.index, columns=columns)


class _Preprocessed:
    """The fitted pieces scoring needs to skip sklearn's wrappers: transform, raw score, calibrate.

    Only for the models `train_churn_model` makes (one calibrated, frozen pipeline); anything
    else makes the constructor raise and scoring takes the reference path.
    """

    def __init__(self, model: ChurnModel) -> None:
        (calibrated,) = model.estimator.calibrated_classifiers_
        self.pipeline = calibrated.estimator.estimator  # FrozenEstimator -> Pipeline
        (self.calibrator,) = calibrated.calibrators
        slices = _feature_slices(self.pipeline, model.spec)
        if slices is None:
            raise ValueError("the preprocessed columns do not map onto the features")
        self.slices = slices
        self.features = model.spec.features
        reference = pd.DataFrame([{c: model.reference_values.get(c) for c in self.features}])
        for col in model.spec.categorical:
            reference[col] = reference[col].astype(object)
        self.reference_row = self.transform(reference)[0]
        final = self.pipeline[-1]
        self.forest = _Forest(final, slices, self.reference_row) if _Forest.fits(final) else None

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """The preprocessed matrix as C-ordered float64."""
        matrix = self.pipeline[:-1].transform(features[list(self.features)])
        return np.ascontiguousarray(matrix, dtype=np.float64)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability from the final estimator's raw score (as sklearn computes it)."""
        proba = np.asarray(self.calibrator.predict(raw), dtype=np.float64)
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba

    def score_chunk(
        self, matrix: np.ndarray, floor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability per row, rows at or above `floor`, their contributions) for one chunk."""
        if self.forest is not None:
            return self.forest.score_chunk(matrix, floor, self.calibrate)
        final = self.pipeline[-1]
        probability = self.calibrate(final.decision_function(matrix))
        rows = np.flatnonzero(probability >= floor)
        contributions = np.zeros((len(rows), len(self.features)))
        sub = matrix[rows]
        for j, col in enumerate(self.features):
            if len(rows) == 0:
                break
            idx = self.slices[col]
            saved = sub[:, idx].copy()
            sub[:, idx] = self.reference_row[idx]
            contributions[:, j] = probability[rows] - self.calibrate(final.decision_function(sub))
            sub[:, idx] = saved
        return probability, rows, contributions


@dataclass
class _Splits:
    """The nodes of one tree that test one feature's columns, and where the typical row goes."""

    tree: int
    columns: np.ndarray  # matrix column per node
    bin_thresholds: np.ndarray  # binned value <= threshold goes left
    missing_go_to_left: np.ndarray
    reference_goes_left: np.ndarray


class _Forest:
    """A binary HistGradientBoostingClassifier's trees, evaluated tree by tree on binned rows.

    Binned and raw prediction reach the same leaf (a value is in bin b or below exactly when it
    is at or below the split's threshold; sklearn builds the thresholds that way), so the leaf
    values are the ones `decision_function` adds up, and they are added in the same order,
    starting from the same baseline: the sums are bit-identical. For drivers, a feature's
    replacement re-evaluates only the trees that test its columns, and in each only the rows
    where one of those tests comes out differently for the row and for the typical row.
    """

    @staticmethod
    def fits(final: Any) -> bool:
        """True for a fitted binary HGB classifier without native categorical splits."""
        if not isinstance(final, HistGradientBoostingClassifier):
            return False
        if final.n_trees_per_iteration_ != 1:
            return False
        return not any(p[0].nodes["is_categorical"].any() for p in final._predictors)

    def __init__(
        self,
        final: HistGradientBoostingClassifier,
        slices: dict[str, np.ndarray],
        reference_row: np.ndarray,
    ) -> None:
        self.trees = [p[0] for p in final._predictors]
        self.baseline = float(np.ravel(final._baseline_prediction)[0])
        mapper = final._bin_mapper
        self.bin_thresholds = mapper.bin_thresholds_
        self.is_categorical = mapper.is_categorical_
        self.missing_bin = int(mapper.missing_values_bin_idx_)
        self.features = list(slices)
        self.slices = slices
        self.reference_bins = self.bin(reference_row[None, :])[0]
        self.splits: dict[str, list[_Splits]] = {col: [] for col in slices}
        for t, tree in enumerate(self.trees):
            nodes = tree.nodes[tree.nodes["is_leaf"] == 0]
            for col, idx in slices.items():
                own = nodes[np.isin(nodes["feature_idx"], idx)]
                if len(own):
                    columns = own["feature_idx"].astype(np.intp)
                    self.splits[col].append(
                        _Splits(
                            tree=t,
                            columns=columns,
                            bin_thresholds=own["bin_threshold"].copy(),
                            missing_go_to_left=own["missing_go_to_left"].astype(bool),
                            reference_goes_left=self._goes_left(
                                self.reference_bins[columns],
                                own["bin_threshold"],
                                own["missing_go_to_left"].astype(bool),
                            ),
                        )
                    )

    def _goes_left(
        self, binned: np.ndarray, threshold: np.ndarray, missing_go_to_left: np.ndarray
    ) -> np.ndarray:
        """The test each node makes on binned values (the rule of sklearn's binned predictor)."""
        return np.where(binned == self.missing_bin, missing_go_to_left, binned <= threshold)

    def bin(self, matrix: np.ndarray) -> np.ndarray:
        """Binned rows (uint8, C order), as the fitted bin mapper bins them, on one thread."""
        binned = np.zeros_like(matrix, dtype=np.uint8, order="F")
        _map_to_bins(matrix, self.bin_thresholds, self.is_categorical, self.missing_bin, 1, binned)
        return np.ascontiguousarray(binned)

    def _tree(self, t: int, binned: np.ndarray) -> np.ndarray:
        return self.trees[t].predict_binned(binned, self.missing_bin, 1)

    def score_chunk(
        self, matrix: np.ndarray, floor: float, calibrate: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability per row, rows at or above `floor`, their contributions) for one chunk."""
        binned = self.bin(matrix)
        raw = np.full(len(binned), self.baseline)
        for t in range(len(self.trees)):
            raw += self._tree(t, binned)
        probability = calibrate(raw)
        rows = np.flatnonzero(probability >= floor)
        contributions = np.zeros((len(rows), len(self.features)))
        if len(rows) == 0:
            return probability, rows, contributions
        sub = binned[rows]
        outputs = np.stack([self._tree(t, sub) for t in range(len(self.trees))])
        for j, col in enumerate(self.features):
            if not self.splits[col]:
                continue  # no tree tests this feature: replacing it changes nothing
            replaced = sub.copy()
            replaced[:, self.slices[col]] = self.reference_bins[self.slices[col]]
            changed = {}
            for split in self.splits[col]:
                goes_left = self._goes_left(
                    sub[:, split.columns], split.bin_thresholds, split.missing_go_to_left
                )
                differs = np.flatnonzero((goes_left != split.reference_goes_left).any(axis=1))
                if len(differs):
                    values = outputs[split.tree].copy()
                    values[differs] = self._tree(split.tree, replaced[differs])
                    changed[split.tree] = values
            raw_j = np.full(len(rows), self.baseline)
            for t in range(len(self.trees)):
                raw_j += changed.get(t, outputs[t])
            contributions[:, j] = probability[rows] - calibrate(raw_j)
        return probability, rows, contributions


def _chunks(n_rows: int, size: int) -> list[slice]:
    """Consecutive row ranges of at most `size` rows."""
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _map_chunks(work: Callable[[slice], Any], chunks: list[slice], workers: int) -> list[Any]:
    """Run `work` per chunk, on `workers` threads (the trees release the GIL), in order."""
    if workers <= 1 or len(chunks) <= 1:
        return [work(c) for c in chunks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, chunks))


def _fast_predict(
    model: ChurnModel, features: pd.DataFrame, floor: float, workers: int
) -> tuple[np.ndarray, Drivers]:
    """Probabilities and drivers through `_Preprocessed`; raises when the model does not fit it."""
    prepared = _Preprocessed(model)
    chunks = _chunks(len(features), CHUNK_ROWS)

    def work(part: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        matrix = prepared.transform(features.iloc[part])
        probability, rows, contributions = prepared.score_chunk(matrix, floor)
        return probability, rows + part.start, contributions

    results = _map_chunks(work, chunks, workers)
    probability = np.concatenate([r[0] for r in results]) if results else np.zeros(0)
    drivers = Drivers(
        method="trees" if prepared.forest is not None else "matrix",
        rows=np.concatenate([r[1] for r in results]) if results else np.zeros(0, dtype=int),
        contributions=(
            np.concatenate([r[2] for r in results])
            if results
            else np.zeros((0, len(model.spec.features)))
        ),
        features=model.spec.features,
    )
    return probability, drivers


def _agrees_with_reference(
    model: ChurnModel, features: pd.DataFrame, probability: np.ndarray, drivers: Drivers
) -> bool:
    """The fast numbers equal the full pipeline's on the first rows (probability and drivers).

    On one thread: a few hundred rows gain nothing from two, and on a busy machine each of the
    pipeline's 200 per-tree OpenMP regions can wait for a descheduled second thread.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        head = model.predict_proba(features.iloc[:CHECK_ROWS])
        if not np.allclose(head, probability[:CHECK_ROWS], rtol=0, atol=1e-12):
            return False
        picked = drivers.rows[:CHECK_DRIVER_ROWS]
        if len(picked) == 0:
            return True
        expected = reference_contributions(model, features.iloc[picked]).to_numpy()
    return bool(np.allclose(expected, drivers.contributions[: len(picked)], rtol=0, atol=1e-12))


def _reference_predict(
    model: ChurnModel, features: pd.DataFrame, floor: float
) -> tuple[np.ndarray, Drivers]:
    """Probabilities and drivers through the whole pipeline (slow; any fitted model)."""
    probability = model.predict_proba(features)
    rows = np.flatnonzero(probability >= floor)
    parts = [
        reference_contributions(model, features.iloc[rows[part]]).to_numpy()
        for part in _chunks(len(rows), REFERENCE_CHUNK_ROWS)
    ]
    contributions = np.concatenate(parts) if parts else np.zeros((0, len(model.spec.features)))
    return probability, Drivers(
        rows=rows, contributions=contributions, features=model.spec.features, method="full pipeline"
    )


def predict_with_drivers(
    model: ChurnModel,
    features: pd.DataFrame,
    min_probability: float = MIN_CONTRIBUTION,
    workers: int | None = None,
) -> tuple[np.ndarray, Drivers]:
    """Probability per row, and contributions for the rows at or above `min_probability`.

    A contribution is at most the probability itself, so rows below MIN_CONTRIBUTION are never
    computed: they cannot have a driver. Chunks of rows run on `workers` threads (default: one
    per core); each evaluates its trees on one thread, so a core taken by another process slows
    the run down in proportion, not by OpenMP threads spinning while they wait for each other.
    """
    workers = workers or joblib.cpu_count()
    floor = max(float(min_probability), MIN_CONTRIBUTION)
    features = features.reset_index(drop=True)
    if features.empty:
        nothing = np.zeros((0, len(model.spec.features)))
        return np.zeros(0), Drivers(np.zeros(0, dtype=int), nothing, model.spec.features, "")
    try:
        probability, drivers = _fast_predict(model, features, floor, workers)
    except (AttributeError, IndexError, KeyError, ValueError, TypeError) as exc:
        log.warning("churn scoring: fast path unavailable (%s); using the full pipeline", exc)
        return _reference_predict(model, features, floor)
    if not _agrees_with_reference(model, features, probability, drivers):
        log.warning("churn scoring: fast path disagrees with the full pipeline; using it instead")
        return _reference_predict(model, features, floor)
    return probability, drivers


def _plain(value: Any) -> Any:
    """A JSON value a person can read: whole floats as ints, NaN as null."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else round(float(value), 4)
    return str(value)


def _value_json(values: list[Any]) -> list[str]:
    """`json.dumps(_plain(v))` for each value, each distinct value encoded once."""
    cache: dict[Any, str] = {}
    out = []
    for value in values:
        if isinstance(value, float) and value != value:  # NaN: not a dict key
            out.append("null")
            continue
        key = (type(value), value)  # 1 and 1.0 are equal keys but print differently
        text = cache.get(key)
        if text is None:
            text = cache[key] = json.dumps(_plain(value), ensure_ascii=False)
        out.append(text)
    return out


def top_drivers(drivers: Drivers, features: pd.DataFrame, top_n: int = 3) -> np.ndarray:
    """JSON text per row: up to `top_n` {feature, value, contribution} that raise risk most.

    The same text `json.dumps` gives for the list of dicts, built from pieces encoded once per
    distinct value and only for the rows that have a driver; every other row gets "[]".
    """
    out = np.full(len(features), "[]", dtype=object)
    matrix = drivers.contributions
    has_any = (matrix >= MIN_CONTRIBUTION).any(axis=1)
    if not has_any.any():
        return out
    rows, matrix = drivers.rows[has_any], matrix[has_any]
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top_n]
    picked = np.take_along_axis(matrix, order, axis=1)
    keep = picked >= MIN_CONTRIBUTION
    cells = np.empty(order.shape, dtype=object)  # '{"feature": .., "value": ..' per pick
    subset = features.iloc[rows]
    for j, col in enumerate(drivers.features):
        where = np.nonzero((order == j) & keep)
        if len(where[0]):
            head = '{"feature": ' + json.dumps(col, ensure_ascii=False) + ', "value": '
            texts = _value_json(subset[col].iloc[where[0]].tolist())
            cells[where] = [head + text for text in texts]
    texts = []
    for cell, contributions, kept in zip(
        cells.tolist(), picked.tolist(), keep.tolist(), strict=True
    ):
        parts = [
            f'{head}, "contribution": {round(c, 4)!r}}}'
            for head, c, k in zip(cell, contributions, kept, strict=True)
            if k
        ]
        texts.append("[" + ", ".join(parts) + "]")
    out[rows] = texts
    return out


def score_frame(
    model: ChurnModel,
    frame: pd.DataFrame,
    *,
    high: float = 0.5,
    medium: float = 0.25,
    top_n: int = 3,
    drivers_min_probability: float | None = None,
    shares: tuple[float, float] | None = None,
) -> ScoredBatch:
    """Score every row; blanks, text in number columns and unseen categories are counted.

    Drivers for rows at or above `drivers_min_probability` (default `medium`: the high and
    medium bands); the other rows get "[]". With `shares` (high_share, medium_share) the bands
    are relative: `high` and `medium` are replaced by `relative_thresholds` of this batch, and
    every high and medium row gets its drivers whatever `drivers_min_probability` says.
    """
    floor = medium if drivers_min_probability is None else drivers_min_probability
    if not 0 <= floor <= 1:
        raise ValueError(f"drivers_min_probability must be within [0, 1], got {floor}")
    spec = model.spec
    keys = [c for c in (spec.id_column, spec.entity_column, spec.time_column) if c in frame]
    require_columns(frame, [spec.entity_column], spec.source)
    features, issues = coerce_features(frame, spec, model.known_categories)
    features = features.reset_index(drop=True)
    if shares is not None:  # one cheap pass for the lines, before the costly drivers
        high, medium = relative_thresholds(model.predict_proba(features), *shares)
        floor = min(floor, medium)
    work = len(features) * (len(spec.features) + 1)
    workers = 1 if work < SINGLE_THREAD_BELOW_ROWS else joblib.cpu_count()
    with thread_limit(work):  # for what runs inside sklearn: the checks, the reference path
        probability, drivers = predict_with_drivers(model, features, floor, workers)
    scores = frame[keys].reset_index(drop=True).copy()
    scores["churn_probability"] = probability
    scores["risk_band"] = risk_bands(probability, high, medium)
    scores["top_drivers"] = top_drivers(drivers, features, top_n)
    return ScoredBatch(
        scores=scores,
        issues=issues,
        driver_rows=len(drivers.rows),
        drivers_method=drivers.method,
        thresholds={"high": float(high), "medium": float(medium)},
    )
