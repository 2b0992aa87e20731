"""A second open of a database in the same process keeps the first one's locks.

POSIX drops every lock a process holds on a file when *any* descriptor of it is closed. If
opening a database opened and closed the file first, the content server (a reader and an
open recorder on one store) would hold no lock, and another process closing the store would
checkpoint and delete the WAL under it: lost writes, then "database disk image is malformed".
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from dispatcher.storage import open_database

SCHEMA = "CREATE TABLE IF NOT EXISTS t (x INTEGER);"
CHILD = """
import sys
from pathlib import Path
from dispatcher.storage import open_database
db = open_database(Path(sys.argv[1]), schema={schema!r})
with db.transaction() as tx:
    tx.execute("INSERT INTO t VALUES (2)")
db.close()
"""


def test_another_process_closing_the_database_leaves_our_wal_alone(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    first = open_database(path, schema=SCHEMA)
    with first.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (1)")
    second = open_database(path, schema=SCHEMA)  # the same process opens it again
    subprocess.run([sys.executable, "-c", CHILD.format(schema=SCHEMA), str(path)], check=True)
    assert Path(f"{path}-wal").exists(), "the other process took itself for the last user"
    for _ in range(50):
        with first.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (3)")
    assert second.execute("SELECT count(*) FROM t").fetchone()[0] == 52
    second.close()
    first.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
