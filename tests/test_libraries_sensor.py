"""The near-real-time sensor libraries (dbt schema ``sensor``), judged against Python.

A small fleet is simulated for two days (``govlake.stream.simulator.generate``, faults
included: spikes, duplicates, late and out-of-order messages, malformed and out-of-range
messages, offline gaps). The messages go through the platform's own path without a
broker — the stream consumer's flush (parse, deduplicate, check, land the micro-batch in
the object store, commit) and ``load_pending`` into ``raw.sensor__<kind>`` — in two rounds,
the second holding a station-hour held back from the first (a consumer outage: readings
that arrive a day late). ``dbt build --select tag:sensor`` runs before any batch (the raw
tables do not exist yet), after each round (incrementally), and once more with
``--full-refresh``: the incremental tables must equal the rebuild.

Every row of the four models is then recomputed here from the raw readings, in Python:
hourly and daily means with their validity rules (HJ 663-2013 / GB 3095-2012), moving
means, rounding (GB/T 8170), and the AQI of ``govlake.sensors.aqi.aqi`` — the same
computation, written twice; the water-level states against each gauge's levels; the light
poles' energy from their counters.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from govlake.governance.store import connect
from govlake.lake.storage import open_store
from govlake.sensors.aqi import AqiError, aqi
from govlake.sensors.devices import load_devices
from govlake.stream import simulator
from govlake.stream.consumer import Incoming, StreamConsumer
from govlake.stream.devices import catalog_devices, kind_metrics, sample
from govlake.stream.landing import metric_columns
from govlake.stream.load import FIXED_COLUMNS, load_pending
from govlake.stream.messages import KAIPING
from govlake.transform.dbt import SENSOR_STAGING_DIR, run_dbt
from govlake.transform.prepare import prepare_warehouse

START = datetime(2026, 11, 1, 0, 0, tzinfo=KAIPING)
HOURS = 50
SEED = 7
DEVICES = {"air_quality": 4, "hydrology": 4, "light_pole": 6}
MODELS = {
    "sensor.air_quality_hourly": "hour_key",
    "sensor.air_quality_daily": "day_key",
    "sensor.water_level_warning": "hour_key",
    "sensor.light_pole_energy_daily": "day_key",
}
POLLUTANTS = ("so2", "no2", "pm10", "co", "o3", "pm25")  # HJ 633-2012 Table 1's order
DIGITS = {"co": 1}  # decimals published: μg/m³ integers, CO (mg/m³) one
HALF = Fraction(1, 2)
SENSOR_SOURCES = SENSOR_STAGING_DIR / "_sensor__sources.yml"


# --- the platform's own path, without a broker ----------------------------------------------


class _NoBroker:
    """Stands in for the MQTT client: the consumer acknowledges into it."""

    def ack(self, mid: int, qos: int) -> None:
        pass

    def is_connected(self) -> bool:
        return False


def land(emissions: list[simulator.Emission], tmp_path: Path, chunk: int = 2500) -> int:
    """Flush the messages through the stream consumer in micro-batches (parse, dedup,
    checks, lake, commit), then load every committed batch into raw.sensor__<kind>."""
    consumer = StreamConsumer(
        "mqtt://127.0.0.1:1",
        client_id="govlake-sensor-library-test",
        batch_event_topic=None,
        status_file=tmp_path / "status.json",
    )
    consumer.conn = consumer._connect_warehouse()
    consumer.store = open_store()
    consumer.client = _NoBroker()  # type: ignore[assignment]
    consumer._restore_state()
    try:
        for first in range(0, len(emissions), chunk):
            now = datetime.now(UTC)
            consumer._flush(
                [
                    Incoming(consumer.epoch, first + n, e.topic, e.data, now)
                    for n, e in enumerate(emissions[first : first + chunk])
                ]
            )
    finally:
        consumer.conn.close()
    return len(load_pending())


def build(*args: str) -> None:
    result = run_dbt("build", "--select", "tag:sensor", *args, capture=True)
    tail = "\n".join(result.stdout.splitlines()[-60:])
    assert result.returncode == 0, f"dbt build --select tag:sensor {' '.join(args)}:\n{tail}"


def query(sql: str, args: tuple = ()) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, args).fetchall()


def rows_of(table: str) -> dict[str, dict]:
    """Every row of a model, by its key, as a dict of columns."""
    key = MODELS[table]
    with connect() as conn:
        cursor = conn.execute(f"select * from {table} order by {key}")
        names = [c.name for c in cursor.description]
        return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in cursor}


# --- the oracle: the same computation in Python ---------------------------------------------


def half_even(value: Fraction, digits: int = 0) -> Decimal:
    """GB/T 8170 rounding (四舍六入五成双) of an exact non-negative number."""
    scaled = value * 10**digits
    whole = math.floor(scaled)
    rest = scaled - whole
    if rest > HALF or (rest == HALF and whole % 2 == 1):
        whole += 1
    return Decimal(whole).scaleb(-digits) if digits else Decimal(whole)


def mean(values: list) -> Fraction:
    return sum((Fraction(v) for v in values), Fraction(0)) / len(values)


def local_hour(moment: datetime) -> datetime:
    return moment.astimezone(KAIPING).replace(minute=0, second=0, microsecond=0)


def expected_hourly() -> dict[tuple[str, datetime], dict]:
    """(station, hour start) → the hour's figures, from raw.sensor__air_quality."""
    readings = query(
        "select device_id, observed_at, "
        + ", ".join(f"cast({p} as numeric)" for p in POLLUTANTS)
        + " from raw.sensor__air_quality"
    )
    grouped: dict[tuple[str, datetime], list] = defaultdict(list)
    for device_id, observed_at, *values in readings:
        grouped[(device_id, local_hour(observed_at))].append((observed_at, values))
    hours: dict[tuple[str, datetime], dict] = {}
    for (device_id, hour), items in grouped.items():
        minute = [at.replace(second=0, microsecond=0) for at, _ in items]
        row = {"readings": len(items), "minutes_reported": len(set(minute))}
        for i, p in enumerate(POLLUTANTS):
            present = [(m, values[i]) for m, (_, values) in zip(minute, items, strict=True)
                       if values[i] is not None]  # fmt: skip
            row[f"{p}_minutes"] = len({m for m, _ in present})
            row[f"{p}_1h"] = (
                half_even(mean([v for _, v in present]), DIGITS.get(p, 0))
                if row[f"{p}_minutes"] >= 45
                else None
            )
        hours[(device_id, hour)] = row
    for (device_id, hour), row in hours.items():
        for p, span, needed, name in (
            ("o3", 8, 6, "o3_8h"),
            ("pm25", 24, 20, "pm25_24h"),
            ("pm10", 24, 20, "pm10_24h"),
            ("so2", 24, 20, "so2_24h"),
        ):
            window = [hours.get((device_id, hour - timedelta(hours=k))) for k in range(span)]
            valid = [w[f"{p}_1h"] for w in window if w and w[f"{p}_1h"] is not None]
            row[name] = half_even(mean(valid)) if len(valid) >= needed else None
            row[f"{name}_hours"] = len(valid)
    return hours


