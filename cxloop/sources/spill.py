"""Prepared files of one entity kept on disk until the entity lands.

An entity's landing commits only when every one of its files parsed (a whole-file error
stops it before anything of it is written), yet memory must not grow with the number of files:
each file's prepared rows go to an Arrow IPC file as soon as it is parsed, and come back,
memory-mapped, one at a time while the entity lands. The folder is
`<lake>/.spill/<source>__<entity>/` (not `*.parquet`: no reader of the lake sees it); it is
emptied when the entity is done, and at the start of its next ingest if a killed run left it.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cxloop.sources.prepared import PreparedBatch


@dataclass(frozen=True)
class Spilled:
    """A prepared file whose rows wait on disk (`batch` without them, `names` its columns)."""

    batch: PreparedBatch
    names: list[str]
    path: Path


class Spill:
    """The spill folder of one entity's ingest; a context manager that removes it."""

    def __init__(self, lake_dir: Path, source: str, entity: str) -> None:
        self.folder = Path(lake_dir) / ".spill" / f"{source}__{entity}"
        shutil.rmtree(self.folder, ignore_errors=True)  # what a killed run left
        self.count = 0

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def next_path(self) -> Path:
        """A new file name in the folder (not the batch id: the same file may lie there twice)."""
        self.count += 1
        return self.folder / f"{self.count:06d}.arrow"

    def keep(self, batch: PreparedBatch) -> Spilled:
        """Write the batch's rows, row numbers and hashes to disk; keep the rest in memory."""
        return spill_batch(batch, self.next_path())

    @staticmethod
    def load(spilled: Spilled, *, keep: bool = False) -> PreparedBatch:
        """The batch with its rows again (memory-mapped); the file goes when it is read, unless
        `keep` (then it goes with the folder, when the entity is done)."""
        table = _read(spilled.path)
        if not keep:
            spilled.path.unlink()  # the mapping stays valid while the table is alive (POSIX)
        frame = pa.table(table.columns[:-2], names=spilled.names)
        return dataclasses.replace(
            spilled.batch,
            frame=frame,
            row_numbers=table["row_number"].to_pylist(),
            hashes=table["content_hash"].to_pylist(),
        )

    @staticmethod
    def hashes(spilled: Spilled) -> list[str]:
        """The content hashes of the batch's rows (read from disk; the file stays)."""
        return _read(spilled.path)["content_hash"].to_pylist()


def spill_batch(batch: PreparedBatch, path: Path) -> Spilled:
    """Write the batch's rows, row numbers and hashes to `path`; the rest stays in memory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = batch.frame
    # positional names: a source column may be called anything, `_row_number` included
    table = pa.table(
        [*frame.columns, pa.array(batch.row_numbers, pa.int64()), pa.array(batch.hashes)],
        names=[f"c{i}" for i in range(frame.num_columns)] + ["row_number", "content_hash"],
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    empty = dataclasses.replace(batch, frame=frame.slice(0, 0), row_numbers=[], hashes=[])
    return Spilled(empty, frame.column_names, path)


def _read(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()
