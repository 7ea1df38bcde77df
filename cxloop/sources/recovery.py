"""Finish what a killed ingest left in the lake: the one step landing cannot make atomic.

A file lands in one DuckDB transaction; its Parquet copy is written before the commit as
`<batch_id>.parquet.tmp` and renamed after it. A process killed between the commit and the
rename leaves a committed batch whose copy is still the temporary file; one killed before the
commit leaves a temporary file of a batch that never landed. Readers of the lake only read
`*.parquet`, so neither is seen; the next ingest of that entity settles both (`recover_lake`).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

TMP_SUFFIX = ".parquet.tmp"


def entity_lake_dir(lake_dir: Path, source: str, entity: str) -> Path:
    """Where an entity's landed batches are kept as Parquet."""
    return Path(lake_dir) / "raw" / source / entity


def recover_lake(
    con: duckdb.DuckDBPyConnection, lake_dir: Path, source: str, entity: str
) -> dict[str, list[str]]:
    """Rename the temporary copies of committed batches, delete those of batches never landed.

    Returns the batch ids `completed` and `discarded`, for the run's log.
    """
    folder = entity_lake_dir(lake_dir, source, entity)
    leftovers = sorted(folder.glob(f"*{TMP_SUFFIX}")) if folder.is_dir() else []
    done: dict[str, list[str]] = {"completed": [], "discarded": []}
    if not leftovers:
        return done
    committed = {
        batch_id
        for (batch_id,) in con.execute(
            "select batch_id from ops.ingest_files "
            "where source = ? and entity = ? and rows_landed > 0",
            [source, entity],
        ).fetchall()
    }
    for tmp in leftovers:
        batch_id = tmp.name.removesuffix(TMP_SUFFIX)
        if batch_id in committed:
            os.replace(tmp, tmp.with_suffix(""))
            done["completed"].append(batch_id)
        else:
            tmp.unlink(missing_ok=True)
            done["discarded"].append(batch_id)
    return done
