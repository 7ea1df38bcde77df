"""Splink matching: which pairs are scored."""

from __future__ import annotations

import json

import pytest
from identity_records import frame, many_records, record

from cxloop.identity.normalize import prepare
from cxloop.identity.splink_match import (
    MIN_TRAINING_RECORDS,
    SplinkModel,
    needs_training,
    splink_edges,
)


def test_pairs_between_two_contacts_clusters_are_not_scored() -> None:
    acme = "001000000000001AAA"
    rows = [  # two colleagues of one name and phone: the CRM says they are two people
        record("salesforce", "003000000000001AAA", email_raw="sara.jones@acme.com",
               first_name="Sara", last_name="Jones", phone_raw="+442076227035",
               account_hint=acme),
        record("salesforce", "003000000000002AAA", email_raw="sara.jones2@acme.com",
               first_name="Sara", last_name="Jones", phone_raw="+442076227035",
               account_hint=acme),
        record("zendesk", "5", email_raw="sarajones9@gmail.com", first_name="Sara",
               last_name="Jones", phone_raw="+442076227035", account_hint=acme),
    ]  # fmt: skip
    df = prepare(frame(rows))
    pairs = splink_edges(df, 0.0, groups=[0, 1, 2]).pairs
    assert {(int(i), int(j)) for i, j in pairs[["i", "j"]].values} == {(0, 2), (1, 2)}


@pytest.mark.parametrize(
    ("trained_on", "now", "trains"),
    [
        (None, MIN_TRAINING_RECORDS - 1, False),  # too few: the priors, no model
        (None, MIN_TRAINING_RECORDS, True),  # the first model
        (10_000, 10_500, False),  # +5%: reused
        (10_000, 10_501, True),  # past +5%
        (10_000, 9_500, False),  # -5% (an erasure, records merged away): reused
        (10_000, 9_499, True),
    ],
)
def test_splink_trains_again_once_the_records_moved_past_five_percent(
    trained_on: int | None, now: int, trains: bool
) -> None:
    model = SplinkModel({}, trained_on) if trained_on is not None else None
    assert needs_training(model, now) is trains


def test_a_reused_model_scores_as_the_training_run_did() -> None:
    df = prepare(many_records(1800))  # 2,400 records: Splink trains
    groups = list(range(len(df)))
    first = splink_edges(df, 0.0, groups)
    assert first.trained and first.model is not None and first.model.records == len(df)
    assert len(first.pairs) > 1000
    stored = SplinkModel(json.loads(json.dumps(first.model.settings)), first.model.records)
    again = splink_edges(df, 0.0, groups, model=stored)  # as the warehouse keeps it
    assert not again.trained and again.model == stored
    ordered = ["i", "j"]
    left = first.pairs.sort_values(ordered).reset_index(drop=True)
    assert left.equals(again.pairs.sort_values(ordered).reset_index(drop=True))
    # a model trained on other data scores other probabilities: the reuse is what matched
    other = prepare(many_records(2400, start=5000))
    trained_elsewhere = splink_edges(other, 0.0, list(range(len(other)))).model
    assert trained_elsewhere is not None
    elsewhere = SplinkModel(trained_elsewhere.settings, len(df))
    moved = splink_edges(df, 0.0, groups, model=elsewhere).pairs
    assert not moved.sort_values(ordered).reset_index(drop=True).equals(left)
