"""The stand-in's storage: workflow rows in PostgreSQL through a small connection pool.

Every statement runs under a statement timeout a little longer than a normal
request, so when something holds a lock on the table, requests first get slow
and then fail with a 5xx — the manual's "query timeouts" — instead of hanging.
A request that finds every pooled connection busy waits at most that long too
("connection pool exhausted").
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ce_drill.stack.postgres import TABLE


class PoolExhaustedError(Exception):
    """No connection became free in time."""


class Pool:
    def __init__(self, conninfo: str, size: int, statement_timeout_s: float) -> None:
        self._conninfo = conninfo
        self._size = size
        self._timeout_s = statement_timeout_s
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()

    def _open(self, timeout_s: float) -> psycopg.Connection[Any]:
        ms = int(self._timeout_s * 1000)
        return psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=max(1, int(timeout_s)),
            options=f"-c statement_timeout={ms}",
        )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._opened < self._size
                if grow:
                    self._opened += 1
            if grow:
                try:
                    conn = self._open(self._timeout_s)
                except BaseException:
                    with self._lock:
                        self._opened -= 1
                    raise
            else:
                try:
                    conn = self._idle.get(timeout=self._timeout_s)
                except queue.Empty:
                    raise PoolExhaustedError(f"all {self._size} database connections busy") from None
        try:
            yield conn
        except psycopg.OperationalError:
            # The connection may be dead (server restarted); do not hand it out again.
            self._discard(conn)
            raise
        else:
            self._idle.put(conn)

    def _discard(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            self._opened -= 1
        conn.close()

    def insert_workflow(self, agent: str, version: str, payload: str) -> int:
        with self.connection() as conn:
            row = conn.execute(
                f"INSERT INTO {TABLE} (agent, version, payload) VALUES (%s, %s, %s) RETURNING id",
                (agent, version, payload),
            ).fetchone()
        if row is None:  # INSERT … RETURNING always returns the row
            raise RuntimeError("insert returned no id")
        return int(row[0])

    def recent_workflows(self, limit: int) -> list[dict[str, Any]]:
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT id, agent, version, created_at FROM {TABLE} ORDER BY id DESC LIMIT %s", (limit,)
            ).fetchall()
        return [{"id": r[0], "agent": r[1], "version": r[2], "created_at": r[3].isoformat()} for r in rows]


def probe(conninfo: str, timeout_s: float) -> bool:
    """Whether the database answers ``SELECT 1`` within ``timeout_s``."""
    try:
        with psycopg.connect(
            conninfo,
            autocommit=True,
            connect_timeout=max(1, int(timeout_s)),
            options=f"-c statement_timeout={int(timeout_s * 1000)}",
        ) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True
