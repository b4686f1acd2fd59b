"""Prepare Airflow for the embedded runtime: its home, the DAGs folder, a SQLite database.

Must run before anything imports ``airflow``: Airflow reads its configuration once, at
import. Values already set in the environment win, so services mode and docker-compose
configure Airflow exactly as they would without the platform.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from govlake import config


def configure() -> Path:
    home = config.airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": config.TIMEZONE,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
        # lineage: the provider sends through the platform's transport (lineage/transport.py)
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "govlake",
        # no usage metrics leave the bureau's network
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    from govlake.lineage.transport import transport_config

    os.environ.setdefault("AIRFLOW__OPENLINEAGE__TRANSPORT", json.dumps(transport_config()))
    export_dbt_connection()
    return home


_EXPORTED: dict[str, str] = {}


def export_dbt_connection() -> None:
    """dbt (run by the libraries DAG's tasks) reads the warehouse from GOVLAKE_DBT_*."""
    from govlake.transform.dbt import connection_env

    try:
        for key, value in connection_env().items():
            # a value set by the user wins; one exported earlier follows the warehouse now
            # configured (one process may serve several platforms, as the tests do)
            if key not in os.environ or os.environ[key] == _EXPORTED.get(key):
                os.environ[key] = _EXPORTED[key] = value
    except config.ConfigError:
        pass  # no warehouse configured yet: dbt tasks will say so when they run


def migrate() -> None:
    """Create or upgrade Airflow's metadata database (idempotent; skipped when current)."""
    home = configure()
    from importlib.metadata import version

    marker = home / f".migrated-{version('apache-airflow-core')}"
    database = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if marker.exists() and marker.read_text() == database:
        return
    airflow = Path(sys.executable).with_name("airflow")
    command = [str(airflow)] if airflow.exists() else [sys.executable, "-m", "airflow"]
    result = subprocess.run([*command, "db", "migrate"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}")
    marker.write_text(database)
