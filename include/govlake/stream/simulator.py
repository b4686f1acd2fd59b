"""Kaiping's sensors on MQTT: realistic readings, faults at known rates, a truth file.

Each device of the catalog (``include/catalog/devices.yaml``) reports at its kind's
interval (air quality every minute, hydrology gauges and light poles every five), at a
phase of its own within the interval. Patterns:

- air quality: diurnal temperature (coolest ~02:00, warmest ~14:00) and humidity against
  it, pollution episodes per town that build PM2.5/PM10 (and NO2, CO, SO2) up over an
  hour or so, hold, and clear again, ozone peaking in the afternoon, rain washing out
  particles;
- hydrology: citywide rain events raising river and inner-river levels over the tide,
  receding slowly afterwards; gates open and pumps start as the inner level rises;
- light poles: lamps on from dusk to dawn, their power, and a cumulative energy counter.

Faults (``FAULT_RATES``, a probability per reading; one fault per message, and none on a
device for eight readings after one, so that each is seen alone):

==============  ==============================================================  =============
fault           what is sent                                                    expected
==============  ==============================================================  =============
spike           one gauge jumps far beyond its rate-of-change limit            rate alert
out_of_range    one metric outside its valid range (or an unknown state code)  quarantine +
                                                                                range alert
stuck           one gauge repeats its value past its stuck window              stuck alert
offline         the device sends nothing for its offline threshold + 5–20 min  offline alert
duplicate       the same message (same bytes, same msg_id) sent again           dropped
out_of_order    the message is sent after the device's next one                 landed
late            the message is sent 2–5 simulated minutes late                  landed
malformed       not JSON, a missing field, a wrong type, an unknown device,     quarantine
                a time without offset
==============  ==============================================================  =============

Simulated time is compressed by pacing: ``rate`` caps messages per second (None: as fast
as the broker takes them); ``speed`` instead paces by simulated time (60: one simulated
hour per real minute). Output is a function of (devices, start, minutes, seed, faults,
fault rates, stuck window) only.

The truth file ``<simulation_dir>/sensors/truth-<start>-seed<seed>.jsonl`` lists each
injected fault, one JSON object per line::

    {"fault": "spike", "msg_id": "KP-AQ-001-37", "device_id": "KP-AQ-001",
     "kind": "air_quality", "observed_at": "2026-11-01T00:36:00+08:00",
     "metric": "pm25", "value": 412.3, "normal": 31.2}

``stuck`` adds ``msg_ids`` (the run) and ``recovery_msg_id`` (the reading after it: when
the sensor recovers its value jumps to the true one, which may raise a rate alert);
``offline`` names the last message before the gap
and ``gap_minutes``; ``malformed`` gives ``variant`` (the parser's reason code), ``topic``
and ``payload_sha256``; ``late`` gives ``delay_minutes``. A summary JSON sits beside it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from govlake import config
from govlake.stream.checks import OFFLINE_INTERVALS, OFFLINE_MINUTES, rule_for
from govlake.stream.devices import Device, Metric, catalog_devices
from govlake.stream.messages import KAIPING, TOPIC_ROOT, encode, payload, topic_for

FAULT_RATES: dict[str, float] = {
    "spike": 0.004,
    "out_of_range": 0.002,
    "stuck": 0.001,
    "offline": 0.0008,
    "duplicate": 0.01,
    "out_of_order": 0.005,
    "late": 0.003,
    "malformed": 0.004,
}
MALFORMED_VARIANTS = ("not_json", "missing_field", "wrong_type", "unknown_device", "bad_timestamp")
COOLDOWN_READINGS = 8  # no new fault on a device for this many readings after one
LATE_MINUTES = (2, 5)


@dataclass(frozen=True)
class Emission:
    """One PUBLISH: what goes on the wire, and what the consumer should make of it."""

    topic: str
    data: bytes
    msg_id: str | None
    fault: str | None
    lands: bool  # a reading the lake must hold exactly once


@dataclass
class SimulationResult:
    published: int = 0
    expected_msg_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    quarantined: int = 0
    faults: Counter = field(default_factory=Counter)
    truth_path: Path | None = None
    seconds: float = 0.0

    def summary(self) -> dict:
        return {
            "published": self.published,
            "expected_landed": len(self.expected_msg_ids),
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "faults": dict(sorted(self.faults.items())),
            "truth": str(self.truth_path) if self.truth_path else None,
            "seconds": round(self.seconds, 2),
        }


# ------------------------------------------------------------------------------------------
# The city's weather and the devices' physics
# ------------------------------------------------------------------------------------------
class _Weather:
    """Citywide rain events: rain intensity (mm/h) for each simulated minute."""

    def __init__(self, rng: random.Random, minutes: int):
        self.rain = [0.0] * (minutes + 1)
        i = rng.randint(0, 60)
        while i < minutes:
            duration = rng.randint(30, 120)
            peak = rng.uniform(4, 45)
            for k in range(duration):
                if i + k <= minutes:
                    self.rain[i + k] = peak * math.sin(math.pi * (k + 0.5) / duration)
            i += duration + rng.randint(120, 480)


class _Town:
    """Pollution episodes of one town: a factor on pollutants, 1.0 when clear."""

    def __init__(self, rng: random.Random, minutes: int):
        self.factor = [1.0] * (minutes + 1)
        i = rng.randint(0, 240)
        while i < minutes:
            build, hold, clear = rng.randint(40, 90), rng.randint(30, 120), rng.randint(40, 90)
            peak = rng.uniform(1.8, 3.5)
            for k in range(build + hold + clear):
                if i + k > minutes:
                    break
                if k < build:
                    f = 1 + (peak - 1) * k / build
                elif k < build + hold:
                    f = peak
                else:
                    f = peak - (peak - 1) * (k - build - hold) / clear
                self.factor[i + k] = f
            i += build + hold + clear + rng.randint(180, 600)


def _decimals(metric: Metric) -> int:
    if metric.type == "counter":
        return 3  # small increments on a large total
    if metric.max <= metric.min:
        return 2
    return max(0, min(4, 4 - math.floor(math.log10(metric.max - metric.min))))


def _step(device: Device) -> int:
    """Minutes between a device's reports."""
    return max(1, round(device.interval_minutes))


