"""The household register (police): persons, households, residence moves.

The initial population is built household by household (elderly couples and widows whose
children left, young families, three-generation homes, collective households), which gives
Kaiping's ageing pyramid. Historic deaths and departures stay in the register with their
status. Each day then brings births, deaths, moves out of, into and within the city.

Codes: sex GB/T 2261.1 ('1' male, '2' female); ethnicity GB 3304 ('01' 汉族 ...); marital
status GB/T 2261.2 ('10' 未婚, '20' 已婚, '30' 丧偶, '40' 离婚); relation to the household
head GB/T 4761-2008 ('02' 户主, '11' 夫, '12' 妻, '20' 子, '30' 女, '41' 孙子, '42' 孙女,
'51' 父亲, '52' 母亲, '97' 其他亲属, '99' 非亲属).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import ClassVar

from govlake.simulate import names
from govlake.simulate.calendar import add_years
from govlake.simulate.city import City, random_date, random_time, stochastic_round
from govlake.simulate.schema import Record
from govlake.standards.checks import id_check_char

ALIVE, DEAD, MOVED_OUT = "正常", "死亡", "迁出"
MOVE_IN, MOVE_OUT, MOVE_WITHIN = "迁入", "迁出", "市内迁移"
FAMILY, COLLECTIVE = "家庭户", "集体户"
REGISTER_START = date(2010, 1, 1)  # oldest last-update stamp of the register

# Household kinds and their weights (share of households).
HOUSEHOLD_KINDS = [
    ("elderly_couple", 19),
    ("elderly_single", 12),
    ("empty_nest", 14),
    ("family", 24),
    ("three_generation", 13),
    ("young", 8),
    ("single", 8),
    ("collective", 2),
]
BORN_ELSEWHERE = 0.12  # share of persons whose id_number carries another area code
# Yearly rates of the daily events (each event also happens at least once a day).
BIRTH_RATE, DEATH_RATE, MOVE_OUT_RATE, MOVE_IN_RATE, MOVE_WITHIN_RATE = (
    0.007,
    0.009,
    0.010,
    0.008,
    0.010,
)


@dataclass(slots=True)
class Person(Record):
    RESOURCE: ClassVar[str] = "police.person"

    person_id: str
    id_number: str
    name: str
    sex: str
    birth_date: date
    ethnicity: str
    marital_status: str
    household_no: str | None
    relation_to_head: str | None
    address: str
    town_code: str
    phone: str | None
    status: str
    death_date: date | None
    updated_at: datetime
    emigrated_to: str | None = None  # country, for persons who left for abroad

    def age(self, on: date) -> int:
        years = on.year - self.birth_date.year
        return years - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))

    @property
    def alive(self) -> bool:
        return self.status == ALIVE


@dataclass(slots=True)
class Household(Record):
    RESOURCE: ClassVar[str] = "police.household"

    household_no: str
    head: str  # person_id of the head
    household_type: str
    address: str
    town_code: str
    created_date: date
    updated_at: datetime
    members: list[str] = field(default_factory=list)  # person_ids

    def derived(self, city: City) -> dict:
        return {"head_id_number": city.persons[self.head].id_number}


@dataclass(slots=True)
class Move(Record):
    RESOURCE: ClassVar[str] = "police.residence_move"

    move_id: str
    id_number: str
    move_type: str
    from_address: str | None
    to_address: str | None
    to_town_code: str | None
    move_date: date
    updated_at: datetime


# --- identity numbers -------------------------------------------------------------------------


def new_id_number(city: City, rng: random.Random, area: str, birth: date, sex: str) -> str:
    """A unique, valid GB 11643 number: area, birth date, sequence (odd male), check."""
    while True:
        seq = rng.randrange(0, 50) * 2 + (1 if sex == "1" else 0)
        first17 = f"{area}{birth:%Y%m%d}{rng.randrange(10)}{seq:02d}"
        value = first17 + id_check_char(first17)
        if value not in city.id_numbers:
            city.id_numbers.add(value)
            return value


def birth_area(rng: random.Random) -> tuple[str, str | None]:
    """(area code, place name) of a person's birth registration."""
    if rng.random() >= BORN_ELSEWHERE:
        return names.DIVISION, None
    code, place, _ = rng.choice(names.OTHER_AREAS)
    return code, place


