"""The file-dropping departments: assistance (civil), overseas roster, real estate, licences.

* civil: low-income recipients (~2% of residents; 低保/特困/低边), all police persons. A few
  are legal representatives of enterprises, own several properties or pay insurance on a
  high contribution base: the cases later low-income checks look for. When a recipient
  dies, civil affairs stops the assistance only 15-60 days later.
* overseas: the roster (~4% of residents): overseas Chinese abroad (some with a domestic
  identity number matching a police person who emigrated or died), returned overseas
  Chinese and relatives of overseas Chinese living in Kaiping.
* natres: real-estate title certificates of persons (id_number) and units (USCC).
* govdata: electronic licences of enterprises (营业执照, 食品经营许可证 ...) and persons
  (居民身份证电子证照, 机动车驾驶证 ...); some ``valid_until`` dates lie in the past.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from govlake.simulate import names
from govlake.simulate.calendar import add_years
from govlake.simulate.city import City, random_date, random_time, stochastic_round
from govlake.simulate.economy import ACTIVE, Enterprise, add_job
from govlake.simulate.people import FAMILY, Person
from govlake.simulate.schema import Record

LOW_INCOME_SHARE = 0.02
ROSTER_SHARE = 0.04
IN_CARE, STOPPED = "在保", "停保"
# Recipients whose assets or income a later low-income check should catch (share of all
# recipients, at least one each): legal representative of an enterprise, owner of several
# properties, insured on a high contribution base.
RECIPIENT_FLAGS = (("enterprise", 0.08), ("property", 0.06), ("high_base", 0.05))
PERSON_OWNER, UNIT_OWNER = "个人", "单位"
VALID, CANCELLED, REVOKED = "有效", "注销", "吊销"


# --- civil: low-income recipients ---------------------------------------------------------


@dataclass(slots=True)
class Recipient(Record):
    RESOURCE: ClassVar[str] = "civil.low_income"

    recipient_id: str
    person_id: str
    town_code: str
    category: str
    household_size: int
    monthly_amount: Decimal
    start_date: date
    status: str
    flag: str | None = None  # enterprise / property / high_base: for later checks
    disability_grade: str | None = None  # shown from day 3 (schema drift)

    def derived(self, city: City) -> dict:
        person = city.persons[self.person_id]
        return {"name": person.name, "id_number": person.id_number}


def _amount(rng: random.Random, category: str, size: int) -> Decimal:
    if category == "特困":
        value = rng.choice([1580, 1620, 1650, 1700])
    elif category == "低保":
        value = size * rng.randint(300, 900)
    else:
        value = rng.choice([0, 150, 200, 300])
    return Decimal(value).quantize(Decimal("0.01"))


def _living_members(city: City, household_no: str) -> list[Person]:
    household = city.households[household_no]
    return [city.persons[m] for m in household.members if city.persons[m].alive]


def _new_recipient(city: City, rng: random.Random, person: Person, start: date) -> Recipient:
    living = _living_members(city, person.household_no)
    alone_elderly = len(living) == 1 and person.age(start) >= 60
    if alone_elderly and rng.random() < 0.7:
        category = "特困"
    else:
        category = "低保" if rng.random() < 0.65 else "低边"
    size = 1 if category == "特困" else len(living)
    recipient = Recipient(
        recipient_id=f"MZ{city.next_id('recipient'):07d}",
        person_id=person.person_id,
        town_code=city.households[person.household_no].town_code,
        category=category,
        household_size=size,
        monthly_amount=_amount(rng, category, size),
        start_date=start,
        status=IN_CARE,
    )
    if rng.random() < 0.15:
        recipient.disability_grade = rng.choice(["一级", "二级", "三级", "四级"])
    city.low_income[recipient.recipient_id] = recipient
    city.recipient_people.add(person.person_id)
    return recipient


def build_low_income(city: City) -> None:
    rng = city.rng("civil")
    ref = city.reference_date()
    target = max(5, round(city.scale * LOW_INCOME_SHARE))
    households = [h for h in city.households.values() if h.household_type == FAMILY]
    for _ in range(20):
        rng.shuffle(households)
        for household in households:
            if len(city.low_income) >= target:
                break
            head = city.persons[household.head]
            if not head.alive or head.person_id in city.recipient_people:
                continue
            living = _living_members(city, household.household_no)
            chance = 0.12 if len(living) == 1 and head.age(ref) >= 60 else 0.02
            if len(living) >= 5:
                chance = 0.05
            if rng.random() < chance:
                recipient = _new_recipient(city, rng, head, random_date(rng, date(2014, 1, 1), ref))
                if rng.random() < 0.1:
                    recipient.status = STOPPED
        if len(city.low_income) >= target:
            break
    recipients = [r for r in city.low_income.values() if r.status == IN_CARE]
    rng.shuffle(recipients)
    for flag, share in RECIPIENT_FLAGS:
        wanted = max(1, round(share * len(city.low_income)))
        for recipient in recipients:
            if wanted == 0:
                break
            age = city.persons[recipient.person_id].age(ref)
            if recipient.flag is None and (flag != "high_base" or 18 <= age <= 60):
                recipient.flag = flag
                wanted -= 1
    for key in city.low_income:
        city.log_initial("civil.low_income", key)


def _apply_recipient_flags(city: City) -> None:
    """Make the flagged recipients' assets and incomes visible in the other departments."""
    rng = city.rng("civil-flags")
    ref = city.reference_date()
    companies = [
        e
        for e in city.enterprise_seq
        if e.active and e.entity_type in ("个体工商户", "有限责任公司", "个人独资企业")
    ]
    employers = [e for e in city.enterprise_seq if e.active and e.dormant_since is None]
    for recipient in city.low_income.values():
        person = city.persons[recipient.person_id]
        if recipient.flag == "enterprise" and companies:
            enterprise = companies.pop(rng.randrange(len(companies)))
            enterprise.legal_rep_name, enterprise.legal_rep_id_number = (
                person.name,
                person.id_number,
            )
            city.legal_reps[enterprise.uscc] = person.person_id
        elif recipient.flag == "high_base" and employers:
            employer = rng.choice(employers)
            start = random_date(rng, max(employer.established_date, date(2018, 1, 1)), ref)
            base = rng.randint(12000, 22000)
            job = add_job(
                city,
                person,
                employer.uscc,
                start,
                base,
                ("110", "210", "310", "410"),
                random_time(rng, start),
                None,
                ACTIVE,
            )
            for enrolment_id in job.enrolment_ids:
                city.log_initial("hrss.social_insurance", enrolment_id)


