"""Real-time checks over a sliding state per device and metric.

Four checks, each raising an ``Alert`` (written to ``governance.sensor_alert``); rates
and stuck windows come from the device catalog (``max_rate_per_min``, ``stuck_minutes``):

- ``range``: a value outside the metric's valid range (the message is quarantined too).
- ``rate_of_change``: ``|value - baseline| > max_rate × minutes`` (at least one minute),
  where the baseline is the last accepted reading, or a counter going down. A flagged
  reading does not become the baseline, so a one-reading spike alerts once and the
  reading after it, back at the old level, does not; a second flagged reading in a row is
  a real level shift: it becomes the baseline without another alert.
- ``stuck``: the same value for ``stuck_minutes`` or longer, over at least three readings
  (once per run).
- ``offline``: a device silent for more than ``offline_minutes`` (and at least 2.5 of its
  reporting intervals: a gauge reporting every 5 minutes is not offline after 10 minutes
  in which it missed one report). Time is event time:
  either the device comes back after a longer gap, or the stream's watermark (the latest
  ``observed_at`` seen) passes its last reading by that much. Event time makes the check
  work the same for live devices and for the simulator's compressed time; a stream that
  stops altogether raises nothing (its consumer's status shows it idle).

Readings that arrive late (``observed_at`` not after the device's latest) are landed but
not checked: the state only moves forward. The state is a plain dict (``snapshot`` /
``restore``) that the consumer commits with each micro-batch, so a restarted consumer
checks redelivered messages against exactly the state they would have met.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from govlake.stream.devices import Device, Metric
from govlake.stream.messages import KAIPING, MalformedMessage, Reading

CHECKS = ("range", "rate_of_change", "stuck", "offline")
OFFLINE_MINUTES = 10.0
OFFLINE_INTERVALS = 2.5  # a device is offline after at least this many missed intervals
STUCK_MIN_READINGS = 3  # two equal readings either side of a gap are no stuck sensor


@dataclass(frozen=True)
class Rule:
    max_rate: float | None  # largest plausible change per minute; None: not checked
    stuck_minutes: float | None  # the same value this long: stuck; None: not checked
    counter: bool  # never decreases


def rule_for(metric: Metric, stuck_minutes: float | None = None) -> Rule:
    """The checks of a metric, from the device catalog. ``stuck_minutes`` replaces every
    stuck window the catalog sets (to see stuck sensors in a short simulation)."""
    if metric.is_state:
        return Rule(None, None, False)
    window = metric.stuck_minutes
    if window is not None and stuck_minutes is not None:
        window = stuck_minutes
    return Rule(metric.max_rate, window, metric.type == "counter")


@dataclass(frozen=True)
class Alert:
    device_id: str
    kind: str
    metric: str | None
    check: str
    value: float | None
    observed_at: datetime
    msg_id: str | None
    message_zh: str
    message_en: str


def _fmt(value: float | None, metric: Metric | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:g}"
    return f"{text} {metric.unit}" if metric is not None and metric.unit else text


def _local(moment: datetime) -> str:
    return moment.astimezone(KAIPING).strftime("%Y-%m-%d %H:%M:%S")


class RealtimeChecks:
    def __init__(
        self,
        devices: Mapping[str, Device],
        *,
        offline_minutes: float = OFFLINE_MINUTES,
        stuck_minutes: float | None = None,
    ):
        self.devices = devices
        self.offline_minutes = offline_minutes
        self.stuck_minutes = stuck_minutes
        self.watermark: datetime | None = None
        self.state: dict[str, dict] = {}

    # -- state -----------------------------------------------------------------------------
    def snapshot(self) -> dict:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        devices = {}
        for device_id, dev in self.state.items():
            devices[device_id] = {
                "last_seen": iso(dev["last_seen"]),
                "last_msg": dev["last_msg"],
                "offline_alerted": iso(dev["offline_alerted"]),
                "metrics": {
                    name: {**m, "bt": iso(m["bt"]), "st": iso(m["st"])}
                    for name, m in dev["metrics"].items()
                },
            }
        return {"watermark": iso(self.watermark), "devices": devices}

    def restore(self, snapshot: Mapping | None) -> None:
        def dt(value: str | None) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        self.state = {}
        self.watermark = None
        if not snapshot:
            return
        self.watermark = dt(snapshot.get("watermark"))
        for device_id, dev in snapshot.get("devices", {}).items():
            self.state[device_id] = {
                "last_seen": dt(dev["last_seen"]),
                "last_msg": dev["last_msg"],
                "offline_alerted": dt(dev["offline_alerted"]),
                "metrics": {
                    name: {**m, "bt": dt(m["bt"]), "st": dt(m["st"])}
                    for name, m in dev["metrics"].items()
                },
            }

    # -- checks ----------------------------------------------------------------------------
    def _device_state(self, device_id: str) -> dict:
        return self.state.setdefault(
            device_id,
            {"last_seen": None, "last_msg": None, "offline_alerted": None, "metrics": {}},
        )

    def out_of_range(self, error: MalformedMessage) -> list[Alert]:
        """The ``range`` alert for a quarantined out-of-range reading."""
        reading = error.reading
        if reading is None or error.field is None:
            return []
        device = self.devices[reading.device_id]
        metric = device.metric(error.field)
        assert metric is not None
        value = reading.metrics[error.field]
        return [
            Alert(
                reading.device_id,
                reading.kind,
                metric.name,
                "range",
                float(value),
                reading.observed_at,
                reading.msg_id,
                f"{reading.device_id} {metric.label_zh}读数 {_fmt(value, metric)} "
                f"超出有效范围 {metric.valid_range()}，该条数据已隔离",
                f"{reading.device_id} {metric.name} reading {_fmt(value, metric)} is outside "
                f"the valid range {metric.valid_range()}; the message is quarantined",
            )
        ]

    def offline_after(self, device_id: str) -> timedelta:
        device = self.devices.get(device_id)
        interval = device.interval_minutes if device is not None else 1.0
        return timedelta(minutes=max(self.offline_minutes, OFFLINE_INTERVALS * interval))

    def observe(self, reading: Reading) -> list[Alert]:
        """Check a landed reading and move the state forward."""
        alerts: list[Alert] = []
        dev = self._device_state(reading.device_id)
        at = reading.observed_at
        last = dev["last_seen"]
        late = last is not None and at <= last
        gap = None if last is None else at - last
        silent = gap is not None and gap > self.offline_after(reading.device_id)
        if not late and silent and dev["offline_alerted"] != last:
            alerts.append(self._offline_alert(reading.device_id, reading.kind, dev))
        if not late:
            device = self.devices[reading.device_id]
            for name, value in reading.metrics.items():
                metric = device.metric(name)
                if metric is None or metric.is_state:
                    continue
                alerts.extend(self._metric_checks(reading, metric, float(value), dev))
            dev["last_seen"] = at
            dev["last_msg"] = reading.msg_id
        if self.watermark is None or at > self.watermark:
            self.watermark = at
        return alerts

    def _metric_checks(self, reading: Reading, metric: Metric, value: float, dev: dict):
        rule = rule_for(metric, self.stuck_minutes)
        fresh = {"bv": None, "bt": None, "suspect": False, "sv": None, "st": None, "sn": 0}
        fresh["sa"] = False
        m = dev["metrics"].setdefault(metric.name, fresh)
        at = reading.observed_at
        if m["bv"] is not None and (rule.max_rate is not None or rule.counter):
            minutes = max((at - m["bt"]).total_seconds() / 60.0, 1.0)
            change = value - m["bv"]
            too_fast = rule.max_rate is not None and abs(change) > rule.max_rate * minutes
            backwards = rule.counter and change < 0
            if (too_fast or backwards) and not m["suspect"]:
                m["suspect"] = True
                yield self._rate_alert(reading, metric, rule, m["bv"], value, minutes, backwards)
            else:  # a plausible change, or the second jump in a row: a new level
                m["bv"], m["bt"], m["suspect"] = value, at, False
        else:
            m["bv"], m["bt"] = value, at

        if value != m["sv"]:
            m["sv"], m["st"], m["sn"], m["sa"] = value, at, 1, False
            return
        m["sn"] += 1
        if (
            rule.stuck_minutes is not None
            and not m["sa"]
            and m["sn"] >= STUCK_MIN_READINGS
            and (at - m["st"]).total_seconds() / 60.0 >= rule.stuck_minutes
        ):
            m["sa"] = True
            since = _local(m["st"])
            yield Alert(
                reading.device_id,
                reading.kind,
                metric.name,
                "stuck",
                value,
                at,
                reading.msg_id,
                f"{reading.device_id} {metric.label_zh}自 {since} 起读数一直为 "
                f"{_fmt(value, metric)}（不少于 {rule.stuck_minutes:g} 分钟），疑似传感器卡滞",
                f"{reading.device_id} {metric.name} has read {_fmt(value, metric)} since "
                f"{since} ({rule.stuck_minutes:g} min or more): the sensor may be stuck",
            )

    def _rate_alert(
        self,
        reading: Reading,
        metric: Metric,
        rule: Rule,
        before: float,
        value: float,
        minutes: float,
        backwards: bool,
    ) -> Alert:
        if backwards:
            zh = (
                f"{reading.device_id} {metric.label_zh}（累计值）倒退：{_fmt(before)} → "
                f"{_fmt(value, metric)}"
            )
            en = (
                f"{reading.device_id} {metric.name} (a counter) went backwards: "
                f"{_fmt(before)} → {_fmt(value, metric)}"
            )
        else:
            zh = (
                f"{reading.device_id} {metric.label_zh}变化过快：{_fmt(before)} → "
                f"{_fmt(value, metric)}（{minutes:g} 分钟内，限值每分钟 "
                f"{_fmt(rule.max_rate)}），疑似异常跳变"
            )
            en = (
                f"{reading.device_id} {metric.name} changed too fast: {_fmt(before)} → "
                f"{_fmt(value, metric)} in {minutes:g} min (limit {_fmt(rule.max_rate)} per "
                f"minute): a spike?"
            )
        return Alert(
            reading.device_id,
            reading.kind,
            metric.name,
            "rate_of_change",
            value,
            reading.observed_at,
            reading.msg_id,
            zh,
            en,
        )

    def _offline_alert(self, device_id: str, kind: str, dev: dict) -> Alert:
        last = dev["last_seen"]
        dev["offline_alerted"] = last
        minutes = f"{self.offline_after(device_id).total_seconds() / 60:g}"
        return Alert(
            device_id,
            kind,
            None,
            "offline",
            None,
            last,
            dev["last_msg"],
            f"设备 {device_id} 自 {_local(last)} 起超过 {minutes} 分钟无数据，疑似离线",
            f"device {device_id} sent nothing for more than {minutes} minutes after "
            f"{_local(last)}: offline?",
        )

    def sweep(self) -> list[Alert]:
        """``offline`` alerts for devices the watermark has left behind."""
        if self.watermark is None:
            return []
        alerts = []
        for device_id, dev in self.state.items():
            last = dev["last_seen"]
            if (
                last is not None
                and device_id in self.devices
                and self.watermark - last > self.offline_after(device_id)
                and dev["offline_alerted"] != last
            ):
                alerts.append(self._offline_alert(device_id, self.devices[device_id].kind, dev))
        return alerts