def birth_from_age(rng: random.Random, age: int, on: date) -> date:
    """A birth date giving exactly ``age`` full years on ``on``."""
    latest = on.replace(year=on.year - age) if not (on.month == 2 and on.day == 29) else on
    start = latest - timedelta(days=364)
    return random_date(rng, start, latest)


def _phone(rng: random.Random, age: int) -> str | None:
    if age < 14:
        return None
    if age >= 80:
        return names.mobile(rng) if rng.random() < 0.4 else None
    return names.mobile(rng) if rng.random() < 0.92 else None


# --- the initial population ---------------------------------------------------------------


@dataclass
class MemberPlan:
    age: int
    sex: str
    relation: str
    marital: str
    fate: str = "alive"  # alive / dead / out / emigrated
    surname_of: int | None = None  # index of the member whose surname this one carries


def _other(sex: str) -> str:
    return "2" if sex == "1" else "1"


def _child_relation(sex: str) -> str:
    return "20" if sex == "1" else "30"


def _spouse_relation(sex: str) -> str:
    return "11" if sex == "1" else "12"  # 夫 / 妻


def _couple(
    rng: random.Random, age: int, sex: str, youngest: int, spread: tuple[int, int]
) -> list[MemberPlan]:
    """A married head and spouse (the spouse's age within ``spread`` of the head's)."""
    spouse_sex = _other(sex)
    spouse_age = max(youngest, age + rng.randint(*spread))
    return [
        MemberPlan(age, sex, "02", "20"),
        MemberPlan(spouse_age, spouse_sex, _spouse_relation(spouse_sex), "20"),
    ]


def _child(age: int, sex: str, marital: str, fate: str, father: int | None) -> MemberPlan:
    return MemberPlan(age, sex, _child_relation(sex), marital, fate, father)


def _departed_children(
    rng: random.Random,
    members: list[MemberPlan],
    parent_age: int,
    chance: float,
    out_share: float,
    father: int | None,
) -> None:
    """Up to two grown children registered here who moved away or emigrated."""
    for _ in range(2):
        if rng.random() < chance:
            child_sex = rng.choice("12")
            fate = "out" if rng.random() < out_share else "emigrated"
            age = max(18, parent_age - rng.randint(24, 36))
            members.append(_child(age, child_sex, "20", fate, father))


def _plan_elderly_couple(rng: random.Random, sex: str) -> list[MemberPlan]:
    age = rng.randint(62, 90)
    members = _couple(rng, age, sex, 55, (-6, 3))
    if rng.random() < 0.2:  # the spouse died years ago; the head is widowed
        members[1].fate, members[0].marital = "dead", "30"
    _departed_children(rng, members, age, 0.45, 0.55, 0 if sex == "1" else 1)
    return members


def _plan_empty_nest(rng: random.Random, sex: str) -> list[MemberPlan]:
    """A middle-aged couple whose children live elsewhere."""
    age = rng.randint(45, 63)
    members = _couple(rng, age, sex, 40, (-5, 3))
    father = 0 if sex == "1" else 1
    for _ in range(names.weighted(rng, [(0, 30), (1, 50), (2, 20)])):
        child_sex = rng.choice("12")
        fate = "out" if rng.random() < 0.8 else "emigrated"
        members.append(_child(max(18, age - rng.randint(23, 32)), child_sex, "10", fate, father))
    return members


def _plan_elderly_single(rng: random.Random, sex: str) -> list[MemberPlan]:
    sex = "2" if rng.random() < 0.65 else "1"
    age = rng.randint(65, 96)
    members = [MemberPlan(age, sex, "02", "30" if rng.random() < 0.85 else "40")]
    if members[0].marital == "30" and rng.random() < 0.6:  # the late spouse's record
        spouse_sex = _other(sex)
        spouse_age = age + rng.randint(-3, 5)
        members.append(
            MemberPlan(spouse_age, spouse_sex, _spouse_relation(spouse_sex), "20", "dead")
        )
    father = 0 if sex == "1" else (1 if len(members) > 1 else None)
    _departed_children(rng, members, age, 0.4, 0.5, father)
    return members


