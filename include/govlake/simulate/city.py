"""The deterministic model of the city: its state and the replay of its days.

``City(scale, seed)`` holds every department's records as plain Python objects. ``advance``
moves it forward one day: day 1 builds the initial population (the state as of the end of
2026-10-31, with old timestamps) and then applies day 1's changes; every later day applies
that day's changes only. The state as of day D is therefore always "day 1 plus the
changes of days 2..D", and replaying from day 1 is the only way to reach it.

Randomness comes from ``random.Random`` objects seeded with strings derived from
``(seed, scale, topic, day)``; iteration is over lists and insertion-ordered dicts only, so
the same ``(scale, seed, day)`` always yields the same city. The model knows nothing about
defects: it is the clean truth that :mod:`govlake.simulate.defects` later damages.

Every change goes through :meth:`City.touch`, which stamps ``updated_at`` and records the
record's key in the day's change log, from which the daily deltas are cut.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from govlake.simulate import schema
from govlake.simulate.calendar import business_date, day_end, day_start

MIN_SCALE = 100

# catalog resource -> the City attribute holding its records by key (the hotline's tickets
# are delivered by version, see govlake.simulate.tickets)
RECORD_ATTRIBUTES = {
    "police.person": "persons",
    "police.household": "households",
    "police.residence_move": "moves",
    "market.enterprise": "enterprises",
    "hrss.social_insurance": "enrolments",
    "tax.tax_payment": "payments",
    "overseas.overseas_chinese": "roster",
    "civil.low_income": "low_income",
    "natres.real_estate": "real_estate",
    "govdata.e_licence": "licences",
    "emergency.safety_inspection": "inspections",
}


def stochastic_round(value: float, rng: random.Random) -> int:
    """``floor(value)`` plus one with probability ``frac(value)``: unbiased integer counts."""
    whole = int(value)
    return whole + (1 if rng.random() < value - whole else 0)


def random_date(rng: random.Random, start: date, end: date) -> date:
    """A uniformly random date in ``[start, end]``."""
    span = (end - start).days
    return start + timedelta(days=rng.randint(0, max(span, 0)))


def random_time(rng: random.Random, on: date, first_hour: float = 8.5, last_hour: float = 18):
    """A datetime on ``on`` between ``first_hour`` and ``last_hour`` (whole seconds)."""
    seconds = rng.randint(int(first_hour * 3600), int(last_hour * 3600) - 1)
    return datetime.combine(on, datetime.min.time()) + timedelta(seconds=seconds)


class City:
    """All departmental records of the simulated city, as of the last day advanced to."""

    def __init__(self, scale: int, seed: int) -> None:
        if scale < MIN_SCALE:
            raise ValueError(
                f"规模至少为{MIN_SCALE} scale must be at least {MIN_SCALE}, got {scale}"
            )
        self.scale = scale
        self.seed = seed
        self.day = 0
        # police
        self.persons: dict = {}
        self.households: dict = {}
        self.moves: dict = {}
        self.person_seq: list = []  # persons in registration order, for sampling
        self.id_numbers: set[str] = set()  # membership only, never iterated
        # market, hrss, tax
        self.enterprises: dict = {}
        self.enterprise_seq: list = []  # enterprises in registration order
        self.usccs: set[str] = set()  # membership only, never iterated
        self.legal_reps: dict[str, str | None] = {}  # uscc -> person_id of the legal rep
        self.jobs: list = []
        self.jobs_by_person: dict[str, list] = {}
        self.jobs_by_employer: dict[str, list] = {}
        self.enrolments: dict = {}
        self.payments: dict = {}
        self.payment_schedule: dict[date, list] = defaultdict(list)
        # civil, overseas, natres, govdata
        self.low_income: dict = {}
        self.recipient_people: set[str] = set()  # membership only, never iterated
        self.licences_by_holder: dict[str, list[str]] = {}
        self.roster: dict = {}
        self.real_estate: dict = {}
        self.licences: dict = {}
        self.tickets: dict = {}
        self.ticket_events: dict[int, list[str]] = defaultdict(list)
        # emergency: safety inspections, and the hazard chains awaiting a follow-up by date
        self.inspections: dict = {}
        self.follow_ups: dict[date, list] = defaultdict(list)
        # id counters by kind
        self.counters: dict[str, int] = defaultdict(int)
        # actions scheduled for a later day: day -> [(callable, args)]
        self.pending: dict[int, list[tuple[Callable, tuple]]] = defaultdict(list)
        # keys changed on the current day, per catalog resource (dicts keep first-change order)
        self.changes: dict[str, dict[str, None]] = {r: {} for r in schema.resources()}

    # --- helpers --------------------------------------------------------------------------

    def rng(self, *parts: object) -> random.Random:
        """A generator private to one topic (and day): ``Random("seed:scale:part:...")``."""
        return random.Random(":".join(str(p) for p in (self.seed, self.scale, *parts)))

    def next_id(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]

    @property
    def date(self) -> date:
        """The business date of the current day."""
        return business_date(self.day)

    def reference_date(self) -> date:
        """The last day before the simulation: the initial state is as of its end."""
        return business_date(1) - timedelta(days=1)

    def touch(self, resource: str, key: str, record, when: datetime) -> None:
        """Record a change of ``record`` (key ``key``) at ``when``: stamp and log it."""
        if self.day >= 1 and not day_start(self.day) <= when < day_end(self.day):
            # event times of day D must stay inside [D 00:00, D+1 00:00)
            raise AssertionError(f"{resource} {key}: {when} outside day {self.day}")
        if hasattr(record, "updated_at"):
            record.updated_at = when
        self.changes[resource][key] = None

    def log_initial(self, resource: str, key: str) -> None:
        """Put a record of the initial state (old timestamp) into day 1's change log."""
        self.changes[resource][key] = None

    def when(self, rng: random.Random, first_hour: float = 8.5, last_hour: float = 18):
        """A time of day on the current business date (office hours by default)."""
        return random_time(rng, self.date, first_hour, last_hour)

    def schedule(self, day: int, action: Callable, *args: object) -> None:
        """Run ``action(city, *args)`` at the start of day ``day``."""
        self.pending[day].append((action, args))

    # --- the replay -----------------------------------------------------------------------

    def advance(self, day: int) -> None:
        """Move to ``day`` (which must be the next day): build or apply its changes."""
        from govlake.simulate import economy, people, registers, safety, tickets

        if day != self.day + 1:
            raise ValueError(f"days replay in order: at day {self.day}, asked for day {day}")
        self.day = day
        self.changes = {r: {} for r in schema.resources()}
        if day == 1:
            people.build(self)
            registers.build_low_income(self)
            economy.build(self)
            registers.build(self)
            tickets.build(self)
            safety.build(self)
        for action, args in self.pending.pop(day, []):
            action(self, *args)
        people.daily(self)
        economy.daily(self)
        registers.daily(self)
        tickets.daily(self)
        safety.daily(self)

    def records(self, resource: str) -> dict:
        """The records of ``resource`` by key."""
        return getattr(self, RECORD_ATTRIBUTES[resource])

    def changed(self, resource: str) -> list[str]:
        """Keys of ``resource`` changed on the current day (day 1: every record)."""
        return list(self.changes[resource])
