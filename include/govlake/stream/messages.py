"""The sensor message contract: topic, payload, and a parser that says what is wrong.

Topic: ``kaiping/sensors/<kind>/<device_id>`` (the root is configurable so that tests and
staging brokers can keep apart; the last two levels are always kind and device).

Payload, UTF-8 JSON, one reading per message::

    {"msg_id": "KP-AQ-001-1042", "device_id": "KP-AQ-001", "kind": "air_quality",
     "seq": 1042, "observed_at": "2026-11-01T08:17:00+08:00",
     "metrics": {"pm25": 38.2, "pm10": 61.0, "temperature": 21.35}}

(the device ids are the catalog's: ``include/catalog/devices.yaml``)

- ``msg_id`` is ``<device_id>-<seq>``: the device's own message counter makes it unique
  and stable across resends — it is the deduplication key.
- ``observed_at`` is ISO 8601 with its UTC offset (devices send +08:00); a time without
  an offset is refused, since it could mean anything.
- ``metrics`` maps metric names of the device's kind to numbers (gauges, counters) or
  integer codes (states such as ``lamp_state``); a device may leave some out, not add
  unknown ones.

``parse`` returns a ``Reading`` or raises ``MalformedMessage`` with a stable ``code`` (see
``REASONS``) and a detail naming the field and value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from govlake.stream.devices import KINDS, Device

TOPIC_ROOT = "kaiping/sensors"
KAIPING = ZoneInfo("Asia/Shanghai")
REQUIRED = ("msg_id", "device_id", "kind", "seq", "observed_at", "metrics")

REASONS = {
    "bad_topic": "the topic is not <root>/<kind>/<device_id>",
    "not_utf8": "the payload is not UTF-8 text",
    "not_json": "the payload is not JSON",
    "not_object": "the payload is JSON but not an object",
    "missing_field": "a required field is missing",
    "wrong_type": "a field has the wrong type",
    "bad_timestamp": "observed_at is not an ISO 8601 time with a UTC offset",
    "bad_msg_id": "msg_id is not <device_id>-<seq>",
    "topic_mismatch": "the topic names another kind or device than the payload",
    "unknown_device": "the device is not in the device catalog",
    "kind_mismatch": "the device catalog gives the device another kind",
    "unknown_metric": "a metric the device's catalog entry does not have",
    "no_metrics": "the message carries no metric",
    "out_of_range": "a value outside the metric's valid range",
}


def topic_for(kind: str, device_id: str, root: str = TOPIC_ROOT) -> str:
    return f"{root}/{kind}/{device_id}"


def subscription(root: str = TOPIC_ROOT) -> str:
    return f"{root}/+/+"


@dataclass(frozen=True)
class Reading:
    msg_id: str
    device_id: str
    kind: str
    seq: int
    observed_at: datetime
    metrics: dict[str, float | int] = field(hash=False)


class MalformedMessage(ValueError):
    """Why a message cannot be a reading. ``kind``/``device_id``/``msg_id`` are what could
    be read of them (for routing and the quarantine record); ``reading`` is set for
    ``out_of_range`` (the message is otherwise sound, and the range check alerts on it)."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        kind: str | None = None,
        device_id: str | None = None,
        msg_id: str | None = None,
        reading: Reading | None = None,
        value: object = None,
    ):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.field = field
        self.kind = kind
        self.device_id = device_id
        self.msg_id = msg_id
        self.reading = reading
        self.value = value

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


def payload(
    device_id: str, kind: str, seq: int, observed_at: datetime, metrics: Mapping[str, object]
) -> dict:
    """A message as the contract has it (``observed_at`` in Kaiping time, +08:00)."""
    return {
        "msg_id": f"{device_id}-{seq}",
        "device_id": device_id,
        "kind": kind,
        "seq": seq,
        "observed_at": observed_at.astimezone(KAIPING).isoformat(timespec="seconds"),
        "metrics": dict(metrics),
    }


