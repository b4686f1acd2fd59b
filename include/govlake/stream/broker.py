"""Which MQTT broker the stream uses, and MQTT clients set up the way the stream needs.

``broker_url()``: ``GOVLAKE_MQTT_URL`` when set (services mode, the compose stack's
Mosquitto); otherwise the embedded broker, started on first use: a ``mosquitto`` process
on a free local port with a configuration of its own under ``$GOVLAKE_HOME/stream/broker``
(persistence on, queues large enough for a consumer outage).

Why Mosquitto and not a pure-Python broker: amqtt (the maintained one on PyPI) pins
``websockets==15.0.1``, which the platform's pin (17.4) excludes, and in a trial (0.12.1,
Python 3.11) it did not redeliver unacknowledged QoS 1 messages to a persistent session
that reconnected, nor keep sessions across a restart — the two things exactly-once rests
on. Mosquitto does both (Debian package ``mosquitto``; the compose stack runs it too).

Broker settings the stream relies on (the embedded configuration has them; set them on a
production Mosquitto): ``persistence true`` (sessions and queued messages survive a
restart; an ``autosave_interval`` bounds what a *crash* of the broker loses), and
``max_queued_messages`` above what arrives during the longest consumer outage — Mosquitto's
default of 1000 drops QoS 1 messages beyond it for an offline client, silently.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from govlake import config

SESSION_EXPIRY_SECONDS = 7 * 24 * 3600  # a consumer may be down a week without losing data
EMBEDDED_PREFERRED_PORT = 18830


class BrokerError(RuntimeError):
    pass


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool

    def __str__(self) -> str:  # never prints the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://[user[:password]@]host[:port]`` (``mqtts://`` for TLS, port 8883)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise BrokerError(f"{url!r} is not an MQTT URL (mqtt://host:1883 or mqtts://host:8883)")
    tls = parts.scheme in ("mqtts", "ssl")
    if not parts.hostname:
        raise BrokerError(f"{url!r} names no host")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def reachable(url: str, timeout: float = 3.0) -> str | None:
    """None when a TCP connection to the broker opens, else why not."""
    address = parse_url(url)
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return None
    except OSError as error:
        return f"{address}: {error}"


# ------------------------------------------------------------------------------------------
# Clients
# ------------------------------------------------------------------------------------------
class MqttClient(paho.Client):
    """A paho client (MQTT 5) that knows its broker address and when it is connected.

    ``persistent``: a session that outlives the connection (``clean_start`` false, session
    expiry of a week), so the broker keeps the subscription and queues QoS 1 messages while
    the client is away, and redelivers what it has not acknowledged.
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        persistent: bool,
        manual_ack: bool = False,
        receive_maximum: int | None = None,
    ):
        super().__init__(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=manual_ack,
        )
        self.address = parse_url(url)
        self.persistent = persistent
        self.receive_maximum = receive_maximum
        self.connected_event = threading.Event()
        self.connect_error: str | None = None
        if self.address.username:
            self.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            self.tls_set()
        self.reconnect_delay_set(min_delay=1, max_delay=5)
        self._user_on_connect = None
        self.on_connect = self._connected
        self.on_disconnect = self._disconnected

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.connect_error = str(reason_code)
            return
        self.connect_error = None
        self.connected_event.set()
        if self._user_on_connect is not None:
            self._user_on_connect(flags, reason_code)

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected_event.clear()

    def when_connected(self, callback) -> None:
        """Call ``callback(flags, reason_code)`` on each successful (re)connection."""
        self._user_on_connect = callback

    def connect_async_and_start(self, keepalive: int = 30) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_EXPIRY_SECONDS if self.persistent else 0
        if self.receive_maximum:
            properties.ReceiveMaximum = self.receive_maximum
        self.connect_async(
            self.address.host,
            self.address.port,
            keepalive=keepalive,
            clean_start=not self.persistent,
            properties=properties,
        )
        self.loop_start()

    def wait_connected(self, timeout: float) -> None:
        if not self.connected_event.wait(timeout):
            self.loop_stop()
            why = self.connect_error or reachable(f"mqtt://{self.address.host}:{self.address.port}")
            raise BrokerError(
                f"could not connect to the MQTT broker {self.address} within {timeout:.0f}s"
                + (f" ({why})" if why else "")
                + "; check GOVLAKE_MQTT_URL or that the broker runs"
            )


