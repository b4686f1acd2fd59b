"""The device catalog ``include/catalog/devices.yaml``: device kinds, metrics and the fleet.

``load_devices()`` returns the fleet — about 300 air quality stations, hydrology gauges and
smart light poles across Kaiping's 15 towns — generated deterministically from the file's
compact spec: the same file gives the same devices (ids, names, positions, install dates)
on every machine. Ids number a kind's devices in the order of the spec (so add devices at
the end of a list to keep the others' ids); a device's position and install date are
drawn from its own seed, ``<seed>:<device id>``. ``load_kinds()`` returns the kinds with
their metrics (valid range, largest change per minute, stuck-value window).

Validation collects every problem before failing; each message names the file and the
entry (``devices.yaml: fleet.hydrology gauge #3 (潭江三埠水位站): ...``).
"""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from govlake import config

DEVICES_FILE = config.CATALOG_DIR / "devices.yaml"
METRIC_TYPES = ("gauge", "state", "counter")
METRIC_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
# Kaiping's extent, generously: every device must lie inside it
LONGITUDE_RANGE = (112.2, 112.95)
LATITUDE_RANGE = (21.95, 22.7)
KM_PER_DEGREE = 111.32


class DeviceCatalogError(ValueError):
    """devices.yaml is invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"设备目录校验失败 device catalog is invalid ({len(problems)} problem(s)):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Metric:
    """What a device reports under one key, and what a plausible reading is."""

    name: str
    name_zh: str
    name_en: str
    unit: str | None
    min: float
    max: float
    type: str = "gauge"
    max_rate_per_min: float | None = None
    stuck_minutes: int | None = None
    states: dict[int, str] = field(default_factory=dict)

    def valid(self, value: float) -> bool:
        """Within the valid range (and one of the states, for a state)."""
        if self.type == "state":
            return value in self.states
        return self.min <= value <= self.max


@dataclass(frozen=True)
class DeviceKind:
    code: str
    name_zh: str
    name_en: str
    interval_seconds: int
    metrics: tuple[Metric, ...]

    def metric(self, name: str) -> Metric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"{self.code} 没有指标 has no metric {name!r}")


@dataclass(frozen=True)
class Device:
    """One device of the fleet. Hydrology gauges carry their river and its warning and
    danger levels (外江警戒水位、危险水位, m, of ``river_level``)."""

    device_id: str
    kind: str
    name_zh: str
    town_code: str
    town_name: str
    longitude: float
    latitude: float
    install_date: date
    owner: str
    river: str | None = None
    warning_level: float | None = None
    danger_level: float | None = None
    metrics: tuple[Metric, ...] = ()  # its kind's metrics, what its messages carry


@dataclass(frozen=True)
class DeviceCatalog:
    kinds: dict[str, DeviceKind]
    devices: tuple[Device, ...]

    def by_kind(self, kind: str) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind == kind)

    def device(self, device_id: str) -> Device:
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(f"设备目录中没有设备 no device {device_id!r}")


# --- reading -----------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _towns(standards_root: Path) -> dict[str, tuple[str, float, float]]:
    """kp_town code → (name, longitude, latitude)."""
    path = standards_root / "code_sets" / "kp_town.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            row["code"]: (row["name"], float(row["longitude"]), float(row["latitude"]))
            for row in csv.DictReader(handle)
        }


def _departments(catalog_root: Path) -> set[str]:
    document = yaml.safe_load((catalog_root / "departments.yaml").read_text("utf-8")) or {}
    return {entry.get("code") for entry in document.get("departments") or []}


def _metric(entry: Any, where: str, problems: list[str]) -> Metric | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping")
        return None
    name = str(entry.get("name") or "")
    where = f"{where} {name!r}" if name else where
    for key in ("name", "name_zh", "name_en"):
        if not entry.get(key):
            problems.append(f"{where}: missing required key {key!r}")
    if name and not set(name) <= METRIC_NAME_CHARS:
        problems.append(f"{where}: name must be lowercase letters, digits and _")
    kind = entry.get("type", "gauge")
    if kind not in METRIC_TYPES:
        problems.append(f"{where}: type {kind!r} is not one of {', '.join(METRIC_TYPES)}")
        return None
    known = {"name", "name_zh", "name_en", "unit", "type", "min", "max", "max_rate_per_min",
             "stuck_minutes", "states"}  # fmt: skip
    unknown = sorted(set(entry) - known)
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(unknown)}")
    states: dict[int, str] = {}
    if kind == "state":
        raw = entry.get("states")
        if not isinstance(raw, dict) or not raw:
            problems.append(f"{where}: a state metric needs states {{code: 名称 name}}")
            return None
        for code, label in raw.items():
            if isinstance(code, bool) or not isinstance(code, int) or not label:
                problems.append(f"{where}: state codes are integers with a name ({code!r})")
            else:
                states[code] = str(label)
        low, high = float(min(states, default=0)), float(max(states, default=0))
    else:
        low, high = _number(entry.get("min")), _number(entry.get("max"))
        if low is None or high is None:
            problems.append(f"{where}: min and max must be numbers")
            return None
        if low >= high:
            problems.append(f"{where}: min {low:g} must be below max {high:g}")
        if not entry.get("unit"):
            problems.append(f"{where}: missing required key 'unit'")
    rate = entry.get("max_rate_per_min")
    if rate is not None and (_number(rate) is None or rate <= 0):
        problems.append(f"{where}: max_rate_per_min must be a positive number or null")
    stuck = entry.get("stuck_minutes")
    if stuck is not None and (isinstance(stuck, bool) or not isinstance(stuck, int) or stuck <= 0):
        problems.append(f"{where}: stuck_minutes must be a positive integer or null")
    return Metric(
        name=name,
        name_zh=str(entry.get("name_zh") or ""),
        name_en=str(entry.get("name_en") or ""),
        unit=str(entry["unit"]) if entry.get("unit") else None,
        min=low,
        max=high,
        type=kind,
        max_rate_per_min=_number(rate),
        stuck_minutes=stuck if isinstance(stuck, int) and not isinstance(stuck, bool) else None,
        states=states,
    )


def _kinds(document: dict, name: str, problems: list[str]) -> dict[str, DeviceKind]:
    kinds: dict[str, DeviceKind] = {}
    raw = document.get("kinds")
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{name}: missing kinds")
        return kinds
    for code, entry in raw.items():
        where = f"{name}: kinds.{code}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping")
            continue
        for key in ("name_zh", "name_en", "interval_seconds", "metrics"):
            if not entry.get(key):
                problems.append(f"{where}: missing required key {key!r}")
        interval = entry.get("interval_seconds")
        if interval is not None and (not isinstance(interval, int) or interval <= 0):
            problems.append(f"{where}: interval_seconds must be a positive integer")
        metrics: list[Metric] = []
        for index, metric_entry in enumerate(entry.get("metrics") or [], start=1):
            metric = _metric(metric_entry, f"{where} metric #{index}", problems)
            if metric is None:
                continue
            if any(m.name == metric.name for m in metrics):
                problems.append(f"{where} metric {metric.name!r}: duplicate metric")
            metrics.append(metric)
        kinds[code] = DeviceKind(
            code=code,
            name_zh=str(entry.get("name_zh") or ""),
            name_en=str(entry.get("name_en") or ""),
            interval_seconds=interval if isinstance(interval, int) else 0,
            metrics=tuple(metrics),
        )
    return kinds


def _install_range(spec: dict, where: str, problems: list[str]) -> tuple[date, date] | None:
    install = spec.get("install")
    if not isinstance(install, dict):
        problems.append(f"{where}: missing install {{from: YYYY-MM-DD, to: YYYY-MM-DD}}")
        return None
    start, end = install.get("from"), install.get("to")
    if not isinstance(start, date) or not isinstance(end, date) or start > end:
        problems.append(f"{where}: install from/to must be dates, from not after to")
        return None
    return start, end


def _place(
    seed: Any, device_id: str, town: tuple[str, float, float], radius_km: float,
    install: tuple[date, date],
) -> tuple[float, float, date]:  # fmt: skip
    """Longitude, latitude and install date of a device: uniform in the town's disc."""
    rng = random.Random(f"{seed}:{device_id}")
    _, lon, lat = town
    distance = radius_km * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    latitude = lat + distance * math.cos(bearing) / KM_PER_DEGREE
    longitude = lon + distance * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    days = (install[1] - install[0]).days
    return round(longitude, 6), round(latitude, 6), install[0] + timedelta(rng.randint(0, days))


