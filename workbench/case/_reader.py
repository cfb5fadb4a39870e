"""Read one query of a case through ADBC (Arrow, C speed) in a child process.

Why a child: the ADBC driver carries its own copy of SQLite. POSIX file locks belong to
the whole process, so if this process opened and closed the case file through a second
SQLite library, it would silently drop the locks its own ``sqlite3`` connection holds, and
another process could then delete the write-ahead log under it and lose committed writes
(see "How To Corrupt An SQLite Database File", section 2.2). A child process has its own
locks. The single SELECT reads one consistent snapshot.

    python -P path/to/_reader.py CASE.gpkg "SELECT ..." OUT.arrow

It runs as a script, not with ``-m``: it imports nothing of the workbench (``-m`` would
import the package first, geopandas and all).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    path, sql, out = argv
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow.ipc as ipc

    with adbc.connect(f"file:{path}?mode=ro") as con, con.cursor() as cursor:
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
    with ipc.new_file(out, table.schema) as writer:
        writer.write_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
