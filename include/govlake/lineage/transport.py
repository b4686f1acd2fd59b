"""Where OpenLineage events go: one transport for every emitter of the platform.

The Airflow provider, the dbt tasks (through cosmos and the provider) and the platform's
own extract, load, quality and stream steps all send their events through the same
OpenLineage client configuration:

- embedded default: :class:`LineageFile`, one JSON event per line appended to
  ``$GOVLAKE_HOME/lineage/events.jsonl`` (resolved when each event is sent, so one
  process can serve several platform homes, as the tests do);
- docker-compose / services: ``GOVLAKE_LINEAGE_TRANSPORT`` holds an OpenLineage
  transport configuration as JSON, e.g. a ``composite`` of this file transport and
  ``{"type": "http", "url": "http://marquez:5000"}`` so Marquez receives the events and
  the metadata store still harvests them.
"""

from __future__ import annotations

import fcntl
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openlineage.client.serde import Serde
from openlineage.client.transport.transport import Config, Transport

from govlake import config

DEFAULT_TRANSPORT = {"type": "govlake.lineage.transport.LineageFile"}


def events_file() -> Path:
    """The append-only log of every event emitted under this platform home."""
    return config.home() / "lineage" / "events.jsonl"


def transport_config() -> dict[str, Any]:
    """The OpenLineage transport configuration (``GOVLAKE_LINEAGE_TRANSPORT`` as JSON)."""
    raw = config.lineage_transport()
    if not raw:
        return dict(DEFAULT_TRANSPORT)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise config.ConfigError(
            f"GOVLAKE_LINEAGE_TRANSPORT is not JSON ({error}); expected an OpenLineage "
            'transport such as {"type": "http", "url": "http://marquez:5000"}'
        ) from None
    if not isinstance(parsed, dict) or "type" not in parsed:
        raise config.ConfigError("GOVLAKE_LINEAGE_TRANSPORT must be a JSON object with a 'type'")
    return parsed


@dataclass
class LineageFileConfig(Config):
    path: str | None = None  # default: events_file() of the current platform home

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> LineageFileConfig:
        return cls(path=params.get("path"))


class LineageFile(Transport):
    """Append each event as one JSON line; concurrent writers serialise on a file lock."""

    kind = "govlake_file"
    config_class = LineageFileConfig

    def __init__(self, config: LineageFileConfig) -> None:
        self.config = config

    def emit(self, event: Any) -> None:
        path = Path(self.config.path) if self.config.path else events_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        line = Serde.to_json(event).replace("\n", " ") + "\n"
        with open(path, "a", encoding="utf-8") as log:
            fcntl.flock(log, fcntl.LOCK_EX)
            try:
                log.write(line)
                log.flush()
            finally:
                fcntl.flock(log, fcntl.LOCK_UN)
