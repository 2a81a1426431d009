"""Hold an ``ACCESS EXCLUSIVE`` lock on a table for a while, in a process of its own.

Run as ``python -m ce_drill.chaos.lockholder DSN TABLE SECONDS``.  It prints the
backend pid that holds the lock once it holds it, then sleeps; ending the
process (or the time running out) ends the transaction and releases the lock.
A separate process keeps the lock independent of the drill's own lifetime,
so releasing it is something the drill must actually do.

Its sessions carry :data:`APPLICATION_NAME`, which is how :func:`lock_sessions`
finds them (is anything left?) and :func:`end_lock_holders` ends them, for the
local stack and a cluster's database alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterable

import psycopg
from psycopg import sql

APPLICATION_NAME = "ce-drill-lock"


def lock_sessions(dsn: str) -> tuple[int, ...] | None:
    """The drill's lock backends still in the database; None when it could not be asked."""
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,)
            ).fetchall()
    except psycopg.Error:
        return None
    return tuple(int(r[0]) for r in rows)


def end_lock_holders(dsn: str, holder_pids: Iterable[int]) -> list[int]:
    """``pg_terminate_backend`` on every drill lock backend, then SIGTERM to the holder processes.

    Returns the backends ended.  ``holder_pids`` are the process groups the drill started.
    """
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    for pid in holder_pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    return [int(r[0]) for r in rows]


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