class _DeviceModel:
    """One device's true state, advanced report by report."""

    def __init__(self, device: Device, rng: random.Random):
        self.device = device
        self.rng = rng
        self.step = _step(device)
        self.base_pm = rng.uniform(20, 45)
        self.river_base = rng.uniform(0.8, 1.6)
        self.inner_base = rng.uniform(0.3, 1.0)
        self.rise = 0.0
        self.pressure = rng.uniform(1005, 1018)
        self.wind = rng.uniform(1, 4)
        self.direction = rng.uniform(0, 360)
        self.energy = rng.uniform(1000, 9000)
        self.watts = rng.uniform(120, 180)
        self.offset = rng.uniform(-1.0, 1.0)
        self.tide_phase = rng.uniform(0, 2 * math.pi)

    def values(self, minute: int, at: datetime, rain: float, pollution: float) -> dict:
        rng, dt = self.rng, self.step
        local = at.astimezone(KAIPING)
        hour = local.hour + local.minute / 60
        diurnal = math.sin(2 * math.pi * (hour - 8) / 24)  # -1 at 02:00, +1 at 14:00
        washed = 1 / (1 + rain / 30)
        for _ in range(dt):
            self.rise += 0.0009 * rain - 0.01 * self.rise
        self.pressure += rng.gauss(0, 0.02 * math.sqrt(dt))
        self.wind = min(20.0, max(0.3, self.wind + rng.gauss(0, 0.15 * math.sqrt(dt))))
        self.direction = (self.direction + rng.gauss(0, 4)) % 360
        lamp = 1 if hour >= 18.5 or hour < 6.5 else 0
        power = self.watts + rng.gauss(0, 2.0) if lamp else 0.0
        self.energy += power * dt / 60000
        tide = 0.35 * math.sin(2 * math.pi * minute / 745 + self.tide_phase)
        pm25 = self.base_pm * pollution * washed + rng.gauss(0, 1.0)
        rain_minute = max(0.0, rain / 60 + rng.gauss(0, 0.01)) if rain > 0.5 else 0.0
        known = {
            "pm25": pm25,
            "pm10": pm25 * 1.6 + rng.gauss(0, 1.5),
            "so2": 8 + 2 * pollution + rng.gauss(0, 0.8),
            "no2": 20 * pollution + 6 * (1 - diurnal) + rng.gauss(0, 1.0),
            "co": 0.5 + 0.2 * pollution + rng.gauss(0, 0.05),
            "o3": 60 + 50 * diurnal + rng.gauss(0, 2.0),
            "temperature": 22 + self.offset + 5 * diurnal + rng.gauss(0, 0.06),
            "humidity": 65 - 12 * diurnal + 0.8 * min(rain, 15) + rng.gauss(0, 0.5),
            "pressure": self.pressure + rng.gauss(0, 0.1),
            "wind_speed": self.wind + abs(rng.gauss(0, 0.2)),
            "wind_direction": self.direction,
            "rainfall": rain_minute * dt,
            "noise": 55 + 8 * diurnal + rng.gauss(0, 1.2),
            "river_level": self.river_base + tide + self.rise + rng.gauss(0, 0.006),
            "inner_level": self.inner_base + 0.8 * self.rise + rng.gauss(0, 0.006),
            "pump_state": 1 if self.rise > 0.35 else 0,
            "gate_state": 2 if self.rise > 0.5 else 1 if self.rise > 0.2 else 0,
            "lamp_state": lamp,
            "power": power,
            "energy": self.energy,
        }
        values: dict[str, float | int] = {}
        for metric in self.device.metrics:
            raw = known.get(metric.name)
            if metric.is_state:
                values[metric.name] = int(raw) if raw in metric.states else metric.states[0]
                continue
            if raw is None:  # a metric this simulator has no model of: noise mid-range
                width = metric.max - metric.min
                raw = metric.min + width * (0.4 + 0.1 * diurnal) + rng.gauss(0, width * 0.01)
            raw = min(max(float(raw), metric.min), metric.max)
            values[metric.name] = round(raw, _decimals(metric))
        return values