def _plan_family(rng: random.Random, sex: str) -> list[MemberPlan]:
    age = rng.randint(30, 55)
    married = rng.random() < 0.9
    single_parent = [MemberPlan(age, sex, "02", "40")]
    members = _couple(rng, age, sex, 22, (-5, 4)) if married else single_parent
    father = 0 if sex == "1" or not married else 1
    for _ in range(names.weighted(rng, [(1, 55), (2, 37), (3, 8)])):
        child_sex = rng.choice("12")
        child_age = rng.randint(max(0, age - 42), min(25, age - 22))
        members.append(_child(child_age, child_sex, "10", "alive", father))
    if rng.random() < 0.25:  # a parent of the head lives with the family
        parent_sex = rng.choice("12")
        parent_age = min(96, age + rng.randint(25, 32))
        widowed = rng.random() < 0.6
        members.append(
            MemberPlan(
                parent_age,
                parent_sex,
                "51" if parent_sex == "1" else "52",
                "30" if widowed else "20",
                "alive",
                0 if parent_sex == "1" else None,
            )
        )
    return members


def _plan_three_generation(rng: random.Random, sex: str) -> list[MemberPlan]:
    age = rng.randint(55, 78)
    members = [
        MemberPlan(age, "1", "02", "20"),
        MemberPlan(max(50, age + rng.randint(-6, 2)), "2", "12", "20"),
    ]
    child_sex = "1" if rng.random() < 0.8 else "2"
    child_age = max(25, age - rng.randint(24, 32))
    members.append(_child(child_age, child_sex, "20", "alive", 0))
    # the child's spouse: 97 其他亲属 (daughter- or son-in-law)
    members.append(
        MemberPlan(max(23, child_age + rng.randint(-4, 3)), _other(child_sex), "97", "20")
    )
    father = 2 if child_sex == "1" else 3
    for _ in range(1 if rng.random() < 0.65 else 2):
        grand_sex = rng.choice("12")
        if child_sex == "1":
            relation = "41" if grand_sex == "1" else "42"  # 孙子 / 孙女
        else:
            relation = "43" if grand_sex == "1" else "44"  # 外孙子 / 外孙女
        grand_age = rng.randint(0, min(15, child_age - 22))
        members.append(MemberPlan(grand_age, grand_sex, relation, "10", "alive", father))
    return members


def _plan_young(rng: random.Random, sex: str) -> list[MemberPlan]:
    age = rng.randint(22, 35)
    if rng.random() < 0.5:
        return [MemberPlan(age, rng.choice("12"), "02", "10")]
    members = _couple(rng, age, sex, 21, (-4, 3))
    if rng.random() < 0.2:
        child_sex = rng.choice("12")
        members.append(_child(rng.randint(0, 3), child_sex, "10", "alive", 0 if sex == "1" else 1))
    return members


def _plan_single(rng: random.Random, sex: str) -> list[MemberPlan]:
    return [MemberPlan(rng.randint(35, 60), rng.choice("12"), "02", rng.choice(["40", "10"]))]


def _plan_collective(rng: random.Random, sex: str) -> list[MemberPlan]:
    """An enterprise dormitory: unrelated adults (99 非亲属) under a registered head."""
    return [
        MemberPlan(
            rng.randint(18, 45),
            rng.choice("12"),
            "02" if index == 0 else "99",
            "10" if rng.random() < 0.6 else "20",
        )
        for index in range(rng.randint(3, 8))
    ]


PLANNERS = {
    "elderly_couple": _plan_elderly_couple,
    "empty_nest": _plan_empty_nest,
    "elderly_single": _plan_elderly_single,
    "family": _plan_family,
    "three_generation": _plan_three_generation,
    "young": _plan_young,
    "single": _plan_single,
    "collective": _plan_collective,
}


def plan_household(rng: random.Random, kind: str) -> list[MemberPlan]:
    """Members of a household of ``kind``, head first."""
    sex = "1" if rng.random() < 0.85 else "2"  # heads are mostly men
    return PLANNERS[kind](rng, sex)


