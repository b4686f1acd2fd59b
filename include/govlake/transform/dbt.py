"""Run dbt against the platform's warehouse, and keep dbt's sources one with the catalog.

dbt reads the warehouse connection from ``GOVLAKE_DBT_*`` environment variables that this
module derives from the platform's configuration, so dbt, Airflow and the CLI always
point at the same PostgreSQL. ``models/staging/<department>/_<department>__sources.yml``
are generated from the catalog (``govlake dbt sources``) and a test fails when a
committed file differs from what the catalog says. The sensor sources
(``models/staging/sensor/_sensor__sources.yml``, the ``raw.sensor__<kind>`` tables of
``govlake.stream.load``) and the device fleet seed (``seeds/sensor/sensor_device.csv``) are
generated the same way from the device catalog ``include/catalog/devices.yaml``.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
import yaml

from govlake import config
from govlake.catalog.model import Catalog, Resource

DBT_DIR = config.PROJECT_ROOT / "dbt_project"
STAGING_DIR = DBT_DIR / "models" / "staging"
MANIFEST = DBT_DIR / "target" / "manifest.json"
# a source is stale when its newest batch is older than this (daily loads run at 01:00)
FRESHNESS = {
    "daily": ({"count": 30, "period": "hour"}, {"count": 54, "period": "hour"}),
    "hourly": ({"count": 2, "period": "hour"}, {"count": 6, "period": "hour"}),
    "weekly": ({"count": 8, "period": "day"}, {"count": 15, "period": "day"}),
    "monthly": ({"count": 32, "period": "day"}, {"count": 62, "period": "day"}),
}


def connection_env(url: str | None = None) -> dict[str, str]:
    """The ``GOVLAKE_DBT_*`` variables profiles.yml reads, for the configured warehouse."""
    url = sa.make_url(url or config.warehouse_url())
    return {
        "GOVLAKE_DBT_HOST": url.host or "127.0.0.1",
        "GOVLAKE_DBT_PORT": str(url.port or 5432),
        "GOVLAKE_DBT_USER": url.username or "postgres",
        "GOVLAKE_DBT_PASSWORD": url.password or "",
        "GOVLAKE_DBT_DBNAME": url.database or "postgres",
    }


def dbt_env(parse_only: bool = False) -> dict[str, str]:
    """The environment dbt runs in; ``parse_only`` needs no warehouse (dbt parse, docs)."""
    try:
        connection = connection_env()
    except config.ConfigError:
        if not parse_only:
            raise
        connection = connection_env("postgresql://parse-only@127.0.0.1:5432/parse_only")
    return {**os.environ, **connection, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


# dbt commands that build or test nodes: run through openlineage-dbt, so each node sends
# OpenLineage events (inputs, outputs, column lineage from the compiled SQL, test results)
LINEAGE_COMMANDS = ("build", "run", "test", "seed", "snapshot")


def lineage_env() -> dict[str, str]:
    """What openlineage-dbt reads: the platform's transport and job namespace, and the run
    it runs under (the Airflow task or platform step calling dbt) as ``OPENLINEAGE_CONTEXT``.
    Values already in the environment win; the wrapper logs only warnings."""
    import json

    from govlake.lineage.emit import current_parent, job_namespace
    from govlake.lineage.transport import transport_config

    env = {
        "OPENLINEAGE__TRANSPORT": json.dumps(transport_config()),
        "OPENLINEAGE_NAMESPACE": job_namespace(),
        "OPENLINEAGE_DBT_LOGGING": "WARNING",
        "TQDM_DISABLE": "1",  # no progress bar on stderr
    }
    parent = current_parent()
    if parent is not None:
        env["OPENLINEAGE_CONTEXT"] = json.dumps(parent.context())
    return {key: value for key, value in env.items() if key not in os.environ}


def run_dbt(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """``dbt <args>`` on the project, against the configured warehouse.

    ``parse`` needs no warehouse: it writes target/manifest.json, which the libraries DAG
    renders from. build/run/test/seed/snapshot run through openlineage-dbt (guarded by
    :mod:`govlake.lineage.dbt_ol`: dbt's exit code and output are kept, lineage failures
    are warnings).
    """
    command_name = next((a for a in args if not a.startswith("-")), None)
    env = dbt_env(parse_only=args[:1] == ("parse",))
    runner = [dbt_executable()]
    if command_name in LINEAGE_COMMANDS:
        try:
            env.update(lineage_env())
            runner = [sys.executable, "-m", "govlake.lineage.dbt_ol"]
        except Exception as error:  # lineage never stops dbt: it runs without it
            import logging

            logging.getLogger(__name__).warning(
                "血缘 dbt runs without OpenLineage events (%s: %s)", type(error).__name__, error
            )
    command = [*runner, *args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)]
    return subprocess.run(
        command,
        env=env,
        cwd=DBT_DIR,
        capture_output=capture,
        text=True,
        check=False,
    )


def _source_table(resource: Resource) -> dict:
    warn, error = FRESHNESS.get(resource.update_frequency, FRESHNESS["daily"])
    return {
        "name": resource.raw_table,
        "description": f"{resource.name_zh} · {resource.name_en}。{resource.description}",
        "meta": {
            "resource_id": resource.id,
            "owner": resource.owner,
            "sharing_type": resource.sharing_type,
            "open_type": resource.open_type,
            "catalog_file": f"include/catalog/{resource.source_file}",
        },
        "loaded_at_field": "_loaded_at",
        "freshness": {"warn_after": warn, "error_after": error},
        "columns": [
            {
                "name": field.name,
                "description": f"{field.element.name_zh} · {field.element.name_en}",
                "data_type": field.pg_type,
                "meta": {
                    "data_element": field.element.id,
                    "sensitivity": field.grade,
                    **({"code_set": field.code_set} if field.code_set else {}),
                    **({"authoritative": True} if field.authoritative else {}),
                },
            }
            for field in resource.fields
        ],
    }


def sources_documents(catalog: Catalog) -> dict[Path, str]:
    """The generated ``_<department>__sources.yml`` of every department, by path."""
    documents: dict[Path, str] = {}
    for department, resources in sorted(catalog.by_department().items()):
        info = catalog.departments[department]
        document = {
            "version": 2,
            "sources": [
                {
                    "name": department,
                    "description": f"{info.name_zh} · {info.name_en} — raw batches as landed.",
                    "schema": "raw",
                    "tables": [_source_table(r) for r in sorted(resources, key=lambda r: r.code)],
                }
            ],
        }
        header = (
            "# GENERATED from include/catalog/ by `govlake dbt sources` — do not edit by hand;\n"
            "# change the catalog and regenerate (a test fails when this file is out of date).\n"
        )
        text = header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
        documents[STAGING_DIR / department / f"_{department}__sources.yml"] = text
    return documents


SEED_DIR = DBT_DIR / "seeds"
# standards kept once under include/standards/, seen by dbt through relative symlinks
# (a symlinked folder is not followed by dbt; symlinked files are, and survive cosmos
# copying the project to a temporary folder)
SEED_SOURCES = {
    "code_sets": config.STANDARDS_DIR / "code_sets",
    "mappings": config.STANDARDS_DIR / "mappings",
}


def seed_links() -> dict[Path, str]:
    """Every seed link dbt needs: link path → relative target."""
    links: dict[Path, str] = {}
    for folder, source in SEED_SOURCES.items():
        for csv_path in sorted(source.glob("*.csv")):
            link = SEED_DIR / folder / csv_path.name
            links[link] = os.path.relpath(csv_path, link.parent)
    return links


def sync_seed_links() -> list[Path]:
    """Create missing seed links, remove stale ones; return what changed."""
    wanted = seed_links()
    changed: list[Path] = []
    for folder in SEED_SOURCES:
        for existing in sorted((SEED_DIR / folder).glob("*.csv")):
            if existing not in wanted:
                existing.unlink()
                changed.append(existing)
    for link, target in wanted.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target)
        changed.append(link)
    return changed


SENSOR_STAGING_DIR = STAGING_DIR / "sensor"
SENSOR_DEVICE_SEED = SEED_DIR / "sensor" / "sensor_device.csv"
# readings arrive every minute (air) or five (gauges, poles) and load per micro-batch
SENSOR_FRESHNESS = ({"count": 30, "period": "minute"}, {"count": 2, "period": "hour"})
SENSOR_DEVICE_COLUMNS = ("device_id", "kind", "name_zh", "town_code", "town_name", "longitude",
                         "latitude", "install_date", "owner", "river", "warning_level",
                         "danger_level", "interval_seconds")  # fmt: skip
_GENERATED_FROM_DEVICES = (
    "# GENERATED from include/catalog/devices.yaml by `govlake dbt sync` — do not edit by\n"
    "# hand; change the device catalog and regenerate (a test fails when this file is stale).\n"
)


def _column(name: str, description: str, data_type: str, **meta) -> dict:
    entry = {"name": name, "description": description, "data_type": data_type}
    return {**entry, "meta": meta} if meta else entry


def sensor_documents() -> dict[Path, str]:
    """From the device catalog: the dbt sources of ``raw.sensor__<kind>`` (columns and
    types exactly as ``govlake.stream.load`` creates them) and the fleet seed."""
    from govlake.sensors.devices import default_device_catalog
    from govlake.stream.devices import from_catalog, kind_metrics
    from govlake.stream.landing import metric_columns

    catalog = default_device_catalog()
    columns_by_kind = {
        kind: metric_columns(metrics)
        for kind, metrics in kind_metrics(from_catalog(catalog.devices, catalog.kinds)).items()
    }
    tables = []
    for code, kind in catalog.kinds.items():
        owners = sorted({d.owner for d in catalog.by_kind(code)})
        metric_entries = []
        for metric in kind.metrics:
            if metric.type == "state":
                valid = ", ".join(f"{k} {v}" for k, v in sorted(metric.states.items()))
            else:
                valid = f"{metric.min:g} – {metric.max:g} {metric.unit}"
            metric_entries.append(
                _column(
                    metric.name,
                    f"{metric.name_zh} · {metric.name_en}（{valid}）",
                    columns_by_kind[code][metric.name],
                    metric_type=metric.type,
                    **({"unit": metric.unit} if metric.unit else {}),
                )
            )
        warn, error = SENSOR_FRESHNESS
        tables.append(
            {
                "name": f"sensor__{code}",
                "description": (
                    f"{kind.name_zh} · {kind.name_en} — 每条读数一行（msg_id），每 "
                    f"{kind.interval_seconds} 秒一条；越界读数已在入湖时隔离 · one row per "
                    f"reading (msg_id), one every {kind.interval_seconds} s per device; "
                    f"out-of-range readings were quarantined when landed."
                ),
                "meta": {
                    "kind": code,
                    "interval_seconds": kind.interval_seconds,
                    "owner": ", ".join(owners),
                    "catalog_file": "include/catalog/devices.yaml",
                },
                "loaded_at_field": "_loaded_at",
                "freshness": {"warn_after": dict(warn), "error_after": dict(error)},
                "columns": [
                    _column(
                        "msg_id",
                        "消息编号（设备编号-序号，主键） · message id "
                        "(<device_id>-<seq>, primary key)",
                        "text",
                    ),
                    _column("device_id", "设备编号 · device id", "text"),
                    _column("seq", "设备消息序号 · the device's message counter", "bigint"),
                    _column("observed_at", "观测时间 · when observed", "timestamp with time zone"),
                    _column(
                        "received_at",
                        "接收时间 · when the consumer received it",
                        "timestamp with time zone",
                    ),
                    *metric_entries,
                    _column("_batch_id", "微批次（血缘） · micro-batch (lineage)", "text"),
                    _column(
                        "_loaded_at", "入库时间 · when loaded into raw", "timestamp with time zone"
                    ),
                ],
            }
        )
    document = {
        "version": 2,
        "sources": [
            {
                "name": "sensor",
                "description": (
                    "物联感知设备读数（MQTT 微批次，govlake.stream.load 入库） · sensor "
                    "readings, loaded per micro-batch by govlake.stream.load."
                ),
                "schema": "raw",
                "tables": tables,
            }
        ],
    }
    sources = _GENERATED_FROM_DEVICES + yaml.safe_dump(
        document, allow_unicode=True, sort_keys=False, width=100
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SENSOR_DEVICE_COLUMNS)
    for d in catalog.devices:
        writer.writerow(
            [d.device_id, d.kind, d.name_zh, d.town_code, d.town_name, d.longitude, d.latitude,
             d.install_date.isoformat(), d.owner, d.river or "",
             "" if d.warning_level is None else d.warning_level,
             "" if d.danger_level is None else d.danger_level,
             catalog.kinds[d.kind].interval_seconds]
        )  # fmt: skip
    return {
        SENSOR_STAGING_DIR / "_sensor__sources.yml": sources,
        SENSOR_DEVICE_SEED: buffer.getvalue(),
    }


def generated_documents(catalog: Catalog) -> dict[Path, str]:
    """Every generated dbt file: the catalog's sources, the sensor sources and fleet seed."""
    return {**sources_documents(catalog), **sensor_documents()}


def out_of_date(catalog: Catalog) -> list[Path]:
    """Generated dbt files that differ from what the catalogs and standards say."""
    stale = [
        path
        for path, text in generated_documents(catalog).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    wanted = seed_links()
    stale += [link for link, target in wanted.items()
              if not link.is_symlink() or os.readlink(link) != target]  # fmt: skip
    for folder in SEED_SOURCES:
        stale += [p for p in sorted((SEED_DIR / folder).glob("*.csv")) if p not in wanted]
    return stale


def write_sources(catalog: Catalog) -> list[Path]:
    written = []
    for path, text in generated_documents(catalog).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def generate_docs(folder: Path) -> Path:
    """``dbt docs generate`` (needs the warehouse: it reads column types), copied to folder."""
    import shutil

    result = run_dbt("docs", "generate", capture=True)
    if result.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed:\n{result.stdout[-4000:]}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "manifest.json", "catalog.json"):
        shutil.copyfile(DBT_DIR / "target" / name, folder / name)
    return folder