def _group(
    kind: str,
    spec: Any,
    context: dict[str, Any],
    problems: list[str],
) -> list[Device]:
    name, towns, departments, seed = (
        context["name"], context["towns"], context["departments"], context["seed"]
    )  # fmt: skip
    where = f"{name}: fleet.{kind}"
    if not isinstance(spec, dict):
        problems.append(f"{where}: expected a mapping")
        return []
    owner = spec.get("owner")
    if owner not in departments:
        problems.append(
            f"{where}: owner {owner!r} is no department of departments.yaml "
            f"({', '.join(sorted(departments))})"
        )
    prefix = spec.get("id_prefix")
    if not prefix or not str(prefix).replace("-", "").isalnum():
        problems.append(f"{where}: id_prefix must be letters, digits and '-'")
        prefix = kind
    radius = _number(spec.get("radius_km"))
    if radius is None or not 0 < radius <= 10:
        problems.append(f"{where}: radius_km must be a number in (0, 10]")
        radius = 1.0
    install = _install_range(spec, where, problems)
    if install is None:
        return []
    entries: list[tuple[str, dict]] = []  # (town code, per-device entry)
    if "gauges" in spec:
        for index, gauge in enumerate(spec.get("gauges") or [], start=1):
            if not isinstance(gauge, dict):
                problems.append(f"{where} gauge #{index}: expected a mapping")
                continue
            entries.append((str(gauge.get("town")), {**gauge, "_where": f"gauge #{index}"}))
    else:
        counts = spec.get("towns")
        if not isinstance(counts, dict) or not counts:
            problems.append(f"{where}: missing towns {{town code: count}} (or gauges)")
            return []
        template = spec.get("name")
        if not template or "{town}" not in str(template) or "{n" not in str(template):
            problems.append(f"{where}: name must be a template with {{town}} and {{n}}")
            return []
        for town_code, count in counts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
                problems.append(f"{where}: town {town_code}: count must be a positive integer")
                continue
            if str(town_code) not in towns:
                problems.append(f"{where}: town {town_code!r} is no code of kp_town.csv")
                continue
            for n in range(1, count + 1):
                entries.append((str(town_code), {"_n": n, "_template": str(template)}))
    width = max(3, len(str(len(entries))))
    kind_metrics = context["kinds"][kind].metrics
    devices: list[Device] = []
    for number, (town_code, entry) in enumerate(entries, start=1):
        device_id = f"{prefix}-{number:0{width}d}"
        entry_where = f"{where} {entry.get('_where', device_id)}"
        town = towns.get(town_code)
        if town is None:
            problems.append(f"{entry_where}: town {town_code!r} is no code of kp_town.csv")
            continue
        if "_template" in entry:
            name_zh = entry["_template"].format(town=town[0], n=entry["_n"])
        else:
            name_zh = str(entry.get("name") or "")
            entry_where = f"{entry_where} ({name_zh})"
            if not name_zh or not entry.get("river"):
                problems.append(f"{entry_where}: a gauge needs a name and a river")
        longitude, latitude, installed = _place(seed, device_id, town, radius, install)
        device = Device(
            device_id=device_id,
            kind=kind,
            name_zh=name_zh,
            town_code=town_code,
            town_name=town[0],
            longitude=longitude,
            latitude=latitude,
            install_date=installed,
            owner=str(owner),
            river=str(entry["river"]) if entry.get("river") else None,
            warning_level=_number(entry.get("warning")),
            danger_level=_number(entry.get("danger")),
            metrics=kind_metrics,
        )
        if not (
            LONGITUDE_RANGE[0] <= longitude <= LONGITUDE_RANGE[1]
            and LATITUDE_RANGE[0] <= latitude <= LATITUDE_RANGE[1]
        ):
            problems.append(f"{entry_where}: position {longitude}, {latitude} is outside Kaiping")
        devices.append(device)
        if "_template" not in entry:
            _check_levels(device, entry, context["kinds"].get(kind), entry_where, problems)
    return devices


