"""Hold an ``ACCESS EXCLUSIVE`` lock on a table for a while, in a process of its own.

Run as ``python -m ce_drill.chaos.lockholder DSN TABLE SECONDS``.  It prints the
backend pid that holds the lock once it holds it, then sleeps; ending the
process (or the time running out) ends the transaction and releases the lock.
A separate process keeps the lock independent of the drill's own lifetime,
so releasing it is something the drill must actually do.
"""

from __future__ import annotations

import sys
import time

import psycopg
from psycopg import sql

APPLICATION_NAME = "ce-drill-lock"


def main(argv: list[str]) -> None:
    dsn, table, seconds = argv[0], argv[1], float(argv[2])
    conn = psycopg.connect(dsn, autocommit=False, application_name=APPLICATION_NAME)
    conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()
    print(pid[0] if pid else "", flush=True)
    time.sleep(seconds)
    conn.rollback()
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