def _stop_assistance(city: City, recipient_id: str) -> None:
    recipient = city.low_income[recipient_id]
    if recipient.status == STOPPED:
        return
    recipient.status = STOPPED
    city.touch(
        "civil.low_income", recipient_id, recipient, city.when(city.rng("civil-stop", city.day))
    )


# --- overseas roster ----------------------------------------------------------------------------


@dataclass(slots=True)
class RosterEntry(Record):
    RESOURCE: ClassVar[str] = "overseas.overseas_chinese"

    roster_id: str
    name: str
    sex: str | None
    id_number: str | None
    category: str
    country: str
    overseas_address: str | None
    hometown_town_code: str | None
    relative_name: str | None
    relative_phone: str | None
    registered_date: date
    person_id: str | None = None  # the police person this entry is about, if any


ROSTER_MIX = [("侨眷", 35), ("归侨", 8), ("华侨", 25), ("外籍华人", 17), ("港澳同胞", 15)]


def _country(rng: random.Random, hk_macao: bool = False) -> str:
    if hk_macao:
        return "中国香港" if rng.random() < 0.75 else "中国澳门"
    return names.weighted(
        rng, [(c, w) for c, w, _ in names.COUNTRIES if c not in ("中国香港", "中国澳门")]
    )


def _relative(city: City, rng: random.Random) -> Person | None:
    people = city.person_seq
    for _ in range(2000):
        person = people[rng.randrange(len(people))]
        if person.alive and person.phone and person.age(city.date) >= 25:
            return person
    return None


