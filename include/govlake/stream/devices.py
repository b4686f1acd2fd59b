"""The device catalog as the stream sees it: each device's kind, interval and metrics.

The catalog is ``include/catalog/devices.yaml``, read by ``govlake.sensors.devices``
(``load_devices()`` for the fleet, ``load_kinds()`` for each kind's metrics). This module
flattens the two into one frozen ``Device`` per device, carrying its kind's metrics, so
that the parser, the checks, the simulator and the loader need one lookup.

A metric is a ``gauge`` (a number within ``[min, max]``), a ``counter`` (a number within
``[min, max]`` that never decreases) or a ``state`` (an integer code among ``states``). A
value outside that cannot be a reading: the message is quarantined (``out_of_range``) and
raises a ``range`` alert, since the device reporting it is faulty. ``max_rate`` (largest
plausible change per minute) and ``stuck_minutes`` (the same reading this long means a
stuck sensor) drive the real-time checks; None means not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KINDS = ("air_quality", "hydrology", "light_pole")
METRIC_TYPES = ("gauge", "counter", "state")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # gauge | counter | state
    min: float
    max: float
    unit: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    max_rate: float | None = None  # per minute
    stuck_minutes: float | None = None
    states: tuple[int, ...] = ()

    @property
    def is_state(self) -> bool:
        return self.type == "state"

    def in_range(self, value: float) -> bool:
        if self.is_state:
            return value in self.states
        return self.min <= value <= self.max

    def valid_range(self) -> str:
        if self.is_state:
            return "{" + ", ".join(str(s) for s in self.states) + "}"
        return f"[{self.min:g}, {self.max:g}]"

    @property
    def label_zh(self) -> str:
        return self.name_zh or self.name

    @property
    def pg_type(self) -> str:
        return "integer" if self.is_state else "double precision"


@dataclass(frozen=True)
class Device:
    device_id: str
    kind: str
    town_code: str | None
    interval_seconds: int
    metrics: tuple[Metric, ...]

    def metric(self, name: str) -> Metric | None:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        return None

    @property
    def interval_minutes(self) -> float:
        return self.interval_seconds / 60


def _metric(spec) -> Metric:
    return Metric(
        name=spec.name,
        type=spec.type,
        min=float(spec.min),
        max=float(spec.max),
        unit=spec.unit,
        name_zh=spec.name_zh,
        name_en=spec.name_en,
        max_rate=spec.max_rate_per_min,
        stuck_minutes=spec.stuck_minutes,
        states=tuple(sorted(spec.states)),
    )


def from_catalog(devices: Iterable, kinds: dict) -> list[Device]:
    """Devices of ``govlake.sensors.devices`` with their kind's metrics and interval."""
    flat = {}
    for code, kind in kinds.items():
        flat[code] = (kind.interval_seconds, tuple(_metric(m) for m in kind.metrics))
    result = []
    for device in devices:
        interval, metrics = flat[device.kind]
        result.append(Device(device.device_id, device.kind, device.town_code, interval, metrics))
    return result


def catalog_devices() -> list[Device]:
    """The whole fleet of ``include/catalog/devices.yaml``."""
    from govlake.sensors.devices import load_devices, load_kinds

    return from_catalog(load_devices(), load_kinds())


def sample(devices: Sequence[Device], per_kind: dict[str, int]) -> list[Device]:
    """The first ``per_kind[kind]`` devices of each kind (tests, small demos)."""
    chosen = []
    for kind, count in per_kind.items():
        chosen += [d for d in devices if d.kind == kind][:count]
    return chosen


def device_index(devices: Iterable[Device]) -> dict[str, Device]:
    return {d.device_id: d for d in devices}


def kind_metrics(devices: Iterable[Device]) -> dict[str, dict[str, Metric]]:
    """Per kind, the union of its devices' metrics in catalog order (the raw columns)."""
    result: dict[str, dict[str, Metric]] = {}
    for device in devices:
        columns = result.setdefault(device.kind, {})
        for metric in device.metrics:
            columns.setdefault(metric.name, metric)
    return result