# ------------------------------------------------------------------------------------------
# Messages with faults
# ------------------------------------------------------------------------------------------
def _iso(moment: datetime) -> str:
    return moment.astimezone(KAIPING).isoformat(timespec="seconds")


def offline_threshold(device: Device, offline_minutes: float = OFFLINE_MINUTES) -> float:
    """Minutes of silence after which the checks call a device offline."""
    return max(offline_minutes, OFFLINE_INTERVALS * device.interval_minutes)


class _Generator:
    def __init__(
        self,
        devices: Sequence[Device],
        start: datetime,
        minutes: int,
        seed: int,
        faults: bool,
        fault_rates: Mapping[str, float],
        topic_root: str,
        offline_minutes: float,
        stuck_minutes: float | None,
    ):
        self.devices = list(devices)
        self.start = start
        self.minutes = minutes
        self.rng = random.Random(seed)
        self.rates = {k: (fault_rates.get(k, 0.0) if faults else 0.0) for k in FAULT_RATES}
        self.root = topic_root
        self.offline_minutes = offline_minutes
        self.stuck_minutes = stuck_minutes
        self.truth: list[dict] = []
        self.weather = _Weather(random.Random(f"{seed}/weather"), minutes)
        towns = sorted({d.town_code or "" for d in self.devices})
        self.towns = {t: _Town(random.Random(f"{seed}/town/{t}"), minutes) for t in towns}
        self.models = {
            d.device_id: _DeviceModel(d, random.Random(f"{seed}/device/{d.device_id}"))
            for d in self.devices
        }
        self.phase = {d.device_id: zlib.crc32(d.device_id.encode()) % _step(d) for d in devices}
        self.seq = {d.device_id: 0 for d in self.devices}
        self.cooldown = {d.device_id: 0 for d in self.devices}
        self.offline_until = {d.device_id: -1 for d in self.devices}
        self.stuck: dict[str, tuple[str, float, int, dict]] = {}  # device -> metric, value, left
        self.recovering: dict[str, dict] = {}
        self.last: dict[str, tuple[str, datetime]] = {}  # device -> last msg_id, observed_at
        self.previous: dict[str, dict] = {}
        self.delayed: list[tuple[int, int, Emission]] = []
        self.counter = 0
        self.variant = ""

    def _record(self, fault: str, device: Device, msg_id: str | None, at: datetime, **extra):
        self.truth.append(
            {
                "fault": fault,
                "msg_id": msg_id,
                "device_id": device.device_id,
                "kind": device.kind,
                "observed_at": _iso(at),
                **extra,
            }
        )

    def _delay(self, release_minute: int, emission: Emission) -> None:
        self.counter += 1
        heapq.heappush(self.delayed, (release_minute, self.counter, emission))

    def _pick_fault(self) -> str | None:
        roll = self.rng.random()
        for fault, rate in self.rates.items():
            if roll < rate:
                return fault
            roll -= rate
        return None

    def run(self) -> Iterator[Emission]:
        for minute in range(self.minutes):
            at = self.start + timedelta(minutes=minute)
            rain = self.weather.rain[minute]
            for device in self.devices:
                if (minute + self.phase[device.device_id]) % _step(device) == 0:
                    yield from self._reading(device, minute, at, rain)
            while self.delayed and self.delayed[0][0] <= minute:
                yield heapq.heappop(self.delayed)[2]
        while self.delayed:
            yield heapq.heappop(self.delayed)[2]

    def _stuck_window(self, metric: Metric) -> float | None:
        return rule_for(metric, self.stuck_minutes).stuck_minutes

    def _choose_fault(self, device: Device, minute: int) -> str | None:
        device_id = device.device_id
        if self.cooldown[device_id] > 0:
            self.cooldown[device_id] -= 1
            return None
        if device_id in self.stuck:
            return None
        fault = self._pick_fault()
        step = _step(device)
        if fault == "offline":
            needed = offline_threshold(device, self.offline_minutes) + 20 + 3 * step + 5
            if device_id not in self.last or minute + needed > self.minutes:
                return None  # the gap must end, and the device come back, within the run
        if fault == "stuck":
            windows = [w for m in device.metrics if (w := self._stuck_window(m)) is not None]
            if not windows or minute + (max(windows) / step + 5) * step > self.minutes:
                return None  # a run the simulation would cut short
        return fault

    def _reading(self, device: Device, minute: int, at: datetime, rain: float):
        device_id = device.device_id
        model = self.models[device_id]
        pollution = self.towns[device.town_code or ""].factor[minute]
        values = model.values(minute, at, rain, pollution)  # the physics move on, sent or not
        if minute < self.offline_until[device_id]:
            return
        fault = self._choose_fault(device, minute)

        if fault == "offline":
            gap = offline_threshold(device, self.offline_minutes) + self.rng.randint(5, 20)
            last_msg, last_at = self.last[device_id]
            self.offline_until[device_id] = minute + math.ceil(gap)
            self.cooldown[device_id] = COOLDOWN_READINGS
            self._record("offline", device, last_msg, last_at, gap_minutes=math.ceil(gap))
            return

        # a device numbers a reading by the minute it took it (minutes since the Unix
        # epoch): a restarted device — or simulator — never reuses a message identity,
        # and the consumer's dedup by msg_id stays right across runs
        seq = int(at.timestamp()) // 60
        self.seq[device_id] = seq
        msg_id = f"{device_id}-{seq}"
        topic = topic_for(device.kind, device_id, self.root)

        if device_id in self.recovering:  # the first reading after a stuck run
            self.recovering.pop(device_id)["recovery_msg_id"] = msg_id
        if device_id in self.stuck:
            name, frozen, left, entry = self.stuck[device_id]
            values[name] = frozen
            entry["msg_ids"].append(msg_id)
            if left <= 1:
                del self.stuck[device_id]
                self.recovering[device_id] = entry
                self.cooldown[device_id] = COOLDOWN_READINGS
            else:
                self.stuck[device_id] = (name, frozen, left - 1, entry)
        elif fault == "stuck":
            fault = self._start_stuck(device, values, msg_id, at)

        if fault == "spike" and not self._spike(device, values, msg_id, at):
            fault = None
        if fault == "out_of_range":
            self._out_of_range(device, values, msg_id, at)

        message = payload(device_id, device.kind, seq, at, values)
        data = encode(message)
        lands = fault not in ("out_of_range", "malformed")
        if fault == "malformed":
            topic, data, sent_id = self._malform(device, message, topic)
            self._record(
                "malformed",
                device,
                sent_id,
                at,
                variant=self.variant,
                topic=topic,
                payload_sha256=hashlib.sha256(data).hexdigest(),
            )
        if fault is not None and fault != "stuck":
            self.cooldown[device_id] = COOLDOWN_READINGS
        emission = Emission(topic, data, msg_id, fault, lands)
        if lands and fault not in ("late", "out_of_order"):
            self.last[device_id] = (msg_id, at)
        self.previous[device_id] = values

        if fault == "out_of_order":  # after the device's next reading
            self._record("out_of_order", device, msg_id, at)
            self._delay(minute + _step(device), emission)
        elif fault == "late":
            delay = self.rng.randint(*LATE_MINUTES)
            self._record("late", device, msg_id, at, delay_minutes=delay)
            self._delay(minute + delay, emission)
        else:
            yield emission
            if fault == "duplicate":
                self._record("duplicate", device, msg_id, at)
                again = Emission(topic, data, msg_id, "duplicate", False)
                if self.rng.random() < 0.5:
                    yield again
                else:
                    self._delay(minute + self.rng.randint(0, 3), again)

    def _gauges(self, device: Device, values: Mapping, need_rate: bool) -> list[Metric]:
        return [
            m
            for m in device.metrics
            if m.type == "gauge" and m.name in values and (not need_rate or m.max_rate is not None)
        ]

    def _start_stuck(self, device: Device, values: dict, msg_id: str, at: datetime) -> str | None:
        previous = self.previous.get(device.device_id)
        candidates = [
            m
            for m in self._gauges(device, values, need_rate=False)
            if self._stuck_window(m) is not None
            and previous is not None
            and isinstance(previous.get(m.name), float)
        ]
        if not candidates:
            return None
        metric = self.rng.choice(candidates)
        window = self._stuck_window(metric)
        assert window is not None
        frozen = previous[metric.name]  # the sensor freezes at its last reading
        run = math.ceil(window / _step(device)) + self.rng.randint(1, 3)
        entry = {"metric": metric.name, "value": frozen, "msg_ids": [msg_id]}
        self._record("stuck", device, msg_id, at, **entry)
        entry = self.truth[-1]  # msg_ids and recovery_msg_id are filled in as the run goes on
        entry["recovery_msg_id"] = None
        values[metric.name] = frozen
        self.stuck[device.device_id] = (metric.name, frozen, run - 1, entry)
        return "stuck"

    def _spike(self, device: Device, values: dict, msg_id: str, at: datetime) -> bool:
        """One gauge jumps four times what its rate limit allows, within its valid range."""
        previous = self.previous.get(device.device_id)
        if previous is None:
            return False
        options = []
        for metric in self._gauges(device, values, need_rate=True):
            assert metric.max_rate is not None
            allowed = metric.max_rate * _step(device)
            base = float(previous[metric.name])
            jump = max(4 * allowed, 0.3 * (metric.max - metric.min))
            targets = [t for t in (base + jump, base - jump) if metric.min <= t <= metric.max]
            if not targets:  # a narrow range: as far as it goes, if that is far enough
                room, sign = max((metric.max - base, 1), (base - metric.min, -1))
                if room > 2.5 * allowed:
                    targets = [base + sign * room * 0.95]
            options.extend((metric, target) for target in targets)
        if not options:
            return False
        metric, target = self.rng.choice(options)
        normal = values[metric.name]
        values[metric.name] = round(target, _decimals(metric))
        spiked = values[metric.name]
        self._record("spike", device, msg_id, at, metric=metric.name, value=spiked, normal=normal)
        return True

    def _out_of_range(self, device: Device, values: dict, msg_id: str, at: datetime) -> None:
        metric = self.rng.choice([m for m in device.metrics if m.name in values])
        if metric.is_state:
            value: float | int = max(metric.states) + 7
        elif self.rng.random() < 0.5:
            value = -999.0 if metric.min > -999 else metric.min - 1
        else:
            value = round(metric.max + (metric.max - metric.min) * self.rng.uniform(0.1, 1.0), 1)
        values[metric.name] = value
        self._record("out_of_range", device, msg_id, at, metric=metric.name, value=value)

    def _malform(self, device: Device, message: dict, topic: str) -> tuple[str, bytes, str | None]:
        variant = self.rng.choice(MALFORMED_VARIANTS)
        self.variant = variant
        msg_id = message["msg_id"]
        if variant == "not_json":
            data = encode(message)
            return topic, data[: len(data) // 2], msg_id
        broken = json.loads(json.dumps(message))
        if variant == "missing_field":
            del broken["observed_at"]
        elif variant == "wrong_type":
            name = next(iter(broken["metrics"]))
            broken["metrics"][name] = f"{broken['metrics'][name]}?"
        elif variant == "unknown_device":
            broken["device_id"] = f"{device.device_id}X"
            broken["msg_id"] = f"{device.device_id}X-{broken['seq']}"
            topic = topic_for(device.kind, broken["device_id"], self.root)
            msg_id = broken["msg_id"]
        elif variant == "bad_timestamp":
            broken["observed_at"] = broken["observed_at"][:19]
        return topic, encode(broken), msg_id


def generate(
    devices: Sequence[Device],
    start: datetime,
    minutes: int,
    seed: int,
    faults: bool = True,
    *,
    fault_rates: Mapping[str, float] | None = None,
    topic_root: str = TOPIC_ROOT,
    offline_minutes: float = OFFLINE_MINUTES,
    stuck_minutes: float | None = None,
    truth: list[dict] | None = None,
) -> Iterator[Emission]:
    """The messages of a simulation in sending order, without a broker. Faults are
    appended to ``truth`` as they are injected. ``stuck_minutes`` replaces the catalog's
    stuck windows (pass the consumer the same value)."""
    if start.tzinfo is None:
        raise ValueError("start must carry its UTC offset (Kaiping time is +08:00)")
    generator = _Generator(
        devices,
        start,
        minutes,
        seed,
        faults,
        {**FAULT_RATES, **(fault_rates or {})},
        topic_root,
        offline_minutes,
        stuck_minutes,
    )
    try:
        yield from generator.run()
    finally:
        if truth is not None:
            truth.extend(generator.truth)


def truth_file(start: datetime, seed: int) -> Path:
    stamp = start.astimezone(KAIPING).strftime("%Y%m%dT%H%M")
    return config.simulation_dir() / "sensors" / f"truth-{stamp}-seed{seed}.jsonl"


def read_truth(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ------------------------------------------------------------------------------------------
# Publishing
# ------------------------------------------------------------------------------------------
def publish(
    broker_url: str,
    devices: Sequence[Device] | None = None,
    start: datetime | None = None,
    minutes: int = 60,
    rate: float | None = None,
    seed: int = 1,
    faults: bool = True,
    *,
    speed: float | None = None,
    topic_root: str = TOPIC_ROOT,
    fault_rates: Mapping[str, float] | None = None,
    offline_minutes: float = OFFLINE_MINUTES,
    stuck_minutes: float | None = None,
    truth_path: Path | None = None,
    client_id: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    timeout: float = 120.0,
) -> SimulationResult:
    """Publish a simulation with QoS 1 and write its truth file; return what was sent.

    ``rate``: messages per second (None: as fast as possible). ``speed``: simulated
    seconds per real second (60: an hour a minute); when given it paces instead of
    ``rate``. ``start`` defaults to the current minute (Kaiping time); pass it to make a
    run reproducible. Waits until the broker has acknowledged every message.
    """
    from govlake.stream.broker import mqtt_client

    devices = list(devices) if devices is not None else catalog_devices()
    if start is None:
        start = datetime.now(KAIPING).replace(second=0, microsecond=0)
    truth_path = truth_path or truth_file(start, seed)
    result = SimulationResult(truth_path=truth_path)
    truth: list[dict] = []
    client = mqtt_client(
        broker_url, client_id or f"govlake-sim-{uuid.uuid4().hex[:8]}", persistent=False
    )
    client.max_inflight_messages_set(200)
    acknowledged = [0]
    lock = threading.Lock()

    def on_publish(client, userdata, mid, reason_code, properties) -> None:
        with lock:  # once per message, when the broker's PUBACK arrives
            acknowledged[0] += 1

    client.on_publish = on_publish
    client.connect_async_and_start()
    client.wait_connected(timeout)
    started = time.monotonic()

    def wait_acknowledged(up_to: int) -> None:
        deadline = time.monotonic() + timeout
        while acknowledged[0] < up_to:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the broker at {client.address} acknowledged {acknowledged[0]} of "
                    f"{result.published} messages in {timeout:.0f}s"
                )
            time.sleep(0.01)

    try:
        for index, emission in enumerate(
            generate(
                devices,
                start,
                minutes,
                seed,
                faults,
                fault_rates=fault_rates,
                topic_root=topic_root,
                offline_minutes=offline_minutes,
                stuck_minutes=stuck_minutes,
                truth=truth,
            )
        ):
            if stop is not None and stop.is_set():
                break
            if speed:
                observed = _observed_minute(emission, start)
                _sleep_until(started + observed * 60 / speed)
            elif rate:
                _sleep_until(started + index / rate)
            # queued by paho even while disconnected, and sent when it reconnects
            client.publish(emission.topic, emission.data, qos=1)
            result.published += 1
            if emission.lands:
                result.expected_msg_ids.add(emission.msg_id)  # type: ignore[arg-type]
            elif emission.fault == "duplicate":
                result.duplicates += 1
            else:
                result.quarantined += 1
            if result.published - acknowledged[0] > 5000:  # keep memory flat
                wait_acknowledged(result.published - 2500)
            if on_progress is not None and result.published % 500 == 0:
                on_progress(result.published)
        wait_acknowledged(result.published)
    finally:
        client.disconnect()
        client.loop_stop()
        result.seconds = time.monotonic() - started
        result.faults = Counter(f["fault"] for f in truth)
        _write_truth(truth_path, truth, result, start, minutes, seed, faults)
    return result


def _observed_minute(emission: Emission, start: datetime) -> float:
    try:
        observed = json.loads(emission.data)["observed_at"]
        return (datetime.fromisoformat(observed) - start).total_seconds() / 60
    except (ValueError, KeyError, TypeError):
        return 0.0


def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _write_truth(
    path: Path,
    truth: list[dict],
    result: SimulationResult,
    start: datetime,
    minutes: int,
    seed: int,
    faults: bool,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for item in truth:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    summary = {
        "start": _iso(start),
        "minutes": minutes,
        "seed": seed,
        "faults_enabled": faults,
        **result.summary(),
    }
    path.with_suffix(".summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