def _new_roster_entry(city: City, rng: random.Random, registered: date, pools: dict) -> RosterEntry:
    category = names.weighted(rng, ROSTER_MIX)
    person: Person | None = None
    if category == "华侨":
        roll = rng.random()
        if roll < 0.08 and pools["dead"]:
            person = pools["dead"].pop()
            country = _country(rng)
        elif roll < 0.55 and pools["emigrated"]:
            person = pools["emigrated"].pop()
            country = person.emigrated_to or _country(rng)
        else:
            country = _country(rng)
    elif category == "港澳同胞":
        if rng.random() < 0.3 and pools["hk"]:
            person = pools["hk"].pop()
            country = person.emigrated_to
        else:
            country = _country(rng, hk_macao=True)
    elif category == "外籍华人":
        country = _country(rng)
    else:  # 归侨 / 侨眷 live in Kaiping (a few have died since)
        pool = pools["dead"] if rng.random() < 0.06 and pools["dead"] else pools["local"]
        person = pool.pop() if pool else None
        country = _country(rng, hk_macao=rng.random() < 0.2)
    sex = person.sex if person else rng.choice("12")
    if person is not None:
        name, id_number, town = person.name, person.id_number, person.town_code
    else:
        year = rng.randint(1940, 2000)
        name, id_number, town = names.person_name(rng, sex, year), None, None
    relative_name = relative_phone = None
    if category in ("华侨", "外籍华人", "港澳同胞"):
        relative = _relative(city, rng)
        if relative is not None:
            relative_name, relative_phone = relative.name, relative.phone
            town = town or relative.town_code
        address = names.overseas_address(rng, country)
    else:
        relative_name = names.person_name(rng, rng.choice("12"), rng.randint(1945, 1995))
        address = names.overseas_address(rng, country) if rng.random() < 0.6 else None
    entry = RosterEntry(
        roster_id=f"QW{city.next_id('roster'):06d}",
        name=name,
        sex=sex,
        id_number=id_number,
        category=category,
        country=country,
        overseas_address=address,
        hometown_town_code=town or names.pick_town(rng).code,
        relative_name=relative_name,
        relative_phone=relative_phone,
        registered_date=registered,
        person_id=person.person_id if person else None,
    )
    city.roster[entry.roster_id] = entry
    return entry


def _roster_pools(city: City, rng: random.Random) -> dict:
    ref = city.reference_date()
    pools: dict[str, list[Person]] = {"dead": [], "emigrated": [], "hk": [], "local": []}
    for person in city.person_seq:
        if person.status == "死亡" and person.birth_date.year < 1960:
            pools["dead"].append(person)
        elif person.emigrated_to in ("中国香港", "中国澳门"):
            pools["hk"].append(person)
        elif person.emigrated_to:
            pools["emigrated"].append(person)
        elif person.alive and 30 <= person.age(ref) <= 92:
            pools["local"].append(person)
    for pool in pools.values():
        rng.shuffle(pool)
    return pools


def build_roster(city: City) -> None:
    rng = city.rng("overseas")
    ref = city.reference_date()
    pools = _roster_pools(city, rng)
    for _ in range(max(10, round(city.scale * ROSTER_SHARE))):
        _new_roster_entry(city, rng, random_date(rng, date(2000, 1, 1), ref), pools)
    for key in city.roster:
        city.log_initial("overseas.overseas_chinese", key)


# --- natres: real estate ---------------------------------------------------------------------


@dataclass(slots=True)
class RealEstate(Record):
    RESOURCE: ClassVar[str] = "natres.real_estate"

    certificate_no: str
    owner_type: str
    owner_id: str
    owner_name: str
    address: str
    town_code: str
    floor_area: Decimal
    usage: str
    registered_date: date


def _certificate_no(city: City, rng: random.Random, year: int) -> str:
    counter = f"cert{year}"
    city.counters[counter] += rng.randint(1, 9)  # the rest of the city registers too
    return f"粤({year})开平市不动产权第{city.counters[counter]:07d}号"


def _area(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 2))).quantize(Decimal("0.01"))


def _in_town(
    rng: random.Random, town: names.Town, owner_type: str, owner, low: float, high: float
) -> tuple:
    """A property plan but for its usage: at a new address in ``town``.

    ``(owner_type, owner, address, town_code, area)``, the floor area in ``[low, high]``.
    """
    return owner_type, owner, names.address(rng, town), town.code, _area(rng, low, high)