def hourly_aqi(row: dict) -> dict:
    """What govlake.sensors.aqi says of an hour's concentrations (实时报)."""
    concentrations = {
        "so2": row["so2_1h"],
        "no2": row["no2_1h"],
        "pm10": row["pm10_24h"],
        "co": row["co_1h"],
        "o3": row["o3_1h"],
        "pm25": row["pm25_24h"],
        "o3_8h": row["o3_8h"],
    }
    if row["so2_24h"] is not None:
        concentrations["so2_24h"] = row["so2_24h"]
    return _aqi_columns(concentrations, "hourly", {"o3_1h": "o3_1h", "o3_8h": "o3_8h"})


def _aqi_columns(concentrations: dict, period: str, o3_indicators: dict) -> dict:
    try:
        result = aqi(concentrations, period)
    except AqiError:  # nothing valid to compute from
        result = None
    columns = {f"{p}_iaqi": result and result.iaqi.get(p) for p in POLLUTANTS}
    for column, indicator in o3_indicators.items():
        columns[f"{column}_iaqi"] = result and result.indicators.get(indicator)
    columns.update(
        aqi=result and result.aqi,
        primary_pollutants=(",".join(result.primary_pollutants) or None) if result else None,
        aqi_level=result and result.level,
        aqi_category=result and result.category,
    )
    return columns


