"""Airflow's own components as processes: the real event-driven path, not ``dag.test()``.

The embedded runtime and most tests run DAGs through ``dag.test()`` (no scheduler, SQLite).
What ``dag.test()`` cannot show — an asset watcher's trigger running in the triggerer, the
scheduler creating an asset-triggered run, the executor's workers reporting to the Execution
API — needs Airflow 3's components as separate processes on a metadata database that takes
concurrent writers (PostgreSQL; SQLite serialises them and Airflow refuses it with
LocalExecutor):

- ``api-server``: the REST API and the Execution API, which task workers talk to (Airflow 3
  workers never touch the metadata database);
- ``dag-processor``: parses the DAGs folder; it registers the asset watchers of unpaused DAGs;
- ``scheduler``: creates the runs; its LocalExecutor's workers run the tasks;
- ``triggerer``: runs the asset watchers' triggers (and deferred tasks).

``AirflowServices`` gives them an environment of their own (``AIRFLOW_HOME``, DAGs folder,
metadata database, API port, a JWT secret made up at start), waits until the API reports
every component healthy, and stops every process it started — the components and what they
spawned — and checks the API port is free again, also when the caller failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from govlake import config

COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
HEALTH_KEYS = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}


class AirflowServiceError(RuntimeError):
    """A component did not start, did not stop, or an ``airflow`` command failed; the message
    holds the end of the log that says why."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def airflow_command() -> list[str]:
    executable = Path(sys.executable).with_name("airflow")
    return [str(executable)] if executable.exists() else [sys.executable, "-m", "airflow"]