def _property_plans(city: City, rng: random.Random) -> list[tuple]:
    """(owner_type, owner, address, town_code, area, usage) of the properties before day 1."""
    plans = []
    for household in city.households.values():
        head = city.persons[household.head]
        if household.household_type != FAMILY or not head.alive:
            continue
        urban = household.town_code in ("440783001", "440783002")
        if rng.random() < 0.75:
            area = _area(rng, 60, 150) if urban else _area(rng, 90, 280)
            plans.append((PERSON_OWNER, head, household.address, household.town_code, area, "住宅"))
        if rng.random() < 0.12:
            town = names.pick_town(rng)
            usage = "住宅" if rng.random() < 0.7 else "商业"
            plans.append((*_in_town(rng, town, PERSON_OWNER, head, 40, 160), usage))
    for recipient in city.low_income.values():
        if recipient.flag == "property":
            person = city.persons[recipient.person_id]
            for usage in ("住宅", "商业"):
                town = names.pick_town(rng)
                plans.append((*_in_town(rng, town, PERSON_OWNER, person, 60, 200), usage))
    for enterprise in city.enterprise_seq:
        if enterprise.status not in ("存续", "在业"):
            continue
        manufacturing = enterprise.industry_code.startswith("C")
        if rng.random() < (0.5 if manufacturing else 0.25):
            if manufacturing:
                usage, area = "工业", _area(rng, 500, 20000)
            else:
                usage = "商业" if enterprise.industry_code[0] in "FH" else "办公"
                area = _area(rng, 60, 2000)
            plans.append(
                (UNIT_OWNER, enterprise, enterprise.address, enterprise.town_code, area, usage)
            )
    return plans


def _new_property(city: City, rng: random.Random, plan: tuple, registered: date) -> RealEstate:
    owner_type, owner, address, town_code, area, usage = plan
    if owner_type == PERSON_OWNER:
        owner_id, owner_name = owner.id_number, owner.name
    else:
        owner_id, owner_name = owner.uscc, owner.name
    record = RealEstate(
        certificate_no=_certificate_no(city, rng, registered.year),
        owner_type=owner_type,
        owner_id=owner_id,
        owner_name=owner_name,
        address=address,
        town_code=town_code,
        floor_area=area,
        usage=usage,
        registered_date=registered,
    )
    city.real_estate[record.certificate_no] = record
    return record


def build_real_estate(city: City) -> None:
    rng = city.rng("natres")
    ref = city.reference_date()
    plans = _property_plans(city, rng)
    dated = [(random_date(rng, date(2016, 1, 1), ref), index) for index in range(len(plans))]
    dated.sort()
    for registered, index in dated:
        record = _new_property(city, rng, plans[index], registered)
        city.log_initial("natres.real_estate", record.certificate_no)


# --- govdata: electronic licences ------------------------------------------------------------


@dataclass(slots=True)
class Licence(Record):
    RESOURCE: ClassVar[str] = "govdata.e_licence"

    licence_no: str
    licence_type: str
    holder_type: str
    holder_id: str
    holder_name: str
    issuer: str
    issue_date: date
    valid_until: date | None
    status: str
    holder_ref: str  # person_id or uscc


# licence type -> (number prefix, issuer)
LICENCE_TYPES = {
    "营业执照": ("YZ", "开平市市场监督管理局"),
    "食品经营许可证": ("JY", "开平市市场监督管理局"),
    "道路运输经营许可证": ("YS", "开平市交通运输局"),
    "居民身份证电子证照": ("SF", "开平市公安局"),
    "机动车驾驶证": ("JS", "江门市公安局交通警察支队"),
    "结婚证": ("JH", "开平市民政局"),
    "残疾人证": ("CJ", "开平市残疾人联合会"),
}


def _new_licence(
    city: City, licence_type: str, holder, issue: date, valid_until: date | None, status: str
) -> Licence:
    prefix, issuer = LICENCE_TYPES[licence_type]
    number = city.next_id(f"licence-{prefix}")
    if isinstance(holder, Enterprise):
        holder_type, holder_id, ref = UNIT_OWNER, holder.uscc, holder.uscc
    else:
        holder_type, holder_id, ref = PERSON_OWNER, holder.id_number, holder.person_id
    licence = Licence(
        licence_no=f"{prefix}{names.DIVISION}{issue.year}{number:07d}",
        licence_type=licence_type,
        holder_type=holder_type,
        holder_id=holder_id,
        holder_name=holder.name,
        issuer=issuer,
        issue_date=issue,
        valid_until=valid_until,
        status=status,
        holder_ref=ref,
    )
    city.licences[licence.licence_no] = licence
    city.licences_by_holder.setdefault(ref, []).append(licence.licence_no)
    return licence


