"""Errors a user can act on. The CLI prints their message on one line and exits non-zero."""

from __future__ import annotations


class CxloopError(Exception):
    """Base for errors that the CLI reports without a traceback."""


class ConfigError(CxloopError):
    """cxloop.yaml or settings are wrong."""


class SourceError(CxloopError):
    """A source file cannot be read at all (missing, wrong columns, undecodable, unknown layout).

    The message names the file, and where it applies the row and the field, and what was expected.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file, self.row, self.field, self.problem, self.expected = (
            file,
            row,
            field,
            problem,
            expected,
        )
        where = file + (f", row {row}" if row is not None else "")
        where += f", field '{field}'" if field else ""
        msg = f"{where}: {problem}" + (f" (expected {expected})" if expected else "")
        super().__init__(msg)


class QualityGateError(CxloopError):
    """A critical data-quality check failed; nothing downstream may act or publish."""
