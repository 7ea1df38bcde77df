"""The CX report's charts, kept by what they were drawn from: a chart whose data did not change
since the last report is read back, not drawn again (matplotlib takes ~0.1 s a chart).

The key is the chart function, its code, matplotlib's version and a hash of its arguments (each
data frame's columns, types and rows). The same data gives the same SVG (plots.py fixes the
SVG ids), so a kept chart is byte-identical to a redrawn one. The cache lives under
`$CXLOOP_HOME/reports/.charts/` only while `charts_kept_in` is active; each report removes the
charts it did not use, so the folder holds one report's charts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

_FOLDER: ContextVar[tuple[Path, set[str]] | None] = ContextVar("chart_cache", default=None)
NONE = "\0none"  # a chart function that drew nothing (no data)


def _fingerprint(value: Any, digest: Any) -> None:
    if isinstance(value, pd.DataFrame):
        digest.update(repr((list(value.columns), [str(t) for t in value.dtypes])).encode())
        digest.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(repr((value.dtype.str, value.shape)).encode() + value.tobytes())
    else:
        digest.update(repr(value).encode())


def cached_chart(draw: Callable[..., str | None]) -> Callable[..., str | None]:
    """Keep `draw`'s SVG by its arguments while a cache folder is active."""
    code = inspect.getsource(inspect.getmodule(draw))  # type: ignore[arg-type]

    @functools.wraps(draw)
    def chart(*args: Any, **kwargs: Any) -> str | None:
        active = _FOLDER.get()
        if active is None:
            return draw(*args, **kwargs)
        folder, used = active
        digest = hashlib.sha256(f"{draw.__name__}\n{matplotlib.__version__}\n{code}".encode())
        for value in (*args, *sorted(kwargs.items())):
            _fingerprint(value, digest)
        name = f"{digest.hexdigest()}.svg"
        used.add(name)
        path = folder / name
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return None if text == NONE else text
        drawn = draw(*args, **kwargs)
        tmp = folder / f"{name}.tmp"
        tmp.write_text(NONE if drawn is None else drawn, encoding="utf-8")
        os.replace(tmp, path)
        return drawn

    return chart


@contextlib.contextmanager
def charts_kept_in(folder: Path) -> Iterator[None]:
    """Read and keep charts under `folder` inside the block; then drop the unused ones."""
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    token = _FOLDER.set((folder, used))
    try:
        yield
    finally:
        _FOLDER.reset(token)
    for path in folder.iterdir():
        if path.name not in used:
            path.unlink(missing_ok=True)