def _check_levels(
    device: Device, entry: dict, kind: DeviceKind | None, where: str, problems: list[str]
) -> None:
    """A gauge's warning level is below its danger level, both within river_level's range."""
    if device.warning_level is None or device.danger_level is None:
        problems.append(f"{where}: warning and danger must be numbers (m)")
        return
    if device.warning_level >= device.danger_level:
        problems.append(
            f"{where}: warning {device.warning_level:g} must be below danger "
            f"{device.danger_level:g}"
        )
    unknown = sorted(set(entry) - {"town", "name", "river", "warning", "danger", "_where"})
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(unknown)}")
    if kind is None:
        return
    try:
        level = kind.metric("river_level")
    except KeyError:
        problems.append(f"{where}: kind {kind.code} has no river_level for the levels")
        return
    for value in (device.warning_level, device.danger_level):
        if not level.valid(value):
            problems.append(f"{where}: level {value:g} is outside river_level's valid range")


def read_device_catalog(
    path: Path | None = None,
    catalog_root: Path | None = None,
    standards_root: Path | None = None,
) -> DeviceCatalog:
    """Read and validate devices.yaml; raise :class:`DeviceCatalogError` listing problems."""
    path = Path(path or DEVICES_FILE)
    catalog_root = Path(catalog_root or path.parent)
    standards_root = Path(standards_root or config.STANDARDS_DIR)
    name = path.name
    problems: list[str] = []
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise DeviceCatalogError([f"{name}: cannot read: {error}"]) from None
    if not isinstance(document, dict):
        raise DeviceCatalogError([f"{name}: expected a mapping at the top level"])
    kinds = _kinds(document, name, problems)
    fleet = document.get("fleet")
    devices: list[Device] = []
    if not isinstance(fleet, dict):
        problems.append(f"{name}: missing fleet")
    else:
        context = {
            "name": name,
            "towns": _towns(standards_root),
            "departments": _departments(catalog_root),
            "seed": fleet.get("seed"),
            "kinds": kinds,
        }
        if context["seed"] in (None, ""):
            problems.append(f"{name}: fleet.seed is missing")
        for kind, spec in fleet.items():
            if kind == "seed":
                continue
            if kind not in kinds:
                problems.append(f"{name}: fleet.{kind}: unknown kind (kinds: {', '.join(kinds)})")
                continue
            devices += _group(kind, spec, context, problems)
    for what, values in (
        ("id", Counter(d.device_id for d in devices)),
        ("name", Counter(d.name_zh for d in devices)),
    ):
        for duplicate in sorted(v for v, count in values.items() if count > 1):
            problems.append(f"{name}: duplicate device {what} {duplicate!r}")
    if problems:
        raise DeviceCatalogError(problems)
    return DeviceCatalog(kinds=kinds, devices=tuple(devices))


@lru_cache(maxsize=1)
def default_device_catalog() -> DeviceCatalog:
    """The repository's device catalog, loaded once per process."""
    return read_device_catalog()


def load_devices(path: Path | None = None) -> tuple[Device, ...]:
    """The fleet of devices.yaml (the repository's, cached, unless ``path`` is given)."""
    return (read_device_catalog(path) if path else default_device_catalog()).devices


def load_kinds(path: Path | None = None) -> dict[str, DeviceKind]:
    """The device kinds and their metrics."""
    return (read_device_catalog(path) if path else default_device_catalog()).kinds
