"""Injected defects: what goes wrong in departmental data, at known rates.

Two families of defects, decided with their own random streams (the clean city never
depends on them):

* Content defects (``bad_check_char``, ``nonstandard_code``, ``missing_value``,
  ``future_date``, ``invalid_date``, ``non_numeric``, ``duplicate``, ``conflict``) belong to
  a version of a record: when a record is created or changed on day D, each kind picks
  ``rate × (rows changed that day)`` of the day's changed rows (stochastically rounded, at
  most one defect per row). The defect stays on the record — in the database table and in
  every later full-snapshot file — until the record changes again. ``duplicate`` adds a
  second copy of the record under another key (a person registered twice, a roster entry
  entered twice); the copy is frozen and never changes. ``conflict`` is a person attribute
  that another department records differently from the police register, the
  authoritative source (see :mod:`govlake.simulate.conflicts`); it is decided last, among
  the rows no other kind took and that no duplicate copies, so the other kinds' choices do
  not depend on it; at least one per resource on a day when 20 or more of its rows
  changed (day 1), so that small cities have conflicts to find too.
* Transport defects (``malformed_row``, ``wrong_encoding``) damage one file of one day.

``schema_drift`` is structural: from day :data:`SCHEMA_DRIFT_FROM_DAY` on, the civil CSV
carries an extra ``disability_grade`` column and the market ``enterprise`` table an extra
``website`` column.

Rates are fractions of the rows delivered. ``invalid_date`` and ``non_numeric`` occur in
file sources only: database date and numeric columns cannot hold them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from govlake.simulate import conflicts
from govlake.simulate.city import stochastic_round
from govlake.standards.checks import USCC_ALPHABET, id_check_char, uscc_check_char

if TYPE_CHECKING:
    from govlake.simulate.people import Person

KINDS = (
    "bad_check_char",
    "nonstandard_code",
    "duplicate",
    "missing_value",
    "future_date",
    "invalid_date",
    "non_numeric",
    "malformed_row",
    "wrong_encoding",
    "schema_drift",
    "conflict",
)

# resource -> content defect kind -> rate (fraction of the rows delivered)
CONTENT_RATES: dict[str, dict[str, float]] = {
    "police.person": {
        "bad_check_char": 0.005,
        "nonstandard_code": 0.01,
        "missing_value": 0.005,
        "future_date": 0.002,
        "duplicate": 0.003,
    },
    "police.household": {"missing_value": 0.005},
    "police.residence_move": {"bad_check_char": 0.005, "missing_value": 0.005},
    "market.enterprise": {"bad_check_char": 0.005, "missing_value": 0.005, "future_date": 0.003},
    "hrss.social_insurance": {"bad_check_char": 0.005, "missing_value": 0.005, "conflict": 0.002},
    "tax.tax_payment": {"bad_check_char": 0.005, "missing_value": 0.005},
    "overseas.overseas_chinese": {
        "bad_check_char": 0.01,
        "nonstandard_code": 0.03,
        "missing_value": 0.01,
        "future_date": 0.01,
        "invalid_date": 0.01,
        "duplicate": 0.02,
        "conflict": 0.01,
    },
    "civil.low_income": {
        "bad_check_char": 0.01,
        "nonstandard_code": 0.01,
        "missing_value": 0.01,
        "invalid_date": 0.01,
        "non_numeric": 0.01,
        "conflict": 0.02,
    },
    "natres.real_estate": {
        "bad_check_char": 0.005,
        "missing_value": 0.005,
        "future_date": 0.003,
        "invalid_date": 0.005,
        "non_numeric": 0.005,
    },
    "govdata.e_licence": {
        "bad_check_char": 0.005,
        "missing_value": 0.005,
        "future_date": 0.003,
        "invalid_date": 0.005,
    },
    "emergency.safety_inspection": {
        "bad_check_char": 0.005,
        "missing_value": 0.005,
        "invalid_date": 0.005,
        "non_numeric": 0.005,
    },
}

# resource -> content defect kind -> the fields it may hit
DEFECT_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "police.person": {
        "bad_check_char": ("id_number",),
        "nonstandard_code": ("sex",),
        "missing_value": ("name", "sex", "birth_date"),
        "future_date": ("birth_date",),
        "duplicate": ("person_id",),
    },
    "police.household": {"missing_value": ("head_id_number", "address", "town_code")},
    "police.residence_move": {
        "bad_check_char": ("id_number",),
        "missing_value": ("move_type", "move_date"),
    },
    "market.enterprise": {
        "bad_check_char": ("legal_rep_id_number",),
        "missing_value": ("name", "established_date"),
        "future_date": ("established_date",),
    },
    "hrss.social_insurance": {
        "bad_check_char": ("id_number",),
        "missing_value": ("insurance_type", "start_date"),
        "conflict": ("name",),
    },
    "tax.tax_payment": {"bad_check_char": ("uscc",), "missing_value": ("tax_type", "amount")},
    "overseas.overseas_chinese": {
        "bad_check_char": ("id_number",),
        "nonstandard_code": ("sex",),
        "missing_value": ("name", "country", "registered_date"),
        "future_date": ("registered_date",),
        "invalid_date": ("registered_date",),
        "duplicate": ("roster_id",),
        "conflict": ("sex",),
    },
    "civil.low_income": {
        "bad_check_char": ("id_number",),
        "nonstandard_code": ("town_code",),
        "missing_value": ("name", "id_number", "category", "monthly_amount", "start_date"),
        "invalid_date": ("start_date",),
        "non_numeric": ("monthly_amount",),
        "conflict": ("town_code",),
    },
    "natres.real_estate": {
        "bad_check_char": ("owner_id",),
        "missing_value": ("owner_name", "address", "registered_date"),
        "future_date": ("registered_date",),
        "invalid_date": ("registered_date",),
        "non_numeric": ("floor_area",),
    },
    "govdata.e_licence": {
        "bad_check_char": ("holder_id",),
        "missing_value": ("holder_name", "issuer", "issue_date"),
        "future_date": ("issue_date",),
        "invalid_date": ("issue_date",),
    },
    # missing values only in required fields: an empty required field is quarantined
    "emergency.safety_inspection": {
        "bad_check_char": ("uscc",),
        "missing_value": ("inspection_date", "inspector_unit", "inspection_type", "result"),
        "invalid_date": ("inspection_date", "rectification_due", "rectified_date"),
        "non_numeric": ("hazards_found", "major_hazards"),
    },
}

# resource -> transport defect kind -> (rate per file row, minimum per file). The minimum
# applies to files of at least MINIMUM_APPLIES_FROM rows (small daily deltas stay clean
# unless the rate says otherwise).
MINIMUM_APPLIES_FROM = 20
TRANSPORT_RATES: dict[str, dict[str, tuple[float, int]]] = {
    "civil.low_income": {"malformed_row": (0.01, 1), "wrong_encoding": (0.0, 1)},
    "natres.real_estate": {"malformed_row": (0.002, 1)},
}

SCHEMA_DRIFT_FROM_DAY = 3
# resource -> (extra column, its meaning)
SCHEMA_DRIFT = {
    "civil.low_income": ("disability_grade", "残疾等级 disability grade"),
    "market.enterprise": ("website", "网站 website"),
}

# Duplicate keys come from a range the registries' own sequences never reach.
TWIN_KEYS = {"police.person": ("RK9", 9), "overseas.overseas_chinese": ("QW9", 5)}
NONSTANDARD_SEX = {"1": ("男", "M"), "2": ("女", "F")}


@dataclass(frozen=True)
class Defect:
    field: str | None
    kind: str
    value: object
    person_id: str | None = None  # conflict: the police person whose attribute it is


def _present(value: object) -> bool:
    return value is not None and value != ""


def is_uscc_field(field: str, row: dict) -> bool:
    """Whether ``field`` of ``row`` holds a USCC (else a citizen identity number)."""
    if field == "uscc":
        return True
    if field in ("owner_id", "holder_id"):
        return row.get("owner_type", row.get("holder_type")) == "单位"
    return False


def _bad_check(value: str, uscc: bool, rng: random.Random) -> str:
    """``value`` with its last character replaced by a wrong check character."""
    first17 = value[:17]
    if uscc:
        right, alphabet = uscc_check_char(first17), USCC_ALPHABET
    else:
        right, alphabet = id_check_char(first17), "0123456789X"
    return first17 + rng.choice([c for c in alphabet if c != right])


def _invalid_date(value: date, rng: random.Random) -> str:
    year = value.year
    return rng.choice(
        [f"{year}-02-30", f"{year}/13/01", f"{year}-04-31", f"{year}-06-31", f"{year}-00-15"]
    )


def defect_value(kind: str, field: str, row: dict, rng: random.Random, today: date, town_names):
    """The damaged value of ``row[field]`` for a defect of ``kind``."""
    value = row[field]
    if kind == "bad_check_char":
        return _bad_check(str(value), is_uscc_field(field, row), rng)
    if kind == "nonstandard_code":
        if field == "sex":
            return rng.choice(NONSTANDARD_SEX.get(str(value), ("男", "M")))
        return town_names.get(value, value)  # a town name instead of its code
    if kind == "missing_value":
        return None
    if kind == "future_date":
        return today + timedelta(days=rng.randint(30, 3650))
    if kind == "invalid_date":
        return _invalid_date(value, rng)
    if kind == "non_numeric":
        amount = int(Decimal(value))
        return f"约{amount}" if amount > 0 else "无"
    raise ValueError(kind)


class DefectBook:
    """The defects currently carried by each record, decided day by day."""

    def __init__(self, seed: int, scale: int, enabled: bool = True) -> None:
        from govlake.simulate.names import towns

        self.seed, self.scale, self.enabled = seed, scale, enabled
        self.content: dict[str, dict[str, Defect]] = {r: {} for r in CONTENT_RATES}
        # resource -> twin key -> (frozen row, original key, day created)
        self.twins: dict[str, dict[str, tuple[dict, str, int]]] = {r: {} for r in TWIN_KEYS}
        self.town_names = {t.code: t.name for t in towns()}
        self.town_codes = [t.code for t in towns()]

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, self.scale, "defects", *parts)))

    def decide(
        self,
        resource: str,
        day: int,
        key_field: str,
        rows: list[dict],
        today: date,
        people: Callable[[str], Person | None] | None = None,
    ) -> list[str]:
        """Decide the content defects of the rows changed on ``day``; returns new twin keys.

        ``people``: the police person a row (by key) is about, for ``conflict`` defects.
        """
        book = self.content.get(resource)
        if book is None:
            return []
        for row in rows:
            book.pop(row[key_field], None)
        if not self.enabled or not rows:
            return []
        rates = CONTENT_RATES[resource]
        taken: set[int] = set()
        for kind in KINDS:
            if kind not in rates or kind in ("duplicate", "conflict"):
                continue
            rng = self.rng(resource, day, kind)
            fields = DEFECT_FIELDS[resource][kind]
            eligible = [
                i
                for i, row in enumerate(rows)
                if i not in taken and any(_present(row.get(f)) for f in fields)
            ]
            wanted = min(len(eligible), stochastic_round(rates[kind] * len(rows), rng))
            for index in sorted(rng.sample(eligible, wanted)):
                row = rows[index]
                field = rng.choice([f for f in fields if _present(row.get(f))])
                value = defect_value(kind, field, row, rng, today, self.town_names)
                book[row[key_field]] = Defect(field, kind, value)
                taken.add(index)
        created = self._duplicates(resource, day, key_field, rows, taken)
        if people is not None:
            self._conflicts(resource, day, key_field, rows, taken, people)
        return created

    def _duplicates(
        self, resource: str, day: int, key_field: str, rows: list[dict], taken: set[int]
    ) -> list[str]:
        rate = CONTENT_RATES[resource].get("duplicate")
        if rate is None:
            return []
        rng = self.rng(resource, day, "duplicate")
        eligible = [
            i
            for i, row in enumerate(rows)
            if i not in taken and row.get("status", "正常") == "正常"
        ]
        wanted = min(len(eligible), stochastic_round(rate * len(rows), rng))
        prefix, digits = TWIN_KEYS[resource]
        twins = self.twins[resource]
        created = []
        for index in sorted(rng.sample(eligible, wanted)):
            while True:
                twin_key = f"{prefix}{rng.randrange(10**digits):0{digits}d}"
                if twin_key not in twins:
                    break
            row = dict(rows[index])
            original = row[key_field]
            row[key_field] = twin_key
            twins[twin_key] = (row, original, day)
            created.append(twin_key)
            taken.add(index)  # the copy and its original stay alike
        return created

    def _conflicts(
        self,
        resource: str,
        day: int,
        key_field: str,
        rows: list[dict],
        taken: set[int],
        people: Callable[[str], Person | None],
    ) -> None:
        """Pick the day's cross-department conflicts among the rows still free.

        Eligible: rows agreeing with the police register on the field, about a person
        whose police record carries no defect now and was never duplicated. At least one
        when at least :data:`MINIMUM_APPLIES_FROM` rows changed (day 1 of every resource),
        so that small cities have conflicts to find too.
        """
        rate = CONTENT_RATES[resource].get("conflict")
        if rate is None:
            return
        rng = self.rng(resource, day, "conflict")
        (field,) = DEFECT_FIELDS[resource]["conflict"]
        register = self.content.get(conflicts.AUTHORITY, {})
        twinned = {original for _, original, _ in self.twins.get(conflicts.AUTHORITY, {}).values()}
        eligible: list[tuple[int, str]] = []
        for index, row in enumerate(rows):
            value = row.get(field)
            if index in taken or not _present(value):
                continue
            person = people(row[key_field])
            if (
                person is not None
                and person.person_id not in register
                and person.person_id not in twinned
                and getattr(person, field) == value
                and conflicts.can_conflict(field, value)
            ):
                eligible.append((index, person.person_id))
        floor = 1 if len(rows) >= MINIMUM_APPLIES_FROM else 0
        wanted = min(len(eligible), max(floor, stochastic_round(rate * len(rows), rng)))
        book = self.content[resource]
        for index, person_id in sorted(rng.sample(eligible, wanted)):
            row = rows[index]
            value = conflicts.conflict_value(field, row[field], rng, self.town_codes)
            book[row[key_field]] = Defect(field, "conflict", value, person_id)
            taken.add(index)

    def defect_of(self, resource: str, key: str) -> Defect | None:
        book = self.content.get(resource)
        return book.get(key) if book else None

    def apply(self, resource: str, key_field: str, row: dict) -> tuple[dict, Defect | None]:
        """The row as delivered (with its content defect, if any) and that defect."""
        defect = self.defect_of(resource, row[key_field])
        if defect is None:
            return row, None
        damaged = dict(row)
        damaged[defect.field] = defect.value
        return damaged, defect

    def twin_rows(self, resource: str) -> list[tuple[str, dict, str, int]]:
        """(twin key, row, original key, day created) of every duplicate so far."""
        return [(k, r, o, d) for k, (r, o, d) in self.twins.get(resource, {}).items()]

    def transport(
        self, resource: str, day: int, rows: int, exclude: frozenset[int] = frozenset()
    ) -> dict[int, str]:
        """Row index (0-based) -> transport defect kind for one file of one day.

        Rows in ``exclude`` (those already carrying a content defect) are left alone.
        """
        if not self.enabled or rows == 0:
            return {}
        plan: dict[int, str] = {}
        for kind, (rate, minimum) in TRANSPORT_RATES.get(resource, {}).items():
            rng = self.rng(resource, day, kind)
            free = [i for i in range(rows) if i not in plan and i not in exclude]
            floor = minimum if rows >= MINIMUM_APPLIES_FROM else 0
            wanted = min(len(free), max(floor, stochastic_round(rate * rows, rng)))
            for index in rng.sample(free, wanted):
                plan[index] = kind
        return plan

    def drift(self, resource: str, day: int) -> tuple[str, str] | None:
        """The extra column of ``resource`` on ``day`` (schema drift), if any."""
        if self.enabled and day >= SCHEMA_DRIFT_FROM_DAY:
            return SCHEMA_DRIFT.get(resource)
        return None