def mqtt_client(url: str, client_id: str, **options) -> MqttClient:
    return MqttClient(url, client_id, **options)


# ------------------------------------------------------------------------------------------
# An embedded Mosquitto
# ------------------------------------------------------------------------------------------
def _free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 100)]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BrokerError(f"no free TCP port in {preferred}..{preferred + 99}")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)),
        None,
    )
    if found is None:
        raise BrokerError(
            "no MQTT broker: GOVLAKE_MQTT_URL is not set and there is no `mosquitto` binary "
            "to start an embedded one (install the Debian package `mosquitto`, or point "
            "GOVLAKE_MQTT_URL at a broker)"
        )
    return found


class Mosquitto:
    """A ``mosquitto`` process of our own: its config, data and log live in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None, pid: int | None = None):
        self.folder = Path(folder)
        self.port = port or _free_port(EMBEDDED_PREFERRED_PORT)
        self.pid = pid

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.folder / "mosquitto.conf"

    def write_config(self) -> None:
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            "\n".join(
                [
                    "# written by govlake.stream.broker; see docs/streaming.md",
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {data}/",
                    "autosave_interval 5",
                    "max_queued_messages 1000000",
                    "max_queued_bytes 0",
                    f"log_dest file {self.folder / 'mosquitto.log'}",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    f"user {pwd.getpwuid(os.getuid()).pw_name}",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def running(self) -> bool:
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return reachable(self.url, timeout=1.0) is None

    def start(self, timeout: float = 15.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_config()
        log = (self.folder / "mosquitto.stdout").open("ab")
        process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with {process.returncode}; see {self.folder}/mosquitto.log"
                )
            if reachable(self.url, timeout=0.5) is None:
                return
            time.sleep(0.05)
        raise BrokerError(f"mosquitto did not listen on port {self.port} within {timeout:.0f}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop it (SIGTERM: it saves its persistence file first); wait until it is gone."""
        if not self.pid:
            return
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                finished, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # not our child: poll for it instead
                finished = 0 if _alive(self.pid) else self.pid
            if finished:
                self.pid = None
                return
            time.sleep(0.05)
        raise BrokerError(f"mosquitto (pid {self.pid}) did not stop within {timeout:.0f}s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _state_file() -> Path:
    return config.home() / "stream" / "broker.json"


def embedded_broker() -> Mosquitto | None:
    """The embedded broker recorded under ``$GOVLAKE_HOME``, if it is running."""
    try:
        state = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    broker = Mosquitto(Path(state["folder"]), state["port"], state.get("pid"))
    return broker if broker.running() else None


def ensure_embedded_broker() -> Mosquitto:
    """Start the embedded broker unless it runs; its sessions persist across restarts."""
    running = embedded_broker()
    if running is not None:
        return running
    folder = config.home() / "stream" / "broker"
    previous_port = None
    with contextlib.suppress(OSError, ValueError):
        previous_port = json.loads(_state_file().read_text(encoding="utf-8")).get("port")
    broker = Mosquitto(folder, _free_port(previous_port or EMBEDDED_PREFERRED_PORT))
    broker.start()
    _state_file().parent.mkdir(parents=True, exist_ok=True)
    _state_file().write_text(
        json.dumps({"folder": str(folder), "port": broker.port, "pid": broker.pid}),
        encoding="utf-8",
    )
    return broker


def stop_embedded_broker() -> None:
    broker = embedded_broker()
    if broker is not None:
        broker.stop()


def broker_url(start: bool = True) -> str:
    """``GOVLAKE_MQTT_URL``, else the embedded broker's URL (started when ``start``)."""
    url = config.mqtt_url()
    if url:
        parse_url(url)
        return url
    broker = ensure_embedded_broker() if start else embedded_broker()
    if broker is None:
        raise BrokerError(
            "no MQTT broker: set GOVLAKE_MQTT_URL (mqtt://host:1883, credentials as user-info) "
            "or start the embedded one (govlake.stream.broker.ensure_embedded_broker)"
        )
    return broker.url
