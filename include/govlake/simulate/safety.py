"""Safety production (安全生产, emergency): inspections of enterprises, hazards, follow-ups.

The emergency management bureau's enforcement brigade (执法监察大队) and the towns' emergency
offices (镇街应急管理办公室) inspect active enterprises of the market registry: routine
inspections (日常检查) and special campaigns (专项检查, by the brigade). Hazardous
industries are inspected several times a year — dyeing (C17), ceramics (C30), hardware and
valves (C33, C34), other manufacturing, construction (E47), road transport (G54) — hotels
and restaurants (gas) about once or twice, shops, farms and services less than once;
individual businesses less often than companies (:data:`PROFILES`). Hazardous industries
also have more and graver hazards.

An inspection finding hazards orders their rectification by a due date (限期整改) or, with
a major hazard, often stops production (停产整顿); ``hazard_level`` is the gravest level
found (一般/较大/重大, empty when none). The life of the hazards is decided when they are
found: the day the enterprise rectifies them — mostly before the due date, some up to a
month late, a few months late. A follow-up (复查) comes 1-5 days after the rectification
or, when the enterprise is late, 1-7 days after the due date (and one in ten is 5-25
days later still: the office is behind). A follow-up that still finds hazards orders a new
deadline and another follow-up; the one that finds them rectified sets ``rectified_date``
on every inspection of that chain, which updates them. An enterprise closed before its
follow-up is never followed up: its hazards stay open. At any time some rectifications
are therefore overdue — past ``rectification_due`` without ``rectified_date`` — and some
were rectified late (``rectified_date`` after ``rectification_due``).

Day 1 carries the inspections of the twelve months before it (from
:func:`~govlake.simulate.calendar.history_start`) in their state as of day 1; every later
day carries the inspections made that day and the earlier ones it updated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar

from govlake.simulate import names
from govlake.simulate.calendar import history_start, is_working_day
from govlake.simulate.city import City, random_date, random_time, stochastic_round
from govlake.simulate.economy import Enterprise
from govlake.simulate.schema import Record

RESOURCE = "emergency.safety_inspection"
BRIGADE = "开平市应急管理局执法监察大队"
ROUTINE, SPECIAL, FOLLOW_UP = "日常检查", "专项检查", "复查"
PASSED, RECTIFY, SUSPEND = "合格", "限期整改", "停产整顿"
GENERAL, SERIOUS, MAJOR = "一般", "较大", "重大"
INSPECTION_TYPES = (ROUTINE, SPECIAL, FOLLOW_UP)
RESULTS = (PASSED, RECTIFY, SUSPEND)
HAZARD_LEVELS = (GENERAL, SERIOUS, MAJOR)

# (GB/T 4754-2017 industry code prefix, inspections a year, P(hazards found),
#  P(a major hazard among them)); the first matching prefix applies
PROFILES: tuple[tuple[str, float, float, float], ...] = (
    ("C17", 6.0, 0.65, 0.10),  # printing and dyeing: chemicals, boilers
    ("C30", 5.0, 0.60, 0.08),  # ceramics and sanitary ware: kilns, dust
    ("C33", 5.0, 0.60, 0.08),  # hardware: combustible metal dust, polishing
    ("C34", 4.0, 0.55, 0.06),  # valves: casting
    ("C", 3.0, 0.50, 0.04),  # other manufacturing (garments, food)
    ("E47", 4.0, 0.60, 0.08),  # construction
    ("E", 2.0, 0.45, 0.04),  # decoration
    ("G54", 3.0, 0.45, 0.05),  # road transport
    ("H", 1.5, 0.35, 0.02),  # hotels, restaurants: gas
    ("", 0.6, 0.25, 0.01),  # shops, farms, tourism, services
)
INDIVIDUAL_FACTOR = 0.4  # individual businesses are inspected less often
SPECIAL_SHARE = 0.25  # of the routine-or-special inspections: special campaigns
TOWN_OFFICE_SHARE = 0.7  # of the routine inspections: by the town's emergency office
WORKING_DAYS_PER_YEAR = 261
# when the enterprise rectifies: on time (by the due date), late (1-30 days), else
# months late (31-150 days)
ON_TIME, LATE = 0.78, 0.17
BEHIND_SHARE = 0.1  # follow-ups 5-25 days later than planned
DUE_DAYS = {GENERAL: (7, 20), SERIOUS: (15, 30), MAJOR: (30, 60)}


@dataclass(slots=True)
class Inspection(Record):
    RESOURCE: ClassVar[str] = RESOURCE

    inspection_id: str
    uscc: str
    inspection_date: date
    inspector_unit: str
    inspection_type: str
    hazards_found: int
    major_hazards: int
    hazard_level: str | None
    rectification_due: date | None
    rectified_date: date | None
    result: str
    updated_at: datetime


@dataclass(slots=True)
class Chain:
    """Hazards waiting for a follow-up: the inspections that found them, oldest first."""

    uscc: str
    unit: str
    inspections: list[str]
    hazards: int
    major: int
    level: str
    rectified_on: date  # the day the enterprise rectifies them


def profile(enterprise: Enterprise) -> tuple[float, float, float]:
    """(inspections a year, P(hazards), P(major | hazards)) of an enterprise."""
    for prefix, rate, hazard, major in PROFILES:
        if enterprise.industry_code.startswith(prefix):
            factor = INDIVIDUAL_FACTOR if enterprise.entity_type == "个体工商户" else 1.0
            return rate * factor, hazard, major
    raise AssertionError("the last profile matches every industry")


def active_on(enterprise: Enterprise, on: date) -> bool:
    """Whether the enterprise existed and was not closed on ``on``."""
    closed = enterprise.closed_date
    return enterprise.established_date <= on and (closed is None or closed > on)


def working_day(value: date) -> date:
    """``value``, or the next working day."""
    while not is_working_day(value):
        value += timedelta(days=1)
    return value


def _unit(rng: random.Random, enterprise: Enterprise, kind: str) -> str:
    if kind == SPECIAL or rng.random() >= TOWN_OFFICE_SHARE:
        return BRIGADE
    return f"{names.CITY}{names.town_by_code(enterprise.town_code).name}应急管理办公室"


def _findings(rng: random.Random, hazard_p: float, major_p: float) -> tuple[int, int]:
    """(hazards, major hazards) an inspection finds."""
    if rng.random() >= hazard_p:
        return 0, 0
    hazards = min(12, 1 + int(rng.expovariate(0.6)))
    major = 0
    if rng.random() < major_p:
        major = min(hazards, 1 if rng.random() < 0.8 else 2)
    return hazards, major


def _level(rng: random.Random, hazards: int, major: int) -> str | None:
    if hazards == 0:
        return None
    if major:
        return MAJOR
    return SERIOUS if hazards >= 4 or rng.random() < 0.15 else GENERAL


def _inspect(
    city: City,
    rng: random.Random,
    enterprise: Enterprise,
    on: date,
    kind: str,
    when: datetime,
    chain: Chain | None = None,
    hazards: tuple[int, int] | None = None,
) -> Inspection:
    """A new inspection of ``enterprise`` on ``on`` (a follow-up of ``chain`` if given)."""
    _, hazard_p, major_p = profile(enterprise)
    unit = chain.unit if chain else _unit(rng, enterprise, kind)
    found, major = hazards if hazards is not None else _findings(rng, hazard_p, major_p)
    if found == 0:
        level, due, result = None, None, PASSED
    else:
        level = chain.level if chain else _level(rng, found, major)
        low, high = DUE_DAYS[level]
        due = on + timedelta(days=rng.randint(low, high))
        result = SUSPEND if major and (chain or rng.random() < 0.6) else RECTIFY
    inspection = Inspection(
        inspection_id=f"AJ{on:%Y}{city.next_id('inspection'):07d}",
        uscc=enterprise.uscc,
        inspection_date=on,
        inspector_unit=unit,
        inspection_type=kind,
        hazards_found=found,
        major_hazards=major,
        hazard_level=level,
        rectification_due=due,
        rectified_date=None,
        result=result,
        updated_at=when,
    )
    city.inspections[inspection.inspection_id] = inspection
    return inspection


def _plan_follow_up(city: City, rng: random.Random, chain: Chain, due: date) -> None:
    if chain.rectified_on <= due:
        visit = chain.rectified_on + timedelta(days=rng.randint(1, 5))
    else:
        visit = due + timedelta(days=rng.randint(1, 7))
    if rng.random() < BEHIND_SHARE:
        visit += timedelta(days=rng.randint(5, 25))
    city.follow_ups[working_day(visit)].append(chain)


def _open_chain(city: City, rng: random.Random, inspection: Inspection) -> None:
    """Decide when the hazards ``inspection`` found are rectified; plan the follow-up."""
    due = inspection.rectification_due
    assert due is not None and inspection.hazard_level is not None
    roll = rng.random()
    if roll < ON_TIME:
        rectified = random_date(rng, inspection.inspection_date + timedelta(days=1), due)
    elif roll < ON_TIME + LATE:
        rectified = due + timedelta(days=rng.randint(1, 30))
    else:
        rectified = due + timedelta(days=rng.randint(31, 150))
    chain = Chain(
        uscc=inspection.uscc,
        unit=inspection.inspector_unit,
        inspections=[inspection.inspection_id],
        hazards=inspection.hazards_found,
        major=inspection.major_hazards,
        level=inspection.hazard_level,
        rectified_on=rectified,
    )
    _plan_follow_up(city, rng, chain, due)


def _follow_up(city: City, rng: random.Random, chain: Chain, on: date, when: datetime) -> list[str]:
    """The follow-up of ``chain`` on ``on``; returns the keys of the inspections it changed."""
    enterprise = city.enterprises[chain.uscc]
    if not active_on(enterprise, on):
        return []  # closed meanwhile: never followed up, the hazards stay open
    if chain.rectified_on <= on:
        visit = _inspect(city, rng, enterprise, on, FOLLOW_UP, when, chain, (0, 0))
        for key in chain.inspections:
            inspection = city.inspections[key]
            inspection.rectified_date = chain.rectified_on
            inspection.updated_at = when
        return [visit.inspection_id, *chain.inspections]
    remaining = max(chain.major, rng.randint(1, chain.hazards))
    visit = _inspect(city, rng, enterprise, on, FOLLOW_UP, when, chain, (remaining, chain.major))
    chain.inspections.append(visit.inspection_id)
    assert visit.rectification_due is not None
    _plan_follow_up(city, rng, chain, visit.rectification_due)
    return [visit.inspection_id]


def _kind(rng: random.Random) -> str:
    return SPECIAL if rng.random() < SPECIAL_SHARE else ROUTINE


def build(city: City) -> None:
    """The inspections of the twelve months before day 1, in their state as of day 1."""
    rng = city.rng("emergency")
    start, ref = history_start(), city.reference_date()
    planned: dict[date, list[tuple[Enterprise, str]]] = {}
    for enterprise in city.enterprise_seq:
        first = max(start, enterprise.established_date)
        last = ref
        if enterprise.closed_date is not None:
            last = min(ref, enterprise.closed_date - timedelta(days=1))
        if first > last:
            continue
        rate = profile(enterprise)[0] * ((last - first).days + 1) / 365
        for _ in range(stochastic_round(rate * rng.uniform(0.6, 1.4), rng)):
            on = working_day(random_date(rng, first, last))
            kind = _kind(rng)
            if on <= last:
                planned.setdefault(on, []).append((enterprise, kind))
    on = start
    while on <= ref:
        for chain in city.follow_ups.pop(on, []):
            _follow_up(city, rng, chain, on, random_time(rng, on))
        for enterprise, kind in planned.pop(on, []):
            inspection = _inspect(city, rng, enterprise, on, kind, random_time(rng, on))
            if inspection.hazards_found:
                _open_chain(city, rng, inspection)
        on += timedelta(days=1)
    for key in city.inspections:
        city.log_initial(RESOURCE, key)


def daily(city: City) -> None:
    """The day's follow-ups, then (on working days) its routine and special inspections."""
    rng = city.rng("emergency", city.day)
    today = city.date
    for chain in city.follow_ups.pop(today, []):
        when = city.when(rng)
        for key in _follow_up(city, rng, chain, today, when):
            city.touch(RESOURCE, key, city.inspections[key], when)
    if not is_working_day(today):
        return
    active = [e for e in city.enterprise_seq if active_on(e, today)]
    cumulative, total = [], 0.0
    for enterprise in active:
        total += profile(enterprise)[0]
        cumulative.append(total)
    for _ in range(stochastic_round(total / WORKING_DAYS_PER_YEAR, rng) if active else 0):
        enterprise = rng.choices(active, cum_weights=cumulative)[0]
        when = city.when(rng)
        inspection = _inspect(city, rng, enterprise, today, _kind(rng), when)
        city.touch(RESOURCE, inspection.inspection_id, inspection, when)
        if inspection.hazards_found:
            _open_chain(city, rng, inspection)