def _enterprise_licences(city: City, rng: random.Random, enterprise: Enterprise, issue_from: date):
    status = VALID if enterprise.active else enterprise.status
    licences = [
        _new_licence(city, "营业执照", enterprise, enterprise.established_date, None, status)
    ]
    industry = names.industry(enterprise.industry_code)
    ref = max(issue_from, enterprise.established_date)
    if industry.food:
        issue = random_date(rng, ref, city.reference_date()) if city.day == 1 else city.date
        licences.append(
            _new_licence(
                city,
                "食品经营许可证",
                enterprise,
                issue,
                add_years(issue, 5) - timedelta(days=1),
                VALID if enterprise.active else CANCELLED,
            )
        )
    if enterprise.industry_code.startswith("G54"):
        issue = random_date(rng, ref, city.reference_date()) if city.day == 1 else city.date
        licences.append(
            _new_licence(
                city,
                "道路运输经营许可证",
                enterprise,
                issue,
                add_years(issue, 4),
                VALID if enterprise.active else CANCELLED,
            )
        )
    return licences


def _id_validity(age: int) -> int | None:
    if age < 16:
        return 5
    if age <= 25:
        return 10
    if age <= 45:
        return 20
    return None  # 长期


def build_licences(city: City) -> None:
    rng = city.rng("licences")
    ref = city.reference_date()
    for enterprise in city.enterprise_seq:
        _enterprise_licences(city, rng, enterprise, date(2016, 1, 1))
    for person in city.person_seq:
        if not person.alive:
            continue
        age = person.age(ref)
        if age >= 16 and rng.random() < 0.45:
            issue = random_date(rng, max(add_years(person.birth_date, 16), date(2012, 1, 1)), ref)
            years = _id_validity(person.age(issue))
            _new_licence(
                city,
                "居民身份证电子证照",
                person,
                issue,
                add_years(issue, years) if years else None,
                VALID,
            )
        if 18 <= age <= 70 and rng.random() < 0.3:
            issue = random_date(rng, max(add_years(person.birth_date, 18), date(2008, 1, 1)), ref)
            _new_licence(
                city, "机动车驾驶证", person, issue, add_years(issue, rng.choice([6, 10])), VALID
            )
        if person.marital_status == "20" and 22 <= age <= 70 and rng.random() < 0.15:
            issue = random_date(rng, max(add_years(person.birth_date, 22), date(1995, 1, 1)), ref)
            _new_licence(city, "结婚证", person, issue, None, VALID)
        if rng.random() < 0.012:
            issue = random_date(rng, max(person.birth_date, date(2015, 1, 1)), ref)
            _new_licence(city, "残疾人证", person, issue, add_years(issue, 10), VALID)
    for key in city.licences:
        city.log_initial("govdata.e_licence", key)


def _cancel_person_licences(city: City, person_id: str) -> None:
    rng = city.rng("licence-cancel", city.day, person_id)
    when = city.when(rng)
    for licence_no in city.licences_by_holder.get(person_id, []):
        licence = city.licences[licence_no]
        if licence.status == VALID:
            licence.status = CANCELLED
            city.touch("govdata.e_licence", licence_no, licence, when)


# --- build, hooks and daily changes -------------------------------------------------------------


def build(city: City) -> None:
    """Everything of these departments that needs persons and enterprises to exist."""
    _apply_recipient_flags(city)
    build_roster(city)
    build_real_estate(city)
    build_licences(city)


def enterprise_registered(city: City, enterprise: Enterprise, rng: random.Random, when) -> None:
    for licence in _enterprise_licences(city, rng, enterprise, city.date):
        city.touch("govdata.e_licence", licence.licence_no, licence, when)


def enterprise_closed(city: City, enterprise: Enterprise, rng: random.Random, when) -> None:
    for licence_no in city.licences_by_holder.get(enterprise.uscc, []):
        licence = city.licences[licence_no]
        if licence.status == VALID:
            licence.status = enterprise.status if licence.licence_type == "营业执照" else CANCELLED
            city.touch("govdata.e_licence", licence_no, licence, when)


def person_died(city: City, person: Person, rng: random.Random) -> None:
    """Other departments learn of a death late: assistance stops 15-60 days later."""
    for recipient_id in recipients_of(city, person.person_id):
        city.schedule(city.day + rng.randint(15, 60), _stop_assistance, recipient_id)
    if city.licences_by_holder.get(person.person_id):
        city.schedule(city.day + rng.randint(1, 3), _cancel_person_licences, person.person_id)


def daily(city: City) -> None:
    _daily_civil(city)
    _daily_roster(city)
    _daily_real_estate(city)
    _daily_licences(city)


