"""Start, stop and describe the runtime the platform runs on.

Embedded default (nothing configured): PostgreSQL from the wheel on 127.0.0.1, the object
store on local disk, the simulated 12345 hotline API as a local HTTP server, and — when
asked (``govlake up``) — a Mosquitto broker for the sensor stream
(``govlake.stream.broker``). Services mode: whatever ``GOVLAKE_PG_URL``,
``GOVLAKE_S3_ENDPOINT``, ``GOVLAKE_MQTT_URL`` and ``AIRFLOW_CONN_*`` point at — the
runtime then starts nothing of its own for those.

``runtime.json`` under ``GOVLAKE_HOME`` records what was started (ports, URLs, the
generated API token) so that every later process — CLI, Airflow task, test — finds it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from govlake import config
from govlake.runtime.embedded_pg import EmbeddedPostgres, pick_port, port_free

WAREHOUSE_DB = "govlake"
# Departmental databases the embedded runtime hosts when no AIRFLOW_CONN_* says otherwise.
DEPARTMENT_DATABASES = {
    "kp_police": "kp_police",
    "kp_hrss": "kp_hrss",
    "kp_tax": "kp_tax",
    "kp_market": "kp_market",
}
HOTLINE_CONN_ID = "kp_hotline_api"


def _write_runtime(state: dict) -> None:
    path = config.runtime_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_url`` if it does not exist."""
    with psycopg.connect(config.libpq_url(admin_url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def _with_database(url: str, database: str) -> str:
    head, _, tail = url.rpartition("/")
    query = ""
    if "?" in tail:
        query = "?" + tail.split("?", 1)[1]
    return f"{head}/{database}{query}"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _start_hotline_api(state: dict) -> None:
    api = state.get("hotline_api", {})
    if _pid_alive(api.get("pid")):
        return
    port = pick_port(api.get("port", 18765))
    token = api.get("token") or secrets.token_urlsafe(24)
    log = config.home() / "hotline_api.log"
    env = dict(os.environ, GOVLAKE_HOTLINE_TOKEN=token)
    process = subprocess.Popen(
        [sys.executable, "-m", "govlake.simulate.hotline_api", "--port", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    _wait_http(port, process)
    state["hotline_api"] = {"pid": process.pid, "port": port, "token": token}


def _wait_http(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the hotline API server exited with {process.returncode}; "
                f"see {config.home() / 'hotline_api.log'}"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the hotline API server did not listen on port {port} in {timeout}s")


def embedded_running() -> bool:
    """Whether this home's embedded PostgreSQL is running (False when one is configured)."""
    state = config.read_runtime().get("embedded_pg") or {}
    if os.environ.get("GOVLAKE_PG_URL") or not state.get("port"):
        return False
    return EmbeddedPostgres(pgdata=Path(state["pgdata"]), port=state["port"]).running()


def up(broker: bool = False) -> dict:
    """Start what the configuration leaves to the embedded runtime; return runtime state.

    ``broker``: also the embedded MQTT broker, unless ``GOVLAKE_MQTT_URL`` names one (the
    stream's commands start it on first use anyway; batch commands do not need it).
    """
    config.home().mkdir(parents=True, exist_ok=True)
    state = config.read_runtime()
    connections: dict[str, str] = {}

    admin_url = os.environ.get("GOVLAKE_PG_URL")
    if admin_url:
        state.pop("embedded_pg", None)
        warehouse = config.warehouse_url()
        # departmental databases live beside the warehouse on the same server
        server_url = warehouse
    else:
        pg_state = state.get("embedded_pg", {})
        pgdata = config.home() / "pgdata"
        port = pg_state.get("port")
        server = EmbeddedPostgres(pgdata=pgdata, port=port or pick_port())
        if port and not server.running() and not port_free(port):
            server = EmbeddedPostgres(pgdata=pgdata, port=pick_port(port + 1))
        server.ensure_started()
        state["embedded_pg"] = {"pgdata": str(pgdata), "port": server.port}
        server_url = server.url
        ensure_database(server_url, WAREHOUSE_DB)
        warehouse = _with_database(server_url, WAREHOUSE_DB)
        state["warehouse_url"] = warehouse

    for conn_id, database in DEPARTMENT_DATABASES.items():
        if os.environ.get(config.connection_env_var(conn_id)):
            continue
        ensure_database(server_url, database)
        connections[conn_id] = config.libpq_url(_with_database(server_url, database)).replace(
            "postgresql://", "postgres://", 1
        )

    if not os.environ.get(config.connection_env_var(HOTLINE_CONN_ID)):
        _start_hotline_api(state)
        api = state["hotline_api"]
        connections[HOTLINE_CONN_ID] = f"http://:{api['token']}@127.0.0.1:{api['port']}"

    state["connections"] = connections
    _write_runtime(state)
    if broker and not config.mqtt_url():
        _start_broker()
    return state


def _start_broker() -> None:
    """The embedded Mosquitto (its own state file: ``stream/broker.json``). A missing
    ``mosquitto`` binary is reported by ``status()``, not raised: only the sensor stream
    needs a broker."""
    from govlake.stream.broker import BrokerError, ensure_embedded_broker

    try:
        ensure_embedded_broker()
    except BrokerError as error:
        _broker_problem_file().parent.mkdir(parents=True, exist_ok=True)
        _broker_problem_file().write_text(str(error), encoding="utf-8")
    else:
        _broker_problem_file().unlink(missing_ok=True)


def _broker_problem_file() -> Path:
    return config.home() / "stream" / "broker.problem"


def down() -> None:
    """Stop what the embedded runtime started; keep its data."""
    state = config.read_runtime()
    api = state.get("hotline_api", {})
    if _pid_alive(api.get("pid")):
        os.killpg(api["pid"], signal.SIGTERM)
    pg_state = state.get("embedded_pg")
    if pg_state:
        EmbeddedPostgres(Path(pg_state["pgdata"]), pg_state["port"]).stop()
    if not config.mqtt_url():
        from govlake.stream.broker import stop_embedded_broker

        stop_embedded_broker()  # its sessions and queued messages persist on disk


def status() -> dict:
    state = config.read_runtime()
    report = {"home": str(config.home())}
    pg_state = state.get("embedded_pg")
    if os.environ.get("GOVLAKE_PG_URL"):
        report["postgresql"] = "external (GOVLAKE_PG_URL)"
    elif pg_state:
        running = EmbeddedPostgres(Path(pg_state["pgdata"]), pg_state["port"]).running()
        report["postgresql"] = (
            f"embedded on 127.0.0.1:{pg_state['port']} ({'running' if running else 'stopped'})"
        )
    else:
        report["postgresql"] = "not started"
    storage = config.storage_settings()
    report["object store"] = (
        f"S3 {storage.endpoint_url} bucket {storage.bucket}"
        if storage.kind == "s3"
        else f"local disk {storage.root}"
    )
    api = state.get("hotline_api", {})
    report["12345 API"] = (
        f"127.0.0.1:{api['port']} ({'running' if _pid_alive(api.get('pid')) else 'stopped'})"
        if api
        else "not started"
    )
    report["MQTT broker"] = _broker_status()
    return report


def _broker_status() -> str:
    from govlake.stream.broker import embedded_broker, parse_url

    url = config.mqtt_url()
    if url:
        return f"external {parse_url(url)} (GOVLAKE_MQTT_URL)"
    broker = embedded_broker()
    if broker is not None:
        return f"embedded mosquitto on 127.0.0.1:{broker.port} (running, pid {broker.pid})"
    if _broker_problem_file().exists():
        return "not available: " + _broker_problem_file().read_text(encoding="utf-8")
    return "embedded mosquitto (stopped; `govlake up` or the stream commands start it)"
