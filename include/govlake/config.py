"""Configuration from environment variables, with the embedded default when nothing is set.

Every platform setting has one ``GOVLAKE_*`` environment variable (S3 credentials are
boto3's own ``AWS_*`` variables); ``.env.example`` documents them all. Nothing
here holds a secret: credentials only ever come from the environment (or, for the
embedded runtime, from files it generates under ``GOVLAKE_HOME`` at start-up).

Departmental systems are Airflow connections, read the way Airflow reads them from the
environment: ``AIRFLOW_CONN_<CONN_ID>`` holding a connection URI. The embedded runtime
provides defaults for the connections it can serve itself (databases on the embedded
PostgreSQL, the simulated 12345 API), recorded in ``$GOVLAKE_HOME/runtime.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CATALOG_DIR = PROJECT_ROOT / "include" / "catalog"
STANDARDS_DIR = PROJECT_ROOT / "include" / "standards"
DAGS_DIR = PROJECT_ROOT / "dags"
TIMEZONE = "Asia/Shanghai"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which variable to set."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def home() -> Path:
    """Root of the platform's runtime state (``GOVLAKE_HOME``, default ``<project>/.govlake``)."""
    return Path(_env("GOVLAKE_HOME", str(PROJECT_ROOT / ".govlake"))).resolve()


def runtime_file() -> Path:
    return home() / "runtime.json"


def read_runtime() -> dict:
    """What the embedded runtime recorded when it started (empty when it has not)."""
    path = runtime_file()
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Connection:
    """A parsed Airflow-style connection URI."""

    conn_id: str
    conn_type: str
    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None
    extra: dict[str, str]
    uri: str

    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL of a database connection (psycopg 3 / PyMySQL drivers)."""
        drivers = {
            "postgres": "postgresql+psycopg",
            "postgresql": "postgresql+psycopg",
            "mysql": "mysql+pymysql",
            "mariadb": "mysql+pymysql",
            "sqlite": "sqlite",
        }
        if self.conn_type not in drivers:
            raise ConfigError(
                f"connection {self.conn_id!r} is of type {self.conn_type!r}, not a database"
            )
        if self.conn_type == "sqlite":
            return f"sqlite:///{self.schema or self.host}"
        auth = ""
        if self.login:
            auth = quote(self.login, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        port = f":{self.port}" if self.port else ""
        options = dict(self.extra)  # sslmode, connect_timeout, host (a socket folder) ...
        if self.conn_type in ("mysql", "mariadb"):
            options.setdefault("charset", "utf8mb4")
        query = ("?" + urlencode(options)) if options else ""
        host = self.host or ""
        return f"{drivers[self.conn_type]}://{auth}{host}{port}/{self.schema or ''}{query}"

    def base_url(self) -> str:
        """``scheme://host:port`` of an HTTP connection."""
        port = f":{self.port}" if self.port else ""
        return f"{self.conn_type}://{self.host}{port}/{self.schema or ''}".rstrip("/")


def parse_connection_uri(conn_id: str, uri: str) -> Connection:
    parts = urlsplit(uri)
    if not parts.scheme:
        raise ConfigError(f"connection {conn_id!r}: {uri!r} is not a URI (scheme://...)")
    conn_type = parts.scheme.replace("-", "_")
    schema = unquote(parts.path.lstrip("/")) or None
    extra = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return Connection(
        conn_id=conn_id,
        conn_type=conn_type,
        host=unquote(parts.hostname) if parts.hostname else None,
        port=parts.port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=schema,
        extra=extra,
        uri=uri,
    )


def connection_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection(conn_id: str) -> Connection:
    """Resolve a departmental system's connection: environment first, then the runtime."""
    uri = _env(connection_env_var(conn_id))
    if uri is None:
        uri = read_runtime().get("connections", {}).get(conn_id)
    if uri is None:
        raise ConfigError(
            f"no connection {conn_id!r}: set {connection_env_var(conn_id)} to its URI "
            f"(for example postgres://user@host:5432/db), or start the embedded runtime "
            f"with `govlake up`"
        )
    return parse_connection_uri(conn_id, uri)


def warehouse_url() -> str:
    """SQLAlchemy URL of the platform's PostgreSQL (``GOVLAKE_PG_URL``, else embedded)."""
    url = _env("GOVLAKE_PG_URL") or read_runtime().get("warehouse_url")
    if url is None:
        raise ConfigError(
            "no PostgreSQL configured: set GOVLAKE_PG_URL "
            "(postgresql+psycopg://user@host:5432/db) or start the embedded runtime with "
            "`govlake up`"
        )
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL in libpq form, for psycopg.connect and psql."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True)
class StorageSettings:
    kind: str  # "local" or "s3"
    root: Path  # local store root
    bucket: str
    endpoint_url: str | None
    region: str


def storage_settings() -> StorageSettings:
    endpoint = _env("GOVLAKE_S3_ENDPOINT")
    kind = _env("GOVLAKE_STORAGE", "s3" if endpoint else "local")
    if kind not in ("local", "s3"):
        raise ConfigError(f"GOVLAKE_STORAGE must be 'local' or 's3', not {kind!r}")
    return StorageSettings(
        kind=kind,
        root=Path(_env("GOVLAKE_LAKE_DIR", str(home() / "lake"))).resolve(),
        bucket=_env("GOVLAKE_S3_BUCKET", "govlake"),
        endpoint_url=endpoint,
        region=_env("AWS_DEFAULT_REGION", "us-east-1") or "us-east-1",
    )


def landing_dir() -> Path:
    """Where departments drop their files (``GOVLAKE_LANDING_DIR``)."""
    return Path(_env("GOVLAKE_LANDING_DIR", str(home() / "landing"))).resolve()


def output_dir() -> Path:
    """Where runs write their reports and summaries (``GOVLAKE_OUTPUT_DIR``)."""
    return Path(_env("GOVLAKE_OUTPUT_DIR", str(home() / "output"))).resolve()


def simulation_dir() -> Path:
    """The simulator's own state: truth files, the hotline system's store."""
    return Path(_env("GOVLAKE_SIM_DIR", str(home() / "sim"))).resolve()


def airflow_home() -> Path:
    return Path(_env("AIRFLOW_HOME", str(home() / "airflow"))).resolve()


def mqtt_url() -> str | None:
    """MQTT broker for sensor streams (``GOVLAKE_MQTT_URL``, e.g. mqtt://127.0.0.1:1883)."""
    return _env("GOVLAKE_MQTT_URL")


def lineage_transport() -> str | None:
    """OpenLineage transport as JSON (``GOVLAKE_LINEAGE_TRANSPORT``); unset: the event log
    under ``GOVLAKE_HOME`` (see govlake.lineage.transport)."""
    return _env("GOVLAKE_LINEAGE_TRANSPORT")