def _daily_civil(city: City) -> None:
    rng = city.rng("civil", city.day)
    today = city.date
    for _ in range(stochastic_round(max(0.5, len(city.low_income) * 0.1 / 365), rng)):
        people = city.person_seq
        for _ in range(2000):
            person = people[rng.randrange(len(people))]
            if (
                person.alive
                and person.household_no
                and person.relation_to_head == "02"
                and person.person_id not in city.recipient_people
                and city.households[person.household_no].household_type == FAMILY
            ):
                recipient = _new_recipient(city, rng, person, today)
                city.touch("civil.low_income", recipient.recipient_id, recipient, city.when(rng))
                break
    for _ in range(stochastic_round(0.3, rng)):
        recipients = [r for r in city.low_income.values() if r.status == IN_CARE]
        if recipients:
            recipient = recipients[rng.randrange(len(recipients))]
            recipient.status = STOPPED
            city.touch("civil.low_income", recipient.recipient_id, recipient, city.when(rng))


def _daily_roster(city: City) -> None:
    rng = city.rng("overseas", city.day)
    count = stochastic_round(max(0.4, len(city.roster) * 0.002), rng)
    if count:
        pools = _roster_pools(city, rng)
        registered = {e.person_id for e in city.roster.values() if e.person_id}
        for pool in pools.values():
            pool[:] = [p for p in pool if p.person_id not in registered]
        for _ in range(count):
            entry = _new_roster_entry(city, rng, city.date, pools)
            city.touch("overseas.overseas_chinese", entry.roster_id, entry, city.when(rng))
    if rng.random() < 0.3 and city.roster:
        entries = list(city.roster.values())
        entry = entries[rng.randrange(len(entries))]
        relative = _relative(city, rng)
        if relative is not None and entry.category in ("华侨", "外籍华人", "港澳同胞"):
            entry.relative_name, entry.relative_phone = relative.name, relative.phone
            city.touch("overseas.overseas_chinese", entry.roster_id, entry, city.when(rng))


def _daily_real_estate(city: City) -> None:
    rng = city.rng("natres", city.day)
    today = city.date
    for _ in range(max(1, stochastic_round(max(1.2, len(city.real_estate) * 0.0004), rng))):
        town = names.pick_town(rng)
        if rng.random() < 0.75:
            people = city.person_seq
            owner = None
            for _ in range(2000):
                candidate = people[rng.randrange(len(people))]
                if candidate.alive and 25 <= candidate.age(today) <= 65:
                    owner = candidate
                    break
            if owner is None:
                continue
            plan = (*_in_town(rng, town, PERSON_OWNER, owner, 60, 160), "住宅")
        else:
            active = [e for e in city.enterprise_seq if e.active]
            owner = active[rng.randrange(len(active))]
            # the usage is drawn after the address and the area
            plan = (
                *_in_town(rng, town, UNIT_OWNER, owner, 100, 3000),
                "商业" if rng.random() < 0.5 else "工业",
            )
        record = _new_property(city, rng, plan, today)
        city.touch("natres.real_estate", record.certificate_no, record, city.when(rng))


def _daily_licences(city: City) -> None:
    rng = city.rng("licences", city.day)
    today = city.date
    people = city.person_seq
    for _ in range(max(1, stochastic_round(max(2.0, city.scale * 0.0002), rng))):
        for _ in range(2000):
            person = people[rng.randrange(len(people))]
            if not person.alive or person.age(today) < 16:
                continue
            held = city.licences_by_holder.get(person.person_id, [])
            if any(city.licences[n].licence_type == "居民身份证电子证照" for n in held):
                continue
            years = _id_validity(person.age(today))
            valid_until = add_years(today, years) if years else None
            licence = _new_licence(city, "居民身份证电子证照", person, today, valid_until, VALID)
            city.touch("govdata.e_licence", licence.licence_no, licence, city.when(rng))
            break
    if rng.random() < 0.5:
        for _ in range(2000):
            person = people[rng.randrange(len(people))]
            if person.alive and 18 <= person.age(today) <= 60:
                licence = _new_licence(
                    city, "机动车驾驶证", person, today, add_years(today, 6), VALID
                )
                city.touch("govdata.e_licence", licence.licence_no, licence, city.when(rng))
                break


def recipients_of(city: City, person_id: str) -> list[str]:
    return [r.recipient_id for r in city.low_income.values() if r.person_id == person_id]