def _register_person(
    city: City,
    rng: random.Random,
    *,
    birth: date,
    sex: str,
    name: str,
    household: Household | None,
    relation: str | None,
    marital: str,
    area: str,
    address: str,
    town_code: str,
    updated_at: datetime,
    phone: str | None,
) -> Person:
    number = city.next_id("person")
    person = Person(
        person_id=f"RK{number:010d}",
        id_number=new_id_number(city, rng, area, birth, sex),
        name=name,
        sex=sex,
        birth_date=birth,
        ethnicity=names.weighted(rng, names.ETHNICITIES),
        marital_status=marital,
        household_no=household.household_no if household else None,
        relation_to_head=relation,
        address=address,
        town_code=town_code,
        phone=phone,
        status=ALIVE,
        death_date=None,
        updated_at=updated_at,
    )
    city.persons[person.person_id] = person
    city.person_seq.append(person)
    if household is not None:
        household.members.append(person.person_id)
    return person


def _new_move(
    city: City,
    person: Person,
    move_type: str,
    from_address: str | None,
    to_address: str | None,
    to_town: str | None,
    on: date,
    when: datetime,
) -> Move:
    number = city.next_id("move")
    move = Move(
        f"QY{number:010d}",
        person.id_number,
        move_type,
        from_address,
        to_address,
        to_town,
        on,
        when,
    )
    city.moves[move.move_id] = move
    return move


def _new_household(city: City, rng: random.Random, kind: str, town, created: date, when):
    number = city.next_id("household")
    household = Household(
        household_no=f"H{names.DIVISION}{number:07d}",
        head="",
        household_type=COLLECTIVE if kind == "collective" else FAMILY,
        address=names.address(rng, town),
        town_code=town.code,
        created_date=created,
        updated_at=when,
    )
    city.households[household.household_no] = household
    return household


def _domestic_destination(rng: random.Random) -> str:
    """An address elsewhere in China, for a move out of Kaiping."""
    place = rng.choice(names.MOVE_DESTINATIONS)
    return f"{place}{rng.choice(names.ROADS)}路{rng.randint(1, 300)}号"


def _abroad_address(rng: random.Random) -> tuple[str, str]:
    country = names.weighted(rng, [(c, w) for c, w, _ in names.COUNTRIES])
    return country, f"{country} {names.overseas_address(rng, country)}"


def build(city: City) -> None:
    """The initial register: ``city.scale`` persons as of the end of 2026-10-31."""
    rng = city.rng("population")
    ref = city.reference_date()
    while len(city.persons) < city.scale:
        kind = names.weighted(rng, HOUSEHOLD_KINDS)
        plan = plan_household(rng, kind)[: city.scale - len(city.persons)]
        _build_household(city, rng, kind, plan, ref)
    for resource, records in (
        ("police.person", city.persons),
        ("police.household", city.households),
        ("police.residence_move", city.moves),
    ):
        for key in records:
            city.log_initial(resource, key)


