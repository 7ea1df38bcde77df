"""Column names from sources, as DuckDB takes them: quoted for SQL, compared as DuckDB compares.

A source's keys and headers are written by others (a JSON key may hold a double quote), so
every statement that names a column or a table quotes it with `quoted` (DuckDB and PostgreSQL
quote alike; `Table.column_list` is a table's quoted columns). DuckDB matches quoted
identifiers ignoring the case of ASCII letters only (`"Email"` is `"email"`, `"Émail"` is not
`"émail"`): `fold_case` folds a name the same way, to tell which names are one column.
"""

from __future__ import annotations

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def quoted(name: str) -> str:
    """The name as an SQL identifier (its double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def fold_case(name: str) -> str:
    """The name as DuckDB compares identifiers: ASCII letters lower-cased, nothing else."""
    return name.translate(_ASCII_LOWER)