def expected_daily(hours: dict[tuple[str, datetime], dict]) -> dict[tuple[str, date], dict]:
    by_day: dict[tuple[str, date], dict[int, dict]] = defaultdict(dict)
    for (device_id, hour), row in hours.items():
        by_day[(device_id, hour.date())][hour.hour] = row
    days = {}
    for key, day in by_day.items():
        row: dict = {
            "hours_reported": len(day),
            "readings": sum(h["readings"] for h in day.values()),
        }
        for p in POLLUTANTS:
            valid = [h[f"{p}_1h"] for h in day.values() if h[f"{p}_1h"] is not None]
            row[f"{p}_hours"] = len(valid)
            if p != "o3":
                row[f"{p}_24h"] = (
                    half_even(mean(valid), DIGITS.get(p, 0)) if len(valid) >= 20 else None
                )
        o3 = {hour: h["o3_1h"] for hour, h in day.items() if h["o3_1h"] is not None}
        row["o3_1h_max"] = max(o3.values()) if len(o3) >= 20 else None
        windows = []
        for end in range(7, 24):
            valid = [o3[h] for h in range(end - 7, end + 1) if h in o3]
            if len(valid) >= 6:
                windows.append(half_even(mean(valid)))
        row["o3_8h_windows"] = len(windows)
        row["o3_8h_max"] = max(windows) if len(windows) >= 14 else None
        concentrations = {p: row[f"{p}_24h"] for p in POLLUTANTS if p != "o3"}
        concentrations.update(o3=row["o3_8h_max"], o3_1h=row["o3_1h_max"])
        row.update(_aqi_columns(concentrations, "daily", {"o3_8h": "o3_8h", "o3_1h": "o3_1h"}))
        days[key] = row
    return days


def expected_water_levels() -> dict[tuple[str, datetime], dict]:
    gauges = {d.device_id: d for d in load_devices() if d.kind == "hydrology"}
    readings = query(
        "select device_id, observed_at, river_level, inner_level, cast(rainfall as numeric), "
        "pump_state from raw.sensor__hydrology order by observed_at"
    )
    grouped: dict[tuple[str, datetime], list] = defaultdict(list)
    for reading in readings:
        grouped[(reading[0], local_hour(reading[1]))].append(reading)
    hours = {}
    for (device_id, hour), items in grouped.items():
        gauge = gauges[device_id]
        levels = [(r[2], r[1]) for r in items if r[2] is not None]
        top = max((level for level, _ in levels), default=None)
        warning, danger = gauge.warning_level, gauge.danger_level
        state = (
            None if top is None
            else "超保证水位" if top > danger
            else "超警戒水位" if top > warning
            else "正常"
        )  # fmt: skip
        rainfall = [r[4] for r in items if r[4] is not None]
        hours[(device_id, hour)] = {
            "readings": len(items),
            "max_river_level": top,
            "max_river_level_at": min((at for level, at in levels if level == top), default=None),
            "warning_state": state,
            "above_warning_m": (
                (Decimal(repr(top)) - Decimal(repr(warning))).quantize(Decimal("0.001"))
                if top is not None and top > warning
                else None
            ),
            "first_over_warning_at": min((at for lv, at in levels if lv > warning), default=None),
            "first_over_danger_at": min((at for lv, at in levels if lv > danger), default=None),
            "max_inner_level": max((r[3] for r in items if r[3] is not None), default=None),
            "rainfall_mm": sum(rainfall) if rainfall else None,
            "pump_fault": any(r[5] == 2 for r in items),
        }
    return hours