def encode(message: Mapping[str, object]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _topic_parts(topic: str) -> tuple[str | None, str | None]:
    parts = topic.split("/")
    if len(parts) < 3 or not parts[-1] or not parts[-2]:
        return None, None
    return parts[-2], parts[-1]


def parse(topic: str, data: bytes, devices: Mapping[str, Device]) -> Reading:
    """The reading in ``data`` received on ``topic``, judged against the device catalog."""
    topic_kind, topic_device = _topic_parts(topic)
    known_kind = topic_kind if topic_kind in KINDS else None

    def fail(code: str, detail: str, **extra) -> MalformedMessage:
        extra.setdefault("kind", known_kind)
        extra.setdefault("device_id", topic_device)
        return MalformedMessage(code, detail, **extra)

    if topic_kind is None:
        raise fail("bad_topic", f"topic {topic!r} does not end in <kind>/<device_id>")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail("not_utf8", f"byte {error.start} cannot be decoded as UTF-8") from None
    try:
        message = json.loads(text)
    except json.JSONDecodeError as error:
        raise fail("not_json", f"{error.msg} at line {error.lineno} column {error.colno}") from None
    if not isinstance(message, dict):
        raise fail("not_object", f"the payload is a JSON {type(message).__name__}")

    missing = [name for name in REQUIRED if name not in message]
    msg_id = message.get("msg_id") if isinstance(message.get("msg_id"), str) else None
    if missing:
        raise fail(
            "missing_field", f"missing {', '.join(missing)}", field=missing[0], msg_id=msg_id
        )
    for name in ("msg_id", "device_id", "kind", "observed_at"):
        if not isinstance(message[name], str) or not message[name]:
            raise fail(
                "wrong_type",
                f"{name} must be a non-empty string, not {_short(message[name])}",
                field=name,
                msg_id=msg_id,
            )
    seq = message["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise fail(
            "wrong_type",
            f"seq must be a non-negative integer, not {_short(seq)}",
            field="seq",
            msg_id=msg_id,
        )
    metrics = message["metrics"]
    if not isinstance(metrics, dict):
        raise fail(
            "wrong_type",
            f"metrics must be an object, not {_short(metrics)}",
            field="metrics",
            msg_id=msg_id,
        )

    device_id, kind = message["device_id"], message["kind"]
    ids = {"msg_id": msg_id, "device_id": device_id}
    if kind in KINDS:
        ids["kind"] = kind
    try:
        observed_at = datetime.fromisoformat(message["observed_at"])
    except ValueError:
        raise fail(
            "bad_timestamp",
            f"observed_at {_short(message['observed_at'])} is not an ISO 8601 time",
            field="observed_at",
            **ids,
        ) from None
    if observed_at.tzinfo is None:
        raise fail(
            "bad_timestamp",
            f"observed_at {_short(message['observed_at'])} has no UTC offset (devices send +08:00)",
            field="observed_at",
            **ids,
        )
    if msg_id != f"{device_id}-{seq}":
        raise fail(
            "bad_msg_id", f"msg_id {msg_id!r} is not {device_id}-{seq}", field="msg_id", **ids
        )
    if (topic_kind, topic_device) != (kind, device_id):
        raise fail(
            "topic_mismatch",
            f"topic says {topic_kind}/{topic_device}, payload says {kind}/{device_id}",
            field="device_id",
            **ids,
        )
    device = devices.get(device_id)
    if device is None:
        raise fail(
            "unknown_device",
            f"device {device_id!r} is not in the device catalog",
            field="device_id",
            **ids,
        )
    if device.kind != kind:
        raise fail(
            "kind_mismatch",
            f"device {device_id} is a {device.kind} device, the message says {kind}",
            field="kind",
            **ids,
        )
    if not metrics:
        raise fail("no_metrics", "metrics is empty", field="metrics", **ids)

    values: dict[str, float | int] = {}
    for name, value in metrics.items():
        metric = device.metric(name)
        if metric is None:
            raise fail(
                "unknown_metric",
                f"{kind} device {device_id} has no metric {name!r}",
                field=name,
                **ids,
            )
        if metric.is_state:
            if isinstance(value, bool) or not isinstance(value, int):
                raise fail(
                    "wrong_type",
                    f"{name} must be an integer state code, not {_short(value)}",
                    field=name,
                    **ids,
                )
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise fail(
                "wrong_type",
                f"{name} must be a finite number, not {_short(value)}",
                field=name,
                **ids,
            )
        values[name] = value if metric.is_state else float(value)

    reading = Reading(msg_id, device_id, kind, seq, observed_at, values)  # type: ignore[arg-type]
    for name, value in values.items():
        metric = device.metric(name)
        assert metric is not None
        if not metric.in_range(value):
            unit = f" {metric.unit}" if metric.unit else ""
            what = "its states" if metric.is_state else "its valid range"
            raise fail(
                "out_of_range",
                f"{name} = {value:g}{unit} is outside {what} {metric.valid_range()}",
                field=name,
                reading=reading,
                value=value,
                **ids,
            )
    return reading
