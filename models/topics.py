"""Learned topics: NMF over word TF-IDF of the normalized texts, in any language.

Learned on all the texts, or on a fixed random sample of `MAX_FIT_TEXTS` when there are more
(the cost stays bounded); every text is then assigned. A text goes to its strongest component
when that component holds at least `MIN_SHARE` of the text's topic weight and explains at least
`MIN_STRENGTH` of it (the length of the text's TF-IDF vector the component reconstructs, 0..1:
the text's weight); a component is described by its top terms. Fixed random_state and
`nndsvda` initialisation, so the same texts give the same topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from cxloop.models.textnorm import normalize_text

RANDOM_STATE = 0
MIN_DOCS_PER_TOPIC = 10
MIN_SHARE = 0.5
MIN_STRENGTH = 0.35
TOP_TERMS = 3
TRANSFORM_MAX_ITER = 500  # coordinate-descent sweeps per text at most
TRANSFORM_TOL = 1e-6  # a text is solved when no weight moves by more than this share
MAX_FIT_TEXTS = 5000  # more texts: learned on a fixed random sample, every text assigned
TOKEN = r"(?u)\b[^\W\d_]{3,}\b"  # words of three letters or more, any script
# Function words of Arabic and Persian (English: scikit-learn's list), normalized like the text.
_AR = (
    "في من على الى إلى عن مع هذا هذه ذلك تلك التي الذي الذين كان كانت لكن لا لم لن ما هو هي "
    "نحن انا أنا انت أنت هم كل بعد قبل او أو ثم قد تم جدا حتى عند عندما اي أي بين كما اذا إذا"
)
_FA = (
    "این آن که را با از به در برای تا هم یا اما ولی است هست بود شد شده می‌شود نمی ما من شما "
    "آنها او خیلی کمی بعد قبل هر همه چند دیگر هنوز وقتی اگر باید کرد کرده کند کنید"
)
STOP_WORDS = sorted(set(normalize_text(" ".join((*ENGLISH_STOP_WORDS, _AR, _FA))).split()))


@dataclass
class LearnedTopics:
    """Per component its top terms; per text its component (-1: none) and how much of the
    text that component explains (0..1)."""

    terms: list[list[str]] = field(default_factory=list)
    assignment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    share: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class TopicFit:
    """A fitted vocabulary and NMF components (rows: components, columns: terms)."""

    vectorizer: TfidfVectorizer
    components: np.ndarray
    terms: list[list[str]]


def fit_topics(
    texts: list[str], n_topics: int, random_state: int = RANDOM_STATE
) -> TopicFit | None:
    """Fit NMF with up to n_topics components (None when there are too few texts or words)."""
    if len(texts) < 2 * MIN_DOCS_PER_TOPIC or n_topics < 2:
        return None
    vectorizer = TfidfVectorizer(
        preprocessor=normalize_text,
        token_pattern=TOKEN,
        stop_words=STOP_WORDS,
        min_df=min(3, len(texts)),
        max_df=0.5,
        sublinear_tf=True,
    )
    rng = np.random.default_rng(random_state)
    fit_on = (
        [texts[i] for i in sorted(rng.choice(len(texts), MAX_FIT_TEXTS, replace=False))]
        if len(texts) > MAX_FIT_TEXTS
        else texts
    )
    try:
        fit_matrix = vectorizer.fit_transform(fit_on)
    except ValueError:  # no word left after the stop words and document-frequency limits
        return None
    k = min(n_topics, len(fit_on) // MIN_DOCS_PER_TOPIC, fit_matrix.shape[1] - 1)
    if k < 2:
        return None
    nmf = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=500)
    nmf.fit(fit_matrix)
    vocabulary = vectorizer.get_feature_names_out()
    terms = [
        [str(vocabulary[i]) for i in np.argsort(-component, kind="stable")[:TOP_TERMS]]
        for component in nmf.components_
    ]
    return TopicFit(vectorizer, nmf.components_, terms)


def text_weights(fit: TopicFit, texts: list[str]) -> np.ndarray:
    """Each text's non-negative component weights: min |x - wH|^2 over w >= 0, per text.

    Solved by coordinate descent for each text on its own (its own stopping rule), so a
    text's weights do not depend on which other texts are solved with it: assigning only the
    new texts gives what assigning every text gives (scikit-learn's NMF.transform starts from
    and stops on the whole batch). Each distinct text is solved once.
    """
    h = fit.components
    if not len(texts):
        return np.zeros((0, h.shape[0]))
    distinct, position = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    return _solve(h, np.asarray(fit.vectorizer.transform(distinct.tolist()) @ h.T))[position]


def _solve(h: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coordinate descent for each row of `target` (x H^T) on its own (text_weights)."""
    gram = h @ h.T
    weights = np.zeros(target.shape)
    active = np.arange(len(target))
    for _ in range(TRANSFORM_MAX_ITER):
        w = weights[active]
        before = w.copy()
        for j in range(h.shape[0]):
            gradient = (w * gram[j]).sum(axis=1) - target[active, j]
            w[:, j] = np.maximum(0.0, w[:, j] - gradient / gram[j, j])
        weights[active] = w
        moved = np.abs(w - before).max(axis=1) > TRANSFORM_TOL * np.maximum(w.max(axis=1), 1e-12)
        active = active[moved]
        if not len(active):
            break
    return weights


def assign_topics(fit: TopicFit | None, texts: list[str]) -> LearnedTopics:
    """Each text's strongest component and its strength (module docstring), or none."""
    if fit is None:
        return LearnedTopics(assignment=np.full(len(texts), -1), share=np.zeros(len(texts)))
    weights = text_weights(fit, texts)
    totals = weights.sum(axis=1)
    best = weights.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
    rows = np.arange(len(texts))
    share = np.divide(weights[rows, best], totals, out=np.zeros(len(texts)), where=totals > 0)
    # texts are unit vectors: w * |h| is the length of the part of the text the component
    # explains (1: all of it)
    norms = np.linalg.norm(fit.components, axis=1)
    strength = np.minimum(1.0, weights[rows, best] * norms[best])
    assignment = np.where((share >= MIN_SHARE) & (strength >= MIN_STRENGTH), best, -1)
    return LearnedTopics(fit.terms, assignment, np.where(assignment >= 0, strength, 0.0))


def learn_topics(
    texts: list[str], n_topics: int, random_state: int = RANDOM_STATE
) -> LearnedTopics:
    """Fit NMF with up to n_topics components and assign every text."""
    return assign_topics(fit_topics(texts, n_topics, random_state), texts)