def _build_household(city: City, rng: random.Random, kind: str, plan: list[MemberPlan], ref):
    town = names.pick_town(rng)
    head_birth = birth_from_age(rng, plan[0].age, ref)
    created = random_date(rng, max(date(1990, 1, 1), add_years(head_birth, 18)), ref)
    household = _new_household(city, rng, kind, town, created, None)
    members: list[Person] = []
    for index, spec in enumerate(plan):
        birth = head_birth if index == 0 else birth_from_age(rng, spec.age, ref)
        year = birth.year
        surname = None
        if spec.surname_of is not None and spec.surname_of < len(members):
            surname = names.surname_of(members[spec.surname_of].name)
        area, origin = birth_area(rng) if spec.age >= 16 else (names.DIVISION, None)
        stamp_from = max(REGISTER_START, birth)
        person = _register_person(
            city,
            rng,
            birth=birth,
            sex=spec.sex,
            name=names.person_name(rng, spec.sex, year, surname),
            household=household,
            relation=spec.relation,
            marital=spec.marital,
            area=area,
            address=household.address,
            town_code=town.code,
            updated_at=random_time(rng, random_date(rng, stamp_from, ref)),
            phone=_phone(rng, spec.age),
        )
        members.append(person)
        if spec.fate == "dead":
            death = random_date(rng, max(add_years(birth, 50), ref - timedelta(days=3650)), ref)
            person.status, person.death_date, person.phone = DEAD, death, None
            person.updated_at = random_time(
                rng, min(ref, death + timedelta(days=rng.randint(1, 20)))
            )
        elif spec.fate in ("out", "emigrated"):
            left = random_date(rng, max(add_years(birth, 18), ref - timedelta(days=5475)), ref)
            if spec.fate == "emigrated":
                person.emigrated_to, destination = _abroad_address(rng)
            else:
                destination = _domestic_destination(rng)
            person.status = MOVED_OUT
            person.updated_at = random_time(rng, left)
            _new_move(
                city,
                person,
                MOVE_OUT,
                household.address,
                destination,
                None,
                left,
                person.updated_at,
            )
        elif origin is not None and rng.random() < 0.6:
            arrived = random_date(rng, max(add_years(birth, 16), date(1995, 1, 1)), ref)
            when = random_time(rng, arrived)
            person.updated_at = max(person.updated_at, when)
            _new_move(city, person, MOVE_IN, origin, household.address, town.code, arrived, when)
    household.head = members[0].person_id
    household.updated_at = max(p.updated_at for p in members)
    if rng.random() < 0.05:  # the family moved within the city some years ago
        moved = random_date(rng, max(created, ref - timedelta(days=3000)), ref)
        old = names.address(rng, names.pick_town(rng))
        for person in members:
            if person.alive and person.birth_date < moved:
                when = random_time(rng, moved)
                _new_move(city, person, MOVE_WITHIN, old, household.address, town.code, moved, when)
                person.updated_at = max(person.updated_at, when)
        household.updated_at = max(p.updated_at for p in members)


# --- daily changes ---------------------------------------------------------------------------


def daily_count(rng: random.Random, base: int, yearly_rate: float, floor: float = 1.2) -> int:
    """Events of one day: ``base * yearly_rate / 365``, at least ~``floor`` (and >= 1)."""
    return max(1, stochastic_round(max(floor, base * yearly_rate / 365), rng))


def pick_person(city: City, rng: random.Random, accept, tries: int = 20000) -> Person | None:
    """A random person satisfying ``accept`` (rejection sampling over the register)."""
    people = city.person_seq
    for _ in range(tries):
        person = people[rng.randrange(len(people))]
        if accept(person):
            return person
    return None


def daily(city: City) -> None:
    rng = city.rng("police", city.day)
    living = city.scale  # the population stays close to its initial size
    for _ in range(daily_count(rng, living, BIRTH_RATE)):
        _birth(city, rng)
    for _ in range(daily_count(rng, living, DEATH_RATE)):
        _death(city, rng)
    for _ in range(daily_count(rng, living, MOVE_OUT_RATE)):
        _move_out(city, rng)
    for _ in range(daily_count(rng, living, MOVE_IN_RATE, floor=0.8)):
        _move_in(city, rng)
    for _ in range(daily_count(rng, len(city.households), MOVE_WITHIN_RATE * 3, floor=0.8)):
        _move_within(city, rng)


def _birth(city: City, rng: random.Random) -> None:
    today = city.date
    mother = pick_person(
        city,
        rng,
        lambda p: p.alive
        and p.sex == "2"
        and 22 <= p.age(today) <= 42
        and p.household_no is not None
        and city.households[p.household_no].household_type == FAMILY,
    )
    if mother is None:
        return
    household = city.households[mother.household_no]
    head = city.persons[household.head]
    if mother.relation_to_head in ("02", "11", "12"):
        father_surname = names.surname_of(head.name) if head.sex == "1" else None
        relation = {"1": "20", "2": "30"}
    else:
        father_surname = names.surname_of(head.name)
        relation = {"1": "41", "2": "42"}
    sex = rng.choice("12")
    birth = today - timedelta(days=rng.randint(3, 40))
    when = city.when(rng)
    baby = _register_person(
        city,
        rng,
        birth=birth,
        sex=sex,
        name=names.person_name(rng, sex, birth.year, father_surname),
        household=household,
        relation=relation[sex],
        marital="10",
        area=names.DIVISION,
        address=household.address,
        town_code=household.town_code,
        updated_at=when,
        phone=None,
    )
    city.touch("police.person", baby.person_id, baby, when)


