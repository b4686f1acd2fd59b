"""The device catalog: kinds and metrics, a deterministic fleet of about 300 devices across
Kaiping's 15 towns, and validation that names the file and the entry."""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from govlake import config
from govlake.catalog.loader import load_catalog
from govlake.sensors import aqi
from govlake.sensors.devices import (
    DEVICES_FILE,
    DeviceCatalogError,
    load_devices,
    load_kinds,
    read_device_catalog,
)
from govlake.standards.registry import load_registry

METRICS = {
    "air_quality": {"pm25", "pm10", "so2", "no2", "co", "o3", "temperature", "humidity",
                    "pressure", "wind_speed", "wind_direction", "rainfall", "noise"},
    "hydrology": {"river_level", "inner_level", "rainfall", "pump_state", "gate_state"},
    "light_pole": {"lamp_state", "power", "energy"},
}  # fmt: skip


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def test_the_kinds_and_their_metrics():
    kinds = load_kinds()
    assert {code: {m.name for m in kind.metrics} for code, kind in kinds.items()} == METRICS
    for kind in kinds.values():
        assert kind.interval_seconds > 0 and kind.name_zh and kind.name_en
        for metric in kind.metrics:
            assert metric.name_zh and metric.name_en, metric
            if metric.type == "state":
                assert metric.states and metric.valid(min(metric.states))
                assert not metric.valid(max(metric.states) + 1)
            else:
                assert metric.unit and metric.min < metric.max
                assert metric.valid(metric.min) and not metric.valid(metric.max + 1)
    assert kinds["light_pole"].metric("energy").type == "counter"
    assert kinds["hydrology"].metric("rainfall").stuck_minutes is None  # dry days are not stuck
    with pytest.raises(KeyError):
        kinds["hydrology"].metric("pm25")


def test_air_pollutants_are_the_aqi_pollutants_in_its_units():
    air = load_kinds()["air_quality"]
    units = {s.pollutant: s.unit for segments in aqi.breakpoints().values() for s in segments}
    for pollutant, unit in units.items():
        metric = air.metric(pollutant)
        assert metric.unit == unit, pollutant
        # the valid range reaches the top of Table 1's main average, so 500 can be reported
        top = aqi.breakpoints()[(pollutant, aqi.REPORTS["hourly"][pollutant][1])][-1].c_hi
        assert metric.max >= top, pollutant


def test_the_fleet():
    devices = load_devices()
    kinds = Counter(d.kind for d in devices)
    assert 280 <= len(devices) <= 320
    assert kinds == {"air_quality": 30, "hydrology": 40, "light_pole": 230}
    assert len({d.device_id for d in devices}) == len(devices)
    assert len({d.name_zh for d in devices}) == len(devices)
    towns = {row["code"]: row for row in load_registry().code_sets["kp_town"].values}
    assert {d.town_code for d in devices} == set(towns)  # all 15 towns
    for kind in kinds:
        assert {d.town_code for d in devices if d.kind == kind} == set(towns), kind
    departments = load_catalog().departments
    owners = {d.kind: d.owner for d in devices}
    assert owners == {"air_quality": "env", "hydrology": "water", "light_pole": "urban"}
    assert departments["env"].name_zh == "江门市生态环境局开平分局"
    assert departments["water"].name_zh == "开平市水务局"
    assert "城市管理和综合执法局" in departments["urban"].name_zh
    for device in devices:
        town = towns[device.town_code]
        assert device.town_name == town["name"]
        distance = _km(device.longitude, device.latitude,
                       float(town["longitude"]), float(town["latitude"]))  # fmt: skip
        assert distance <= 4.05, device
        assert device.install_date.year >= 2012, device
        if device.kind == "hydrology":
            assert device.river and device.warning_level < device.danger_level, device
        else:
            assert device.warning_level is None and device.danger_level is None
    assert devices[0].device_id == "KP-AQ-001" and devices[0].name_zh.endswith("1号")
    kinds_ = load_kinds()
    assert all(d.metrics == kinds_[d.kind].metrics for d in devices)


def test_the_fleet_is_the_same_on_every_read():
    first = read_device_catalog().devices
    again = read_device_catalog().devices
    assert first == again
    assert load_devices() == first


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    root.mkdir()
    shutil.copyfile(config.CATALOG_DIR / "departments.yaml", root / "departments.yaml")
    shutil.copyfile(DEVICES_FILE, root / "devices.yaml")
    return root / "devices.yaml"


def test_every_problem_is_reported_with_file_and_entry(tmp_path):
    path = _copy(tmp_path)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    air = document["kinds"]["air_quality"]["metrics"]
    air[0]["min"] = 2000  # above max
    air[1]["stuck_minutes"] = -5
    air.append({"name": "pm25", "name_zh": "重复", "name_en": "again", "unit": "μg/m³",
                "min": 0, "max": 1})  # fmt: skip
    document["kinds"]["hydrology"]["metrics"][3]["states"] = {}
    fleet = document["fleet"]
    fleet["air_quality"]["owner"] = "ecology"
    fleet["light_pole"]["towns"][440783999] = 3
    fleet["hydrology"]["gauges"][2]["warning"] = 9.9  # above its danger level
    fleet["hydrology"]["gauges"][5]["danger"] = 99  # outside river_level's range
    fleet["hydrology"]["gauges"][7]["town"] = 440783000
    fleet["drones"] = {"owner": "env"}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DeviceCatalogError) as caught:
        read_device_catalog(path)
    problems = caught.value.problems
    expected = [
        "devices.yaml: kinds.air_quality metric #1 'pm25': min 2000 must be below max 1000",
        "devices.yaml: kinds.air_quality metric #2 'pm10': stuck_minutes must be a positive",
        "devices.yaml: kinds.air_quality metric 'pm25': duplicate metric",
        "devices.yaml: kinds.hydrology metric #4 'pump_state': a state metric needs states",
        "devices.yaml: fleet.air_quality: owner 'ecology' is no department of departments.yaml",
        "devices.yaml: fleet.light_pole: town 440783999 is no code of kp_town.csv",
        "devices.yaml: fleet.hydrology gauge #3 (苍江三埠水闸): warning 9.9 must be below danger",
        "devices.yaml: fleet.hydrology gauge #6 (潭江长沙水位站): level 99 is outside river_level",
        "devices.yaml: fleet.hydrology gauge #8: town '440783000' is no code of kp_town.csv",
        "devices.yaml: fleet.drones: unknown kind",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected), problems
    assert "设备目录校验失败" in str(caught.value) and "device catalog is invalid" in str(
        caught.value
    )


def test_an_unreadable_file_is_an_error(tmp_path):
    path = _copy(tmp_path)
    path.write_text("kinds: [unclosed", encoding="utf-8")
    with pytest.raises(DeviceCatalogError, match=r"devices\.yaml: cannot read"):
        read_device_catalog(path)
