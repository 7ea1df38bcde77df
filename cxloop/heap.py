"""The garbage collector during a pipeline run: long-lived objects frozen (issue #12).

A run's process holds a large heap that lives as long as the run: the libraries it imported
(Prefect, dbt, pandas, scikit-learn) and dbt's parsed project, kept for every invocation of
the run (`cxloop.dbt.parsed_manifest`). CPython's full collections walk all of it (~0.3 s each
at scale 1, 15 in a first run) and so does the collection after each dbt invocation
(`cxloop.warehouse.release_dbt_connections`). Inside `long_lived_heap()` what exists is moved
to the permanent generation (`gc.freeze()`), again after dbt's parse (`freeze_long_lived`), and
the youngest generation is collected less often. On exit everything is unfrozen and the
thresholds restored, so what the run left behind is collected as before (a test session runs
many pipelines in one process). Frozen objects are still freed when their last reference goes;
only garbage in reference cycles waits for the exit.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (1_000, 20, 50)  # CPython's default: (700, 10, 10)
_depth = 0  # process-wide, as the collector is


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """Freeze what exists now and collect the young generation less often, until exit."""
    global _depth
    if _depth:
        yield
        return
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        gc.set_threshold(*saved)
        gc.unfreeze()


def freeze_long_lived() -> None:
    """Inside `long_lived_heap()`, freeze what exists now (e.g. a parse kept for the run)."""
    if _depth:
        gc.freeze()
