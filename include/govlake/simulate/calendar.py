"""The simulation's calendar: business days, day windows and working days.

Day 1 is 2026-11-01; day D is day 1 plus D-1 days. All source timestamps are naive local
time (Asia/Shanghai, UTC+8 all year), as the departmental systems store them. Every change
that happens "on day D" is stamped inside ``[D 00:00, D+1 00:00)``.

Day 1 carries each system's initial state, with timestamps that may be much older than
day 1 (the tax system, for example, holds twelve months of payments from
:func:`history_start` on). Day 1's incremental window is therefore "everything up to the
end of day 1": ``[history_start(), day_end(1))`` for sources stamped from the history
start, ``(-inf, day_end(1))`` for sources whose rows may be older still.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

START_DATE = date(2026, 11, 1)
HISTORY_START = date(2025, 11, 1)


def business_date(day: int) -> date:
    """The calendar date of simulation day ``day`` (day 1 = 2026-11-01)."""
    if day < 1:
        raise ValueError(f"模拟日从1开始 simulation days start at 1, got {day}")
    return date_of_day(day)


def date_of_day(day: int) -> date:
    """Like :func:`business_date`, also for the days before day 1 (0, -1 ...)."""
    return START_DATE + timedelta(days=day - 1)


def day_of(value: date) -> int:
    """The simulation day of a calendar date (may be < 1 for dates before day 1)."""
    return (value - START_DATE).days + 1


def day_start(day: int) -> datetime:
    """Local midnight opening day ``day``."""
    return datetime.combine(business_date(day), time())


def day_end(day: int) -> datetime:
    """Local midnight closing day ``day`` (exclusive upper bound of its window)."""
    return day_start(day) + timedelta(days=1)


def history_start() -> date:
    """Lower bound of the history carried by day 1's initial load (2025-11-01).

    Day 1 delivers the initial state of every system, including rows stamped before day 1
    (twelve months of tax payments, older hotline tickets ...). A pipeline extracting
    day 1 incrementally must use ``[history_start(), end of day 1)`` as its window (or no
    lower bound at all): a window of only ``[day 1 00:00, day 2 00:00)`` misses the history.
    """
    return HISTORY_START


def is_working_day(value: date) -> bool:
    """Monday to Friday. Public holidays are not modelled (no official 2027 schedule)."""
    return value.weekday() < 5


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` working days, keeping the time of day."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current.date()):
            remaining -= 1
    return current


def month_start(value: date) -> date:
    return value.replace(day=1)


def add_months(value: date, months: int) -> date:
    """First day of the month ``months`` after the month of ``value``."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def add_years(value: date, years: int) -> date:
    """The same day ``years`` years after ``value`` (29 February becomes the 28th)."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value.replace(year=value.year + years, day=28)


def period_of(value: date) -> str:
    """Tax period ``YYYY-MM`` of a date."""
    return f"{value.year:04d}-{value.month:02d}"
