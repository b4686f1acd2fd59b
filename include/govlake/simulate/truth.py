"""The truth file: every injected defect, so that quality checks can be scored.

``<simulation_dir>/truth/day=<D>.jsonl`` lists the defects present in what day D delivers
(that day's database delta or API window, that day's files), one JSON object per defect::

    {"day": 3, "resource": "civil.low_income", "key": "MZ0000012", "row": 12,
     "field": "id_number", "defect": "bad_check_char", "value": "44078319..."}

* ``key``: the record's primary-key value (the duplicate's own key for ``duplicate``;
  null for ``schema_drift``).
* ``row``: 1-based data row within the file (header excluded; for JSON documents the
  index in ``records``); null for database and API sources.
* ``field``: the damaged field (the key field for ``duplicate``, the new column for
  ``schema_drift``, null for a whole damaged line).
* ``value``: the value as delivered (the original key for ``duplicate``, a description
  for ``malformed_row`` and ``wrong_encoding``).

``conflict`` records (a person attribute another department records differently from the
police register, see :mod:`govlake.simulate.conflicts`) carry two more keys::

    {"day": 1, "resource": "hrss.social_insurance", "key": "SB0000001234", "row": null,
     "field": "name", "defect": "conflict", "value": "关健华",
     "authoritative_value": "关建华", "id_number": "440783195003120010"}

* ``value``: the other department's value, as delivered;
* ``authoritative_value``: the police register's value (police ``person``, the
  authoritative source of the attribute);
* ``id_number``: the person's citizen identity number, to join the two departments.

``day=<D>.summary.json`` counts rows and defects per resource and names the files and
their encodings. A clean run (``defects=False``) writes an empty truth file.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from govlake import config
from govlake.simulate.writers import write_file


def truth_dir() -> Path:
    return config.simulation_dir() / "truth"


def truth_path(day: int) -> Path:
    return truth_dir() / f"day={day}.jsonl"


def summary_path(day: int) -> Path:
    return truth_dir() / f"day={day}.summary.json"


def _json_safe(value: object) -> object:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def record(
    day: int,
    resource: str,
    key: str | None,
    row: int | None,
    field: str | None,
    defect: str,
    value: object,
    extra: dict | None = None,
) -> dict:
    """One truth record; ``extra`` adds keys after ``value`` (``conflict`` records)."""
    item = {
        "day": day,
        "resource": resource,
        "key": key,
        "row": row,
        "field": field,
        "defect": defect,
        "value": _json_safe(value),
    }
    for name, extra_value in (extra or {}).items():
        item[name] = _json_safe(extra_value)
    return item


def write_day(day: int, records: list[dict], summary: dict) -> Path:
    """Write the truth and summary files of ``day``; returns the truth file's path."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    path = truth_path(day)
    write_file(path, lines.encode("utf-8"))
    body = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    write_file(summary_path(day), body.encode("utf-8"))
    return path


def read_truth(day: int) -> list[dict]:
    """The defect records of ``day`` (for checks and tests)."""
    text = truth_path(day).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def read_summary(day: int) -> dict:
    return json.loads(summary_path(day).read_text(encoding="utf-8"))
