"""Probabilistic matching with Splink 5 (DuckDB backend) for what the rules left apart.

Blocking keys, comparisons with priors, training when there is enough data, prediction.
The blocking rules skip pairs no Splink edge could join: inside one deterministic group,
or between two groups that each hold a CRM contact (the cannot-link, enforced again by
`clusters.UnionFind`). docs/identity.md has the why of each choice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from cxloop.warehouse import limit_memory

MIN_TRAINING_RECORDS = 2000  # below this the priors in _comparisons() are used as they are
# A trained model is reused while the records Splink reads stay within this share of the count
# it was trained on (docs/identity.md "Splink's training"); past it, or with new identity code
# or libraries, or on --full-refresh, Splink trains again.
RETRAIN_CHANGE = 0.05
PRIOR_MATCH_RATE = 1e-4
BLOCKING_KEYS = (
    ("account_hint", "last_key"),
    ("account_hint", "first_key"),
    ("email_local_key",),
    ("phone_any", "first_key"),
)
# Free-mail providers: the e-mail local-part block only pairs a personal address with others
# (work addresses with the same local part at different companies are different people).
FREEMAIL = frozenset(
    "gmail.com outlook.com hotmail.com live.com yahoo.com icloud.com me.com aol.com "
    "proton.me protonmail.com gmx.com gmx.de mail.ru yandex.ru web.de msn.com".split()
)


def _blocking_rule(keys: tuple[str, ...]) -> str:
    """Equal keys, and only pairs a Splink edge could join: not inside one deterministic
    group (already joined), not between two groups that each hold a CRM contact (the
    cannot-link rule refuses every such edge, so scoring them is wasted work)."""
    equal = " and ".join(f"l.{k} = r.{k}" for k in keys)
    extra = " and (l.is_freemail or r.is_freemail)" if keys == ("email_local_key",) else ""
    return (
        f"{equal}{extra} and l.rule_group <> r.rule_group"
        " and not (l.group_has_contact and r.group_has_contact)"
    )


@dataclass(frozen=True)
class SplinkModel:
    """Splink's trained model: its settings with the trained m and u probabilities (Splink's
    `save_model_to_json` dict: comparison levels' statistics, no records) and how many records
    it was trained on."""

    settings: dict[str, Any]
    records: int


@dataclass(frozen=True)
class SplinkResult:
    """Scored pairs (i, j, probability), the model that scored them (None: the priors) and
    whether it was trained by this call."""

    pairs: pd.DataFrame
    model: SplinkModel | None
    trained: bool


def needs_training(model: SplinkModel | None, records: int) -> bool:
    """Whether Splink trains on these `records` (the count it reads) rather than reuse `model`:
    never below MIN_TRAINING_RECORDS (the priors), else when there is no model or the count
    moved more than RETRAIN_CHANGE from the one it was trained on."""
    if records < MIN_TRAINING_RECORDS:
        return False
    return model is None or abs(records - model.records) > RETRAIN_CHANGE * model.records


def splink_reads(df: pd.DataFrame) -> pd.Series:
    """Whether Splink reads each record: it has a last-name key or an e-mail local key."""
    return df["last_key"].notna() | df["email_local_key"].notna()


def splink_edges(
    df: pd.DataFrame,
    threshold: float,
    groups: list[int] | None = None,
    seed: int = 42,
    lap: Callable[[str], None] | None = None,
    model: SplinkModel | None = None,
    population: int | None = None,
) -> SplinkResult:
    """Scored pairs (i, j, probability) at or above `threshold`, from Splink 5 on DuckDB.

    `groups` are the deterministic clusters: pairs inside one are not scored. `model` is the
    last trained model, reused unless `needs_training`. `lap(stage)`, when given, is called
    after setup, training and prediction (the run's stage timings). `population`: how many
    records Splink reads in the whole map when `df` is only a part of it (an incremental
    run, cxloop.identity.incremental): it decides training and the priors, as the whole
    map's count would; such a run must reuse `model` (it never trains on a part).
    """
    from splink import DuckDBAPI, Linker

    frame = _splink_frame(df, range(len(df)), groups)
    usable = frame[splink_reads(df).to_numpy()]
    count = len(usable) if population is None else population
    train = needs_training(model, count)
    if train and population is not None:
        raise ValueError("Splink cannot train on a part of the records (population given)")
    if train or count < MIN_TRAINING_RECORDS:
        model = None  # trained below, or the priors: too few records to train on
    if len(usable) < 2:  # nothing to pair (the model is the one a pair would be scored with)
        return SplinkResult(pd.DataFrame(columns=["i", "j", "probability"]), model, False)
    lap = lap or (lambda stage: None)
    con = limit_memory(duckdb.connect())  # Splink's own database, capped like the warehouse
    try:
        db_api = DuckDBAPI(connection=con)
        sdf = db_api.register(usable, dataset_display_name="person_records")
        linker = Linker(sdf, model.settings if model else _settings(), log_level=logging.WARNING)
        lap("splink_setup")
        if train:
            _train(linker, seed)
            model = SplinkModel(linker.misc.save_model_to_json(), len(usable))
        lap("splink_training")
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        pairs = predictions.as_pandas_dataframe()
        lap("splink_predict")
    finally:
        con.close()
    pairs = pairs.rename(
        columns={"unique_id_l": "i", "unique_id_r": "j", "match_probability": "probability"}
    )
    return SplinkResult(pairs[["i", "j", "probability"]].astype({"i": int, "j": int}), model, train)


def _splink_frame(df: pd.DataFrame, ids: object, groups: list[int] | None) -> pd.DataFrame:
    """The columns Splink reads of prepared records: `unique_id` from `ids`, the comparison
    and blocking keys, the record's group (`groups`, else its own) and whether that group
    holds a CRM contact, whether its e-mail is a free-mail address."""
    cols = ["first_key", "last_key", "email_local_key", "phone_e164", "account_hint"]
    frame = df[cols].copy()
    frame.insert(0, "unique_id", ids)
    frame["phone_any"] = df["phone_any"]
    frame["rule_group"] = groups if groups is not None else range(len(df))
    anchored = {
        g
        for g, a in zip(frame["rule_group"].tolist(), df["anchor"].tolist(), strict=True)
        if isinstance(a, str)
    }
    frame["group_has_contact"] = frame["rule_group"].isin(anchored)
    frame["is_freemail"] = is_freemail(df["email_normalized"])
    return frame


def is_freemail(emails: pd.Series) -> list[bool]:
    """Whether each normalized e-mail is at a free-mail provider (`FREEMAIL`)."""
    return [isinstance(e, str) and e.rsplit("@", 1)[-1] in FREEMAIL for e in emails.tolist()]


def cross_pairs(
    left: pd.DataFrame,
    right: pd.DataFrame,
    threshold: float,
    model: SplinkModel | None,
    population: int,
) -> pd.DataFrame:
    """The pairs (i, j, probability) at or above `threshold` between a record of `left` and
    one of `right` (prepared records with a `node` column: i and j are nodes), as
    `splink_edges` scores them with `model` (or the priors below MIN_TRAINING_RECORDS of
    `population`): no pair is left out for the records' groups (each is its own); a pair of
    two records whose `anchor` holds a CRM contact is not scored (never joined), a record
    without one (as `incremental` reads them from the map) may pair with anything."""
    from splink import DuckDBAPI, Linker

    frames = []
    for side, offset in ((left, 0), (right, len(left))):
        frame = _splink_frame(
            side, side["node"].to_numpy(), list(range(offset, offset + len(side)))
        )
        frames.append(frame[splink_reads(side).to_numpy()])
    if not all(len(f) for f in frames):
        return pd.DataFrame(columns=["i", "j", "probability"])
    if needs_training(model, population):
        raise ValueError("cross_pairs reuses a model: it never trains")
    settings = (
        {**model.settings, "link_type": "link_only"}
        if model is not None and population >= MIN_TRAINING_RECORDS
        else _settings("link_only")
    )
    con = limit_memory(duckdb.connect())
    try:
        db_api = DuckDBAPI(connection=con)
        tables = [
            db_api.register(f, dataset_display_name=name)
            for f, name in zip(frames, ("part", "outside"), strict=True)
        ]
        linker = Linker(tables, settings, log_level=logging.WARNING)
        pairs = linker.inference.predict(
            threshold_match_probability=threshold
        ).as_pandas_dataframe()
    finally:
        con.close()
    pairs = pairs.rename(
        columns={"unique_id_l": "i", "unique_id_r": "j", "match_probability": "probability"}
    )
    return pairs[["i", "j", "probability"]].astype({"i": "int64", "j": "int64"})


def _settings(link_type: str = "dedupe_only") -> object:
    """The untrained model: blocking rules, comparisons with their priors, the prior match rate."""
    from splink import SettingsCreator

    return SettingsCreator(
        link_type=link_type,
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[_blocking_rule(k) for k in BLOCKING_KEYS],
        probability_two_random_records_match=PRIOR_MATCH_RATE,
        retain_intermediate_calculation_columns=False,
    )


def _comparisons() -> list[object]:
    """Name keys, phone, account; m priors used when data is too small.

    The e-mail local key is a blocking rule, not a comparison: it is spelled from the
    name (`david.king@acme.com`, `davidking60@yahoo.com`), so scoring it as well counts the
    name twice (Splink assumes independent comparisons). Scored, it lifted "same name, other
    company" pairs to 0.99: every wrong merge on the scale-1 demo (docs/identity.md).
    """
    import splink.comparison_library as cl

    return [
        cl.JaroWinklerAtThresholds("first_key", [0.9]).configure(
            m_probabilities=[0.85, 0.08, 0.07], u_probabilities=[0.02, 0.03, 0.95]
        ),
        cl.JaroWinklerAtThresholds("last_key", [0.9]).configure(
            m_probabilities=[0.85, 0.07, 0.08], u_probabilities=[0.01, 0.02, 0.97]
        ),
        cl.ExactMatch("phone_any").configure(
            m_probabilities=[0.6, 0.4], u_probabilities=[0.001, 0.999]
        ),
        cl.ExactMatch("account_hint").configure(
            m_probabilities=[0.95, 0.05], u_probabilities=[0.001, 0.999]
        ),
    ]


def _train(linker: object, seed: int) -> None:
    """u by random sampling, m by EM blocked on (account, first) then (account, last name)."""
    from splink import block_on

    training = linker.training  # type: ignore[attr-defined]
    training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
    for rule in (block_on("account_hint", "first_key"), block_on("account_hint", "last_key")):
        training.estimate_parameters_using_expectation_maximisation(rule)