def expected_light_poles() -> dict[tuple[str, date], dict]:
    fleet = [d for d in load_devices() if d.kind == "light_pole"]
    town_of = {d.device_id: d.town_code for d in fleet}
    registered: dict[str, int] = defaultdict(int)
    for device in fleet:
        registered[device.town_code] += 1
    readings = query(
        "select device_id, observed_at, lamp_state, cast(energy as numeric) "
        "from raw.sensor__light_pole order by device_id, observed_at"
    )
    days: dict[tuple[str, date], dict] = {}
    poles: dict[tuple[str, date], set] = defaultdict(set)
    faults: dict[tuple[str, date], set] = defaultdict(set)
    previous: dict[str, tuple[datetime, Decimal]] = {}
    for device_id, observed_at, lamp_state, energy in readings:
        key = (town_of[device_id], observed_at.astimezone(KAIPING).date())
        row = days.setdefault(
            key,
            {"readings": 0, "lamp_on_hours": Decimal(0), "energy_kwh": Decimal(0),
             "counter_resets": 0, "poles_registered": registered[key[0]]},
        )  # fmt: skip
        row["readings"] += 1
        poles[key].add(device_id)
        if lamp_state == 1:
            row["lamp_on_hours"] += Decimal(300) / 3600
        if lamp_state == 2:
            faults[key].add(device_id)
        if energy is None:
            continue
        before = previous.get(device_id)
        if before and before[0] >= observed_at - timedelta(days=1):
            if energy >= before[1]:
                row["energy_kwh"] += energy - before[1]
            else:
                row["energy_kwh"] += energy
                row["counter_resets"] += 1
        previous[device_id] = (observed_at, energy)
    for key, row in days.items():
        row["poles_reporting"] = len(poles[key])
        row["poles_in_fault"] = len(faults[key])
        row["lamp_on_hours"] = row["lamp_on_hours"].quantize(Decimal("0.01"), ROUND_HALF_UP)
        row["energy_kwh"] = row["energy_kwh"].quantize(Decimal("0.001"), ROUND_HALF_UP)
    return days


def assert_columns(kind: str, key, actual: dict, expected: dict) -> None:
    wrong = {c: (actual[c], v) for c, v in expected.items() if actual[c] != v}
    assert not wrong, f"{kind} {key}: model ≠ Python (column: (model, python)) {wrong}"


# --- the tests --------------------------------------------------------------------------------


def test_the_sensor_sources_are_the_tables_the_loader_creates(dbt_manifest):
    """Generated from devices.yaml: one source per kind, the loader's columns and types."""
    manifest = json.loads(dbt_manifest.read_text())
    sources = {
        s["identifier"]: s for s in manifest["sources"].values() if s["source_name"] == "sensor"
    }
    kinds = kind_metrics(catalog_devices())
    assert set(sources) == {f"sensor__{kind}" for kind in kinds}
    for kind, metrics in kinds.items():
        source = sources[f"sensor__{kind}"]
        assert source["schema"] == "raw" and source["loaded_at_field"] == "_loaded_at"
        assert source["freshness"]["error_after"]["count"]
        assert list(source["columns"]) == [*FIXED_COLUMNS, *metrics, "_batch_id", "_loaded_at"]
        types = {name: c["data_type"] for name, c in source["columns"].items()}
        assert {m: types[m] for m in metrics} == metric_columns(metrics)
    seeds = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "seed"}
    assert seeds["sensor_device"]["schema"] == "sensor"


def _check_sources_are_the_loaded_tables() -> None:
    """The columns and types the staging models fall back to before the first load are
    the ones ensure_raw_table creates."""
    [source] = yaml.safe_load(SENSOR_SOURCES.read_text(encoding="utf-8"))["sources"]
    declared = {
        table["name"]: [(c["name"], c["data_type"]) for c in table["columns"]]
        for table in source["tables"]
    }
    for kind in DEVICES:
        created = query(
            "select column_name, format_type(atttypid, atttypmod) from information_schema.columns "
            "join pg_attribute on attrelid = ('raw.sensor__' || %s)::regclass "
            "and attname = column_name where table_schema = 'raw' and table_name = %s "
            "order by ordinal_position",
            (kind, f"sensor__{kind}"),
        )
        assert sorted(created) == sorted(declared[f"sensor__{kind}"]), kind


