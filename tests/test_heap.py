"""cxloop.heap: the collector's state during a run, and as it was after it."""

from __future__ import annotations

import gc
import weakref

import pytest

from cxloop.heap import THRESHOLDS, freeze_long_lived, long_lived_heap


class Node:
    """An object that can sit in a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_inside_the_run_what_exists_is_frozen_and_afterwards_nothing_is() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with long_lived_heap():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
        with long_lived_heap():  # re-entrant: the inner exit changes nothing
            pass
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_cycle_frozen_during_the_run_is_collected_after_it() -> None:
    with long_lived_heap():
        watched = cycle()
        freeze_long_lived()  # as after dbt's parse
        gc.collect()
        assert watched() is not None  # frozen: the collector does not walk it
    gc.collect()
    assert watched() is None


def test_the_heap_is_restored_when_the_run_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), long_lived_heap():
        raise RuntimeError("a stage failed")
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, before)


def test_outside_a_run_nothing_is_frozen() -> None:
    watched = cycle()
    freeze_long_lived()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert watched() is None
