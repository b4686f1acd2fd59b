"""How datasets are named: the platform's stable keys and OpenLineage's namespace/name.

OpenLineage names a dataset by where it physically lives (its naming spec): a PostgreSQL
table is namespace ``postgres://host:port``, name ``database.schema.table``; an S3 object
prefix is ``s3://bucket`` + key; a local path is ``file`` + path. Those carry hosts and
ports, which differ between the embedded runtime, CI and production. The metadata store
and the commands use the platform's own keys instead, the same everywhere:

- warehouse tables and views  ``<schema>.<table>``            ``basic.population``
- object-store batches        ``lake:<prefix>``               ``lake:raw/civil/household``
- departmental sources        ``source:<system>/<object>``    ``source:police_hukou/person``
- reports, exports, services  ``report:<name>``, ``export:<name>``

:func:`dataset_key` maps an OpenLineage dataset to its key; the ``*_dataset`` functions
give both for what the platform itself reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from govlake import config
from govlake.catalog.model import Resource


@dataclass(frozen=True)
class DatasetName:
    key: str  # the platform's key (see the module docstring)
    namespace: str  # OpenLineage namespace
    name: str  # OpenLineage name


def warehouse_database() -> str:
    return sa.make_url(config.warehouse_url()).database or "postgres"


def warehouse_namespace() -> str:
    url = sa.make_url(config.warehouse_url())
    return f"postgres://{url.host or '127.0.0.1'}:{url.port or 5432}"


def warehouse_dataset(schema: str, table: str) -> DatasetName:
    return DatasetName(
        key=f"{schema}.{table}",
        namespace=warehouse_namespace(),
        name=f"{warehouse_database()}.{schema}.{table}",
    )


def raw_table_dataset(resource: Resource) -> DatasetName:
    return warehouse_dataset("raw", resource.raw_table)


def lake_prefix(resource: Resource) -> str:
    """The object-store prefix holding every batch of a resource (batches are versions)."""
    return f"raw/{resource.department}/{resource.code}"


def lake_dataset(prefix: str) -> DatasetName:
    """An object-store prefix: ``s3://bucket`` on S3, ``file`` + the path on local disk."""
    settings = config.storage_settings()
    if settings.kind == "s3":
        return DatasetName(f"lake:{prefix}", f"s3://{settings.bucket}", prefix)
    path = (settings.root / settings.bucket / prefix).resolve()
    return DatasetName(f"lake:{prefix}", "file", str(path))


def source_object(resource: Resource) -> str:
    """What a resource is read from inside its system: a table, an API path, a file pattern."""
    extract = resource.extract
    return extract.table or extract.path or extract.pattern or resource.code


def source_key(resource: Resource) -> str:
    return f"source:{resource.system.code}/{source_object(resource).lstrip('/')}"


def source_dataset(resource: Resource) -> DatasetName:
    """The departmental source of a resource, named as OpenLineage names its kind of system.

    The key never needs the connection; the namespace does, and falls back to
    ``govlake-source://<system>`` when the connection is not configured here.
    """
    system = resource.system
    key = source_key(resource)
    obj = source_object(resource)
    if system.kind == "files":
        folder = config.landing_dir() / resource.department
        return DatasetName(key, "file", str(folder.resolve() / obj))
    try:
        conn = config.connection(system.connection) if system.connection else None
    except config.ConfigError:
        conn = None
    if conn is None:
        return DatasetName(key, f"govlake-source://{system.code}", obj)
    port = f":{conn.port}" if conn.port else ""
    # named after the database actually reached (a MySQL system may be served by PostgreSQL)
    if system.kind == "postgresql" or conn.conn_type in ("postgres", "postgresql"):
        schema, _, table = obj.rpartition(".")
        return DatasetName(
            key, f"postgres://{conn.host}{port}", f"{conn.schema}.{schema or 'public'}.{table}"
        )
    if system.kind == "mysql":
        return DatasetName(key, f"mysql://{conn.host}{port}", f"{conn.schema}.{obj}")
    return DatasetName(key, f"{conn.conn_type}://{conn.host}{port}", obj)  # rest: the API path


def _source_index() -> dict[tuple[str, str], str]:
    """OpenLineage name → key of every catalog source (connections can change: not cached)."""
    from govlake.catalog.loader import default_catalog

    index = {}
    for resource in default_catalog().resources.values():
        named = source_dataset(resource)
        index[(named.namespace, named.name)] = named.key
    return index


def _server(namespace: str) -> str | None:
    """``host:port`` of a PostgreSQL namespace, the loopback's names made one (dbt may say
    ``localhost`` where we say 127.0.0.1); None for other namespaces."""
    url = urlsplit(namespace)
    if url.scheme not in ("postgres", "postgresql"):
        return None
    try:
        port = url.port or 5432
    except ValueError:  # not a port: the namespace as it is names the server
        return namespace
    host = (url.hostname or "").lower()
    if host in ("localhost", "127.0.0.1", "::1", ""):
        host = "loopback"
    return f"{host}:{port}"


def dataset_key(namespace: str, name: str) -> str:
    """The platform's key of an OpenLineage dataset (``namespace/name`` when unknown).

    A catalog source is known first by its own OpenLineage name. Then any PostgreSQL
    dataset in the warehouse database maps to ``schema.table`` whatever host and port it
    was reached by (dbt may say ``localhost`` where we say 127.0.0.1) — unless it was
    reached on a departmental system's server other than the warehouse's: a department's
    database may bear the warehouse database's name.
    """
    sources = _source_index()
    found = sources.get((namespace, name))
    if found:
        return found
    server = _server(namespace)
    if server is not None:
        parts = name.split(".")
        departmental = {_server(ns) for ns, _ in sources} - {None, _server(warehouse_namespace())}
        if len(parts) == 3 and parts[0] == warehouse_database() and server not in departmental:
            return f"{parts[1]}.{parts[2]}"
    settings = config.storage_settings()
    if namespace == f"s3://{settings.bucket}":
        return f"lake:{name.strip('/')}"
    if namespace == "file":
        base = str((settings.root / settings.bucket).resolve())
        if name.startswith(base + "/"):
            return f"lake:{name[len(base) + 1 :]}"
    return f"{namespace}/{name}"
