"""The stack's PostgreSQL: a private cluster holding the workflow rows the service writes.

``initdb`` refuses to run as root, so as root everything is done as the
``postgres`` user (``runuser -u postgres --``) on a data directory it owns.
That directory lives in the run directory when the postgres user can reach
it; when a parent directory is private to root (``/root``, pytest's temporary
directories) it lives in a directory of its own under the system temporary
directory instead, recorded in the stack's state and removed by ``down``.
The server's output goes to the run directory's log either way, because the
log file is opened by us and inherited.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ce_drill.stack.config import HOST
from ce_drill.stack.procs import ProcRef

DB_NAME = "ce_drill"
DB_USER = "postgres"
TABLE = "workflows"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id         bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    agent      text NOT NULL,
    version    text NOT NULL,
    payload    text NOT NULL DEFAULT ''
);
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
"""
_TOOL_TIMEOUT_S = 60.0


class PostgresError(Exception):
    """PostgreSQL could not be set up or started; the message says which step and why."""


def conninfo(port: int, dbname: str = DB_NAME) -> str:
    return f"host={HOST} port={port} dbname={dbname} user={DB_USER}"


def bindir() -> Path | None:
    """Directory of initdb/pg_ctl: Debian keeps them out of PATH, per major version."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if p.parts[-3].isdigit()]
    if versions:
        return max(versions, key=lambda p: int(p.parts[-3])).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", DB_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], log: Path, step: str) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            _as_postgres(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=_TOOL_TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        raise PostgresError(f"{step} failed (exit {done.returncode}); see {log}")


def _reachable(path: Path) -> bool:
    """Whether the postgres user can write into ``path`` (every parent must let it through)."""
    if os.geteuid() != 0:
        return True
    probe = subprocess.run(_as_postgres(["test", "-w", str(path)]), check=False, timeout=_TOOL_TIMEOUT_S)
    return probe.returncode == 0


@dataclass(frozen=True)
class Cluster:
    data_dir: Path
    port: int
    log: Path
    private_dir: Path | None
    """The directory made outside the run directory, if one was needed (removed by ``down``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "port": self.port,
            "log": str(self.log),
            "private_dir": None if self.private_dir is None else str(self.private_dir),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cluster:
        private = data.get("private_dir")
        return cls(
            Path(data["data_dir"]), int(data["port"]), Path(data["log"]), Path(private) if private else None
        )

    def pid(self) -> ProcRef | None:
        """The postmaster, from the first line of ``postmaster.pid``."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
            return ProcRef.of(int(first))
        except (OSError, ValueError):
            return None

    def healthy(self, timeout_s: float = 2.0) -> bool:
        try:
            with psycopg.connect(conninfo(self.port), connect_timeout=max(1, int(timeout_s))) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


def create(home: Path, port: int, log: Path, tag: str) -> Cluster:
    """Run initdb for a new cluster listening on 127.0.0.1:``port``."""
    tools = bindir()
    if tools is None:
        raise PostgresError("initdb not found; run `ce-drill stack install`")
    home.mkdir(parents=True, exist_ok=True)
    private: Path | None = None
    owner = pwd.getpwnam(DB_USER) if os.geteuid() == 0 else None
    if owner is not None:
        os.chown(home, owner.pw_uid, owner.pw_gid)
        if not _reachable(home):
            private = Path(tempfile.mkdtemp(prefix=f"ce-drill-pg-{tag}-"))
            os.chown(private, owner.pw_uid, owner.pw_gid)
    data = (private or home) / "data"
    _run(
        [str(tools / "initdb"), "-D", str(data), "--no-sync", "-A", "trust", "-U", DB_USER, "-E", "UTF8"],
        log,
        "initdb",
    )
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        # TCP only: a socket path under a deep run directory can exceed the 107-byte limit.
        "unix_socket_directories": "''",
        "shared_preload_libraries": "'pg_stat_statements'",
        "logging_collector": "off",
    }
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    return Cluster(data, port, log, private)


def start(cluster: Cluster) -> None:
    """``pg_ctl -w start`` detached in its own session, then the database and its table."""
    tools = bindir()
    assert tools is not None, "create() checked for the binaries"
    with cluster.log.open("ab") as out:
        done = subprocess.run(
            _as_postgres([str(tools / "pg_ctl"), "-D", str(cluster.data_dir), "-w", "-t", "60", "start"]),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=_TOOL_TIMEOUT_S + 5,
            start_new_session=True,
            check=False,
        )
    if done.returncode != 0:
        raise PostgresError(f"pg_ctl start failed (exit {done.returncode}); see {cluster.log}")
    with psycopg.connect(conninfo(cluster.port, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
        if exists is None:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    with psycopg.connect(conninfo(cluster.port), autocommit=True) as conn:
        conn.execute(SCHEMA)


def stop(cluster: Cluster, timeout_s: float) -> bool:
    """``pg_ctl -m fast stop``; returns whether it stopped in time."""
    tools = bindir()
    if tools is None or not (cluster.data_dir / "postmaster.pid").exists():
        return True
    argv = [
        str(tools / "pg_ctl"),
        "-D",
        str(cluster.data_dir),
        "-m",
        "fast",
        "-w",
        "-t",
        str(int(timeout_s)),
        "stop",
    ]
    with cluster.log.open("ab") as out:
        done = subprocess.run(
            _as_postgres(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout_s + 10,
            check=False,
        )
    return done.returncode == 0


def remove_private(cluster: Cluster) -> None:
    if cluster.private_dir is not None:
        shutil.rmtree(cluster.private_dir, ignore_errors=True)


def wait_ready(cluster: Cluster, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cluster.healthy():
            return True
        time.sleep(0.1)
    return False