def _death(city: City, rng: random.Random) -> None:
    today = city.date
    person = pick_person(city, rng, lambda p: p.alive and rng.random() < (p.age(today) / 100) ** 4)
    if person is None:
        return
    when = city.when(rng)
    person.status, person.death_date = DEAD, today - timedelta(days=rng.randint(0, 6))
    person.phone = None
    city.touch("police.person", person.person_id, person, when)
    household = city.households.get(person.household_no) if person.household_no else None
    couple = ("02", "11", "12")  # head, husband, wife
    for other_id in household.members if household else []:
        other = city.persons[other_id]
        if (
            other.alive
            and other is not person
            and other.relation_to_head in couple
            and person.relation_to_head in couple
            and other.marital_status == "20"
        ):
            other.marital_status = "30"  # widowed
            city.touch("police.person", other.person_id, other, when)
    if household and household.head == person.person_id:
        living = [city.persons[m] for m in household.members if city.persons[m].alive]
        if living:
            spouses = [p for p in living if p.relation_to_head in ("11", "12")]
            new_head = spouses[0] if spouses else min(living, key=lambda p: p.birth_date)
            new_head.relation_to_head = "02"
            household.head = new_head.person_id
            city.touch("police.person", new_head.person_id, new_head, when)
            city.touch("police.household", household.household_no, household, when)
    from govlake.simulate import economy, registers

    economy.person_left(city, person, rng)
    registers.person_died(city, person, rng)


def _move_out(city: City, rng: random.Random) -> None:
    today = city.date
    person = pick_person(
        city,
        rng,
        lambda p: p.alive and 18 <= p.age(today) <= 45 and p.relation_to_head != "02",
    )
    if person is None:
        return
    when = city.when(rng)
    if rng.random() < 0.15:
        person.emigrated_to, destination = _abroad_address(rng)
    else:
        destination = _domestic_destination(rng)
    person.status = MOVED_OUT
    city.touch("police.person", person.person_id, person, when)
    move = _new_move(city, person, MOVE_OUT, person.address, destination, None, today, when)
    city.touch("police.residence_move", move.move_id, move, when)
    from govlake.simulate import economy

    economy.person_left(city, person, rng)


def _move_in(city: City, rng: random.Random) -> None:
    today = city.date
    when = city.when(rng)
    town = names.pick_town(rng)
    household = _new_household(city, rng, "young", town, today, when)
    plan = plan_household(rng, "young")
    code, origin, _ = rng.choice(names.OTHER_AREAS)
    for index, spec in enumerate(plan):
        birth = birth_from_age(rng, spec.age, today)
        person = _register_person(
            city,
            rng,
            birth=birth,
            sex=spec.sex,
            name=names.person_name(rng, spec.sex, birth.year),
            household=household,
            relation=spec.relation,
            marital=spec.marital,
            area=code if spec.age >= 1 else names.DIVISION,
            address=household.address,
            town_code=town.code,
            updated_at=when,
            phone=_phone(rng, spec.age),
        )
        if index == 0:
            household.head = person.person_id
        city.touch("police.person", person.person_id, person, when)
        move = _new_move(
            city,
            person,
            MOVE_IN,
            origin + rng.choice(names.ROADS) + "路",
            household.address,
            town.code,
            today,
            when,
        )
        city.touch("police.residence_move", move.move_id, move, when)
    city.touch("police.household", household.household_no, household, when)


def _move_within(city: City, rng: random.Random) -> None:
    households = list(city.households.values())
    for _ in range(200):
        household = households[rng.randrange(len(households))]
        living = [city.persons[m] for m in household.members if city.persons[m].alive]
        if household.household_type == FAMILY and living:
            break
    else:
        return
    when = city.when(rng)
    town = names.pick_town(rng)
    old = household.address
    household.address, household.town_code = names.address(rng, town), town.code
    city.touch("police.household", household.household_no, household, when)
    for person in living:
        person.address, person.town_code = household.address, town.code
        city.touch("police.person", person.person_id, person, when)
        move = _new_move(
            city, person, MOVE_WITHIN, old, household.address, town.code, city.date, when
        )
        city.touch("police.residence_move", move.move_id, move, when)
