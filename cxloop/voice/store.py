"""Writing the voice tables: a run replaces a table whole, in one transaction."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cxloop.tables import Table
from cxloop.warehouse import writer


def replace_table(warehouse: Path, table: Table, rows: pd.DataFrame) -> int:
    """Replace every row of `table` with `rows` (its columns, by name) in one transaction."""
    with writer(warehouse) as con:  # one transaction: committed whole or rolled back
        con.execute(table.ddl)
        table.add_missing_columns(con)  # a table made by an older release
        con.execute(f"delete from {table.sql_name}")
        con.register("replacement_rows", rows)
        names = table.column_list
        con.execute(f"insert into {table.sql_name} ({names}) select {names} from replacement_rows")
        con.unregister("replacement_rows")
    return len(rows)
