"""The 12345 hotline: tickets and their life (created, handled, closed, rated).

Tickets are created every day (proportional to the population, at least ~30 a day) and
the whole life of a ticket is decided when it is created: the handling department, the
due time (N working days), when it is closed (most on time, some overdue, some open for
weeks) and the caller's satisfaction (1-5) once closed. The hotline store as of day D
holds each ticket's latest version stamped before the end of day D.

Day 1 carries the tickets of the 30 days before it as well (created from 2026-10-02).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from govlake.simulate import names
from govlake.simulate.calendar import add_working_days, date_of_day, day_end, day_of
from govlake.simulate.city import City, random_time, stochastic_round
from govlake.simulate.schema import catalog_row

RESOURCE = "govdata.hotline_ticket"
TICKETS_PER_PERSON_DAY = 0.001
MIN_TICKETS_PER_DAY = 30
HISTORY_DAYS = 30  # days before day 1 whose tickets day 1 carries
OPEN, CLOSED = "办理中", "已办结"


@dataclass(slots=True)
class Ticket:
    ticket_id: str
    created_at: datetime
    category: str
    content: str
    caller_phone: str | None
    town_code: str | None
    address: str | None
    handling_department: str
    due_at: datetime
    opened_at: datetime  # stamp of the first version (dispatched, 办理中)
    closed_at: datetime
    closed_stamp: datetime  # stamp of the closed version (after the rating)
    satisfaction: int | None

    def row_as_of(self, limit: datetime) -> dict | None:
        """The ticket's latest version stamped before ``limit`` (None: not yet created)."""
        if self.opened_at >= limit:
            return None
        closed = self.closed_stamp < limit
        version = {
            "status": CLOSED if closed else OPEN,
            "closed_at": self.closed_at if closed else None,
            "satisfaction": self.satisfaction if closed else None,
            "updated_at": self.closed_stamp if closed else self.opened_at,
        }
        return catalog_row(RESOURCE, self, version)


def _same_day(stamp: datetime, moved: datetime) -> datetime:
    """``moved`` clamped to the calendar day of ``stamp``."""
    last = datetime.combine(stamp.date(), datetime.min.time()) + timedelta(seconds=86399)
    return min(moved, last)


def _department(rng: random.Random, category: str, town: names.Town) -> str:
    department = names.HOTLINE_TOPICS[category][1]
    if department is not None:
        return department
    if town.kind == "街道":
        if rng.random() < 0.5:
            return "开平市城市管理和综合执法局"
        return f"开平市人民政府{town.name}办事处"
    return f"开平市{town.name}人民政府"


def _caller_phone(city: City, rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.75:
        people = city.person_seq
        for _ in range(50):
            person = people[rng.randrange(len(people))]
            if person.alive and person.phone:
                return person.phone
    return names.mobile(rng)


def _new_ticket(city: City, rng: random.Random, day: int, seq: int) -> Ticket:
    on = date_of_day(day)
    created = random_time(rng, on, 0, 7) if rng.random() < 0.05 else random_time(rng, on, 7, 23)
    category = names.weighted(rng, [(c, t[0]) for c, t in names.HOTLINE_TOPICS.items()])
    _, _, due_days, templates = names.HOTLINE_TOPICS[category]
    town = names.pick_town(rng)
    place = f"{town.name}{rng.choice(names.LOCALITIES[town.code])}{rng.choice(names.ROADS)}路"
    due_at = add_working_days(created, due_days)
    roll = rng.random()
    if roll < 0.78:
        closed_at = created + (due_at - created) * rng.uniform(0.05, 0.95)
        weights = [(5, 55), (4, 20), (3, 10), (2, 5), (1, 10)]
    elif roll < 0.92:
        closed_at = due_at + timedelta(minutes=rng.randint(60, 14400))
        weights = [(5, 30), (4, 20), (3, 20), (2, 10), (1, 20)]
    else:
        closed_at = due_at + timedelta(days=rng.uniform(10, 40))
        weights = [(5, 20), (4, 15), (3, 20), (2, 15), (1, 30)]
    # handlers close tickets during working hours
    closed_at = random_time(rng, closed_at.date(), 8.5, 21)
    opened = _same_day(created, created + timedelta(minutes=rng.randint(1, 40)))
    if closed_at <= opened:
        closed_at = _same_day(opened, opened + timedelta(minutes=rng.randint(30, 240)))
        closed_at = max(closed_at, opened + timedelta(seconds=1))
    ticket = Ticket(
        ticket_id=f"GD{on:%Y%m%d}{seq:05d}",
        created_at=created,
        category=category,
        content=rng.choice(templates).format(place=place),
        caller_phone=_caller_phone(city, rng),
        town_code=town.code,
        address=names.address(rng, town) if rng.random() < 0.9 else None,
        handling_department=_department(rng, category, town),
        due_at=due_at,
        opened_at=opened,
        closed_at=closed_at,
        closed_stamp=_same_day(closed_at, closed_at + timedelta(minutes=rng.randint(0, 90))),
        satisfaction=names.weighted(rng, weights) if rng.random() < 0.8 else None,
    )
    city.tickets[ticket.ticket_id] = ticket
    city.ticket_events[day_of(ticket.opened_at.date())].append(ticket.ticket_id)
    city.ticket_events[day_of(ticket.closed_stamp.date())].append(ticket.ticket_id)
    return ticket


def _create_day(city: City, day: int) -> None:
    rng = city.rng("hotline", day)
    weekday = date_of_day(day).weekday() < 5
    expected = city.scale * TICKETS_PER_PERSON_DAY * (1.0 if weekday else 0.7)
    floor = MIN_TICKETS_PER_DAY + rng.randint(0, 12 if weekday else 4)
    count = max(floor, stochastic_round(expected * rng.uniform(0.85, 1.15), rng))
    for seq in range(1, count + 1):
        _new_ticket(city, rng, day, seq)


def build(city: City) -> None:
    for day in range(1 - HISTORY_DAYS, 1):
        _create_day(city, day)
    for ticket_id in city.tickets:
        city.log_initial(RESOURCE, ticket_id)


def daily(city: City) -> None:
    _create_day(city, city.day)
    for ticket_id in city.ticket_events.get(city.day, []):
        city.changes[RESOURCE][ticket_id] = None


def store_rows(city: City) -> list[dict]:
    """The hotline store as of the end of the current day, ordered by ticket_id."""
    limit = day_end(city.day)
    rows = [t.row_as_of(limit) for t in city.tickets.values()]
    return [row for row in rows if row is not None]