@pytest.fixture
def fleet():
    return sample(catalog_devices(), DEVICES)


def test_sensor_libraries_agree_with_python(platform, tmp_path, fleet):
    prepare_warehouse()  # standards.iaqi and Table 1, the catalog, the check functions
    build()  # no batch loaded yet: the raw tables do not exist, the libraries are empty
    assert all(not query(f"select 1 from {table} limit 1") for table in MODELS)

    truth: list[dict] = []
    emissions = list(simulator.generate(fleet, START, HOURS * 60, SEED, truth=truth))
    # a consumer outage: one station's readings of 05:00-06:00 on day 1 arrive a day late
    held_station = fleet[1].device_id
    held_hour = START + timedelta(hours=5)

    def held(emission: simulator.Emission) -> bool:
        return (
            emission.msg_id is not None
            and emission.msg_id.startswith(held_station + "-")
            and f'"observed_at":"{held_hour:%Y-%m-%dT%H}'.encode() in emission.data
        )

    first = [e for e in emissions[: len(emissions) * 3 // 5] if not held(e)]
    second = [e for e in emissions[len(emissions) * 3 // 5 :]] + [
        e for e in emissions[: len(emissions) * 3 // 5] if held(e)
    ]
    assert len(first) + len(second) == len(emissions) and any(map(held, second))
    # no lookback: each run recomputes only from the first hour (day) of what it has not seen
    exact = ("--vars", '{"sensor_load_lookback": "0 seconds"}')
    assert land(first, tmp_path) >= 3
    build(*exact)  # the first incremental run fills the tables
    assert land(second, tmp_path) >= 3
    build(*exact)  # grows them, and recomputes the late station-hour and the hours after it

    _check_sources_are_the_loaded_tables()
    grown = {table: rows_of(table) for table in MODELS}
    build("--full-refresh")
    rebuilt = {table: rows_of(table) for table in MODELS}
    for table in MODELS:
        assert grown[table], f"{table} is empty"
        assert grown[table] == rebuilt[table], f"{table}: incremental differs from a rebuild"

    _check_air_quality(grown["sensor.air_quality_hourly"], grown["sensor.air_quality_daily"])
    _check_water_levels(grown["sensor.water_level_warning"])
    _check_light_poles(grown["sensor.light_pole_energy_daily"])


def _check_air_quality(hourly: dict[str, dict], daily: dict[str, dict]) -> None:
    hours = expected_hourly()
    assert len(hourly) == len(hours)
    for row in hourly.values():
        expected = hours[(row["station_id"], row["hour_start"].astimezone(KAIPING))]
        assert_columns("hourly", row["hour_key"], row, expected)
        # the brief's own check: govlake.sensors.aqi on the model's concentrations
        assert_columns("hourly AQI", row["hour_key"], row, hourly_aqi(row))
    # the data exercises what the rules are about
    assert any(r["aqi"] and r["aqi"] > 50 for r in hourly.values()), "no AQI above 50"
    assert any(r["o3_8h"] is not None for r in hourly.values())
    assert any(r["pm25_24h"] is not None for r in hourly.values())
    assert any(r["pm25_1h"] is None for r in hourly.values()), "no incomplete hour"

    days = expected_daily(hours)
    assert len(daily) == len(days)
    for row in daily.values():
        expected = days[(row["station_id"], row["observed_date"])]
        assert_columns("daily", row["day_key"], row, expected)
    assert any(r["aqi"] is not None for r in daily.values())


def _check_water_levels(warning: dict[str, dict]) -> None:
    hours = expected_water_levels()
    assert len(warning) == len(hours)
    for row in warning.values():
        expected = hours[(row["gauge_id"], row["hour_start"].astimezone(KAIPING))]
        assert_columns("water level", row["hour_key"], row, expected)


def _check_light_poles(energy: dict[str, dict]) -> None:
    days = expected_light_poles()
    assert len(energy) == len(days)
    for row in energy.values():
        expected = days[(row["town_code"], row["observed_date"])]
        assert_columns("light poles", row["day_key"], row, expected)
    assert sum(r["energy_kwh"] for r in energy.values()) > 0