@dataclass
class AirflowServices:
    """Airflow's four components on ``metadata_url`` (a PostgreSQL database of their own).

    ``metadata_url``: the database's libpq URL (``postgresql://…``); Airflow reaches it
    with psycopg2 and, for its async engine, psycopg 3 (its default, asyncpg, is not among
    the platform's requirements). ``env``: what the components add to this process's
    environment — the connections (``AIRFLOW_CONN_*``) and the platform's ``GOVLAKE_*``
    settings the tasks need.
    """

    home: Path
    metadata_url: str
    dags_folder: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)  # may hold credentials
    api_port: int = 0
    parallelism: int = 2
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, init=False)
    killed: list[str] = field(default_factory=list, init=False)  # what stop() had to SIGKILL
    _jwt_secret: str = field(
        default_factory=lambda: secrets.token_urlsafe(32), init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.dags_folder = Path(self.dags_folder)
        self.api_port = self.api_port or free_port()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def log_path(self, component: str) -> Path:
        return self.home / "logs" / f"{component}.log"

    def _metadata(self, driver: str) -> str:
        scheme, rest = self.metadata_url.split("://", 1)
        if scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise AirflowServiceError(
                f"Airflow's components need a PostgreSQL metadata database, not {scheme}://"
            )
        return f"postgresql+{driver}://{rest}"

    def environment(self) -> dict[str, str]:
        from govlake.lineage.transport import transport_config

        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW__")  # the caller's own Airflow settings stay home
        }
        environment.update(self.env)
        environment.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__DEFAULT_TIMEZONE": config.TIMEZONE,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self._metadata("psycopg2"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self._metadata("psycopg"),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                # the scheduler signs the workers' tokens, the API server checks them: one
                # secret, made up for this run, passed through the environment only
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                # local use on 127.0.0.1: the REST API answers without a login
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                # a DAG unpaused is parsed again (and its watchers registered) within seconds
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "True",
                # lineage as the platform sends it (airflow_env.py, docker-compose.yaml)
                "AIRFLOW__OPENLINEAGE__NAMESPACE": "govlake",
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport_config()),
                "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
                "DO_NOT_TRACK": "1",
            }
        )
        return environment

    # -- commands ---------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 300.0) -> str:
        """Run ``airflow <args>`` against these services; its output, or an error with it."""
        try:
            result = subprocess.run(
                [*airflow_command(), *args], env=self.environment(), capture_output=True,
                text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired as error:
            command = " ".join(args)
            raise AirflowServiceError(f"`airflow {command}` ran over {timeout:.0f}s") from error
        if result.returncode != 0:
            raise AirflowServiceError(
                f"`airflow {' '.join(args)}` failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-4000:]}"
            )
        return result.stdout

    def migrate(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate", timeout=600)

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        """A call to the REST API (``/api/v2/...``); the decoded JSON answer."""
        request = urllib.request.Request(
            f"{self.api_url}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def health(self) -> dict:
        try:
            return self.api("/api/v2/monitor/health")
        except (OSError, ValueError):
            return {}

    # -- life -------------------------------------------------------------------------------
    def start(self, timeout: float = 240.0) -> None:
        """Start the four components; return when the API reports every one healthy."""
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        if port_in_use(self.api_port):
            raise AirflowServiceError(f"port {self.api_port} for the API server is taken")
        environment = self.environment()
        arguments = {
            "api-server": ["--host", "127.0.0.1", "--port", str(self.api_port)],
            # task logs are files under AIRFLOW_HOME, read by the API server on this
            # machine: no log server (and no fixed port 8793/8794 to collide on)
            "scheduler": ["--skip-serve-logs"],
            "triggerer": ["--skip-serve-logs"],
            "dag-processor": [],
        }
        for component in COMPONENTS:
            log = self.log_path(component).open("ab")
            self.processes[component] = subprocess.Popen(
                [*airflow_command(), component, *arguments[component]],
                env=environment, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a process group of its own: stopped as one
            )  # fmt: skip
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            self.check_running()
            health = self.health()
            unhealthy = [
                component
                for component, key in HEALTH_KEYS.items()
                if (health.get(key) or {}).get("status") != "healthy"
            ]
            if health and not unhealthy:
                return
            if time.monotonic() > deadline:
                waiting = ", ".join(unhealthy) if health else "the API server"
                raise AirflowServiceError(
                    f"Airflow did not become healthy within {timeout:.0f}s (waiting for "
                    f"{waiting}; health: {health}); logs in {self.home / 'logs'}:\n"
                    + self.log_tails()
                )
            time.sleep(1.0)

    def check_running(self) -> None:
        """Raise, with its log, if a component has exited."""
        for component, process in self.processes.items():
            if process.poll() is not None:
                raise AirflowServiceError(
                    f"the Airflow {component} exited with {process.returncode}:\n"
                    + self.log_tail(component)
                )

    def log_tail(self, component: str, chars: int = 3000) -> str:
        try:
            text = self.log_path(component).read_text("utf-8", errors="replace")
        except OSError:
            return f"(no log for {component})"
        return f"--- {component} ---\n{text[-chars:]}"

    def log_tails(self, chars: int = 2000) -> str:
        return "\n".join(self.log_tail(component, chars) for component in self.processes)

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Stop every process started here (SIGTERM to each group, SIGKILL to what is left
        after ``timeout``), and wait until the API port is free; what needed SIGKILL (also
        kept in ``killed``)."""
        import psutil

        tree: dict[int, psutil.Process] = {}
        for process in self.processes.values():  # the components and all they spawned
            try:
                root = psutil.Process(process.pid)
                tree[root.pid] = root
                tree.update((child.pid, child) for child in root.children(recursive=True))
            except psutil.NoSuchProcess:
                pass
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(list(tree.values()), timeout=timeout)
        killed = []
        for process in alive:
            try:
                killed.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=10)
        self.killed.extend(killed)
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        deadline = time.monotonic() + 30
        while port_in_use(self.api_port):
            if time.monotonic() > deadline:
                raise AirflowServiceError(f"port {self.api_port} still in use after stopping")
            time.sleep(0.2)
        return killed


@contextmanager
def running(services: AirflowServices, timeout: float = 240.0) -> Iterator[AirflowServices]:
    """Migrate, start, yield; always stop, whatever happened."""
    try:
        services.migrate()
        services.start(timeout)
        yield services
    finally:
        services.stop()
