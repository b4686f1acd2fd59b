"""Market entities (market), their employees' social insurance (hrss) and their taxes (tax).

* Enterprises: about one per twelve residents (at least 50), GB 32100 codes with valid
  check characters (91 enterprises, 92 individual businesses, 93 farmers' cooperatives,
  division 440783), GB/T 4754-2017 industries typical of Kaiping.
* Some active enterprises are dormant (``dormant_since``): no employees' insurance and no
  tax after that date. Most dormant ones stopped before the tax history starts, so they
  are "zombie enterprises" — no tax and no social insurance for the last twelve months.
* Jobs link residents aged 18-60 to employers; each job is enrolled in several insurance
  types (110 企业职工基本养老保险, 210 失业保险, 310 职工基本医疗保险, 410 工伤保险).
  Flexible-employment enrolments (灵活就业) have no employer (``uscc`` NULL).
* Taxes are paid per enterprise and month, in the month after the tax period (days 1-15
  mostly, some late). Day 1 carries the payments of the twelve months before it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

from govlake.simulate import names
from govlake.simulate.calendar import add_months, add_years, history_start, period_of
from govlake.simulate.city import City, random_date, random_time, stochastic_round
from govlake.simulate.people import Person, new_id_number
from govlake.simulate.schema import Record
from govlake.standards.checks import USCC_ALPHABET, org_code_check_char, uscc_check_char

ACTIVE_STATUSES = ("存续", "在业")
CLOSED, REVOKED = "注销", "吊销"
ENTERPRISES_PER_PERSON = 1 / 12
MIN_ENTERPRISES = 50
DORMANT_SHARE = 0.10
EMPLOYED_SHARE = 0.45  # of living residents aged 18-60, employed by a Kaiping employer
FLEXIBLE_SHARE = 0.08  # of the others: self-enrolled flexible employment
INSURANCE_TYPES = ("110", "210", "310", "410")
FLEXIBLE_TYPES = ("110", "310")
MIN_BASE, MAX_BASE = 4588, 27501  # contribution base bounds (yuan/month)
ACTIVE, SUSPENDED, TERMINATED = "参保缴费", "暂停缴费", "终止参保"
TAX_CODES = {"增值税": "01", "企业所得税": "04", "个人所得税": "05", "城市维护建设税": "10"}
URBAN_TOWNS = ("440783001", "440783002")  # 城建税 7% in the urban subdistricts, 5% elsewhere


@dataclass(slots=True)
class Enterprise(Record):
    RESOURCE: ClassVar[str] = "market.enterprise"

    seq: int
    uscc: str
    name: str
    entity_type: str
    legal_rep_name: str | None
    legal_rep_id_number: str | None
    industry_code: str
    registered_capital: Decimal
    status: str
    address: str
    town_code: str
    established_date: date
    closed_date: date | None
    updated_at: datetime
    size: int = 0  # desired number of employees
    dormant_since: date | None = None
    website: str | None = None  # only shown from day 3 (schema drift)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(slots=True)
class Job:
    person_id: str
    uscc: str | None  # None: flexible employment
    start_date: date
    end_date: date | None
    base: int
    status: str
    types: tuple[str, ...]
    enrolment_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Enrolment(Record):
    RESOURCE: ClassVar[str] = "hrss.social_insurance"

    enrolment_id: str
    job: Job
    insurance_type: str
    updated_at: datetime

    def derived(self, city: City) -> dict:
        person, job = city.persons[self.job.person_id], self.job
        return {
            "id_number": person.id_number,
            "name": person.name,
            "uscc": job.uscc,
            "start_date": job.start_date,
            "end_date": job.end_date,
            "contribution_base": Decimal(job.base).quantize(Decimal("0.01")),
            "status": job.status,
        }


@dataclass(slots=True)
class TaxPayment(Record):
    RESOURCE: ClassVar[str] = "tax.tax_payment"

    payment_id: str
    uscc: str
    tax_period: str
    tax_type: str
    amount: Decimal
    paid_at: datetime
    updated_at: datetime


# --- enterprises ------------------------------------------------------------------------------


def new_uscc(city: City, rng: random.Random, entity_type: str, established: date) -> str:
    """A unique, valid GB 32100 code for a Kaiping market entity."""
    letters = USCC_ALPHABET
    while True:
        if established >= date(2015, 10, 1) or entity_type == "农民专业合作社":
            body = "MA" + "".join(rng.choice(letters) for _ in range(6))
        elif entity_type == "个体工商户":
            body = "L" + "".join(rng.choice("0123456789") for _ in range(7))
        else:
            body = rng.choice("1567") + "".join(rng.choice("0123456789") for _ in range(7))
        first17 = names.USCC_PREFIX[entity_type] + names.DIVISION + body + org_code_check_char(body)
        value = first17 + uscc_check_char(first17)
        if value not in city.usccs:
            city.usccs.add(value)
            return value


def _capital(rng: random.Random, entity_type: str) -> Decimal:
    options = {
        "个体工商户": [1, 2, 3, 5, 10, 20, 30, 50],
        "有限责任公司": [10, 30, 50, 100, 100, 200, 300, 500, 1000, 2000, 5000],
        "股份有限公司": [1000, 2000, 5000, 8000, 12000, 20000],
        "农民专业合作社": [5, 10, 20, 50, 100, 200],
    }.get(entity_type, [5, 10, 30, 50, 100, 200, 500])
    return Decimal(rng.choice(options)).quantize(Decimal("0.01"))


def _size(rng: random.Random, entity_type: str, industry_code: str) -> int:
    if entity_type == "个体工商户":
        return 0 if rng.random() < 0.65 else rng.randint(1, 3)
    if entity_type == "农民专业合作社":
        return rng.randint(0, 4)
    if entity_type == "股份有限公司":
        return rng.randint(50, 400)
    if entity_type in ("个人独资企业", "合伙企业"):
        return rng.randint(1, 10)
    median = 20 if industry_code.startswith("C") else 6
    return max(1, min(300, int(rng.lognormvariate(0, 0.9) * median)))


def _legal_rep(city: City, rng: random.Random, on: date) -> tuple[str, str, str | None]:
    """(name, id_number, person_id) of a legal representative; some live outside Kaiping."""
    if rng.random() < 0.05:
        sex = rng.choice("12")
        birth = random_date(rng, date(1960, 1, 1), date(1998, 12, 31))
        code, _, _ = rng.choice(names.OTHER_AREAS)
        return (
            names.person_name(rng, sex, birth.year),
            new_id_number(city, rng, code, birth, sex),
            None,
        )
    people = city.person_seq
    for _ in range(10000):
        person = people[rng.randrange(len(people))]
        if person.alive and 22 <= person.age(on) <= 70:
            return person.name, person.id_number, person.person_id
    person = people[0]
    return person.name, person.id_number, person.person_id


def _new_enterprise(
    city: City, rng: random.Random, established: date, status: str, updated_at: datetime
) -> Enterprise:
    entity_type = names.weighted(rng, [(t, w) for t, w, _ in names.ENTITY_TYPES])
    allowed = next(codes for t, _, codes in names.ENTITY_TYPES if t == entity_type).split()
    industry = names.weighted(rng, [(i, i.weight) for i in names.INDUSTRIES if i.code in allowed])
    town = names.pick_town(rng)
    if status == "active":
        status = "在业" if entity_type == "个体工商户" and rng.random() < 0.5 else "存续"
    rep_name, rep_id, rep_person = _legal_rep(city, rng, established)
    enterprise = Enterprise(
        seq=city.next_id("enterprise"),
        uscc=new_uscc(city, rng, entity_type, established),
        name=names.enterprise_name(rng, entity_type, industry, town),
        entity_type=entity_type,
        legal_rep_name=rep_name,
        legal_rep_id_number=rep_id,
        industry_code=industry.code,
        registered_capital=_capital(rng, entity_type),
        status=status,
        address=names.address(rng, town),
        town_code=town.code,
        established_date=established,
        closed_date=None,
        updated_at=updated_at,
        size=_size(rng, entity_type, industry.code),
    )
    if entity_type != "个体工商户" and rng.random() < 0.15:
        enterprise.website = f"http://www.kp{enterprise.uscc[-6:].lower()}.com"
    city.enterprises[enterprise.uscc] = enterprise
    city.enterprise_seq.append(enterprise)
    city.legal_reps[enterprise.uscc] = rep_person
    return enterprise


def build(city: City) -> None:
    """Enterprises, jobs and enrolments, tax history — the state before day 1."""
    rng = city.rng("market")
    ref = city.reference_date()
    count = max(MIN_ENTERPRISES, round(city.scale * ENTERPRISES_PER_PERSON))
    for _ in range(count):
        # more recent registrations (the 2014 reform multiplied individual businesses)
        year = min(2026, 1995 + int(31 * rng.random() ** 0.55))
        established = random_date(rng, date(year, 1, 1), min(date(year, 12, 31), ref))
        enterprise = _new_enterprise(city, rng, established, "active", datetime.min)
        enterprise.updated_at = random_time(
            rng, random_date(rng, max(established, date(2018, 1, 1)), ref)
        )
        if established < date(2024, 1, 1):
            roll = rng.random()
            if roll < 0.17:
                enterprise.status = CLOSED if roll < 0.12 else REVOKED
                enterprise.closed_date = random_date(
                    rng, min(ref, established + timedelta(days=365)), ref
                )
                enterprise.updated_at = random_time(rng, enterprise.closed_date)
        if enterprise.active and rng.random() < DORMANT_SHARE:
            if rng.random() < 0.7:
                start = max(enterprise.established_date, date(2023, 1, 1))
                enterprise.dormant_since = random_date(rng, start, date(2025, 10, 31))
            else:
                start = max(enterprise.established_date, history_start())
                enterprise.dormant_since = random_date(rng, start, date(2026, 8, 31))
    for key in city.enterprises:
        city.log_initial("market.enterprise", key)
    _build_jobs(city)
    _build_tax(city)


# --- jobs and enrolments ----------------------------------------------------------------------


def _employers(city: City) -> tuple[list[Enterprise], list[int]]:
    employers = [
        e for e in city.enterprise_seq if e.active and e.dormant_since is None and e.size > 0
    ]
    cumulative, total = [], 0
    for employer in employers:
        total += employer.size
        cumulative.append(total)
    return employers, cumulative


def _base(rng: random.Random) -> int:
    if rng.random() < 0.5:
        return MIN_BASE
    return min(MAX_BASE, int(MIN_BASE * (1 + rng.expovariate(1.6))))


def add_job(
    city: City,
    person: Person,
    uscc: str | None,
    start: date,
    base: int,
    types: tuple[str, ...],
    updated_at: datetime,
    end: date | None = None,
    status: str = ACTIVE,
) -> Job:
    job = Job(person.person_id, uscc, start, end, base, status, types)
    city.jobs.append(job)
    city.jobs_by_person.setdefault(person.person_id, []).append(job)
    if uscc is not None:
        city.jobs_by_employer.setdefault(uscc, []).append(job)
    for insurance_type in types:
        enrolment_id = f"SB{city.next_id('enrolment'):010d}"
        job.enrolment_ids.append(enrolment_id)
        city.enrolments[enrolment_id] = Enrolment(enrolment_id, job, insurance_type, updated_at)
    return job


def touch_job(city: City, job: Job, when: datetime) -> None:
    for enrolment_id in job.enrolment_ids:
        enrolment = city.enrolments[enrolment_id]
        city.touch("hrss.social_insurance", enrolment_id, enrolment, when)


def _types(rng: random.Random) -> tuple[str, ...]:
    return INSURANCE_TYPES if rng.random() < 0.85 else ("110", "310")


def _build_jobs(city: City) -> None:
    rng = city.rng("hrss")
    ref = city.reference_date()
    workforce = [p for p in city.person_seq if p.alive and 18 <= p.age(ref) <= 60]
    rng.shuffle(workforce)
    employed = workforce[: round(len(workforce) * EMPLOYED_SHARE)]
    others = workforce[len(employed) :]
    employers, cumulative = _employers(city)
    for person in employed:
        employer = rng.choices(employers, cum_weights=cumulative)[0]
        earliest = max(employer.established_date, _adult(person), date(2005, 1, 1))
        start = random_date(rng, earliest, ref)
        if rng.random() < 0.15 and start > earliest + timedelta(days=400):
            previous = rng.choices(employers, cum_weights=cumulative)[0]
            first = max(previous.established_date, earliest)
            if first < start - timedelta(days=60):
                begin = random_date(rng, first, start - timedelta(days=60))
                end = random_date(rng, begin + timedelta(days=30), start - timedelta(days=1))
                add_job(
                    city,
                    person,
                    previous.uscc,
                    begin,
                    _base(rng),
                    _types(rng),
                    random_time(rng, end),
                    end,
                    SUSPENDED,
                )
        add_job(
            city,
            person,
            employer.uscc,
            start,
            _base(rng),
            _types(rng),
            random_time(rng, random_date(rng, start, ref)),
        )
    for person in others:
        if rng.random() < FLEXIBLE_SHARE:
            start = random_date(rng, max(_adult(person), date(2012, 1, 1)), ref)
            add_job(city, person, None, start, MIN_BASE, FLEXIBLE_TYPES, random_time(rng, start))
    # dormant enterprises that once had employees: their jobs ended when they went quiet
    spare = others[::-1]
    for enterprise in city.enterprise_seq:
        if enterprise.dormant_since is None or rng.random() < 0.5 or not spare:
            continue
        for _ in range(rng.randint(1, 4)):
            if not spare:
                break
            person = spare.pop()
            start = random_date(
                rng,
                max(enterprise.established_date, _adult(person)),
                enterprise.dormant_since,
            )
            if start >= enterprise.dormant_since:
                continue
            add_job(
                city,
                person,
                enterprise.uscc,
                start,
                MIN_BASE,
                _types(rng),
                random_time(rng, enterprise.dormant_since),
                enterprise.dormant_since,
                SUSPENDED,
            )
    for key in city.enrolments:
        city.log_initial("hrss.social_insurance", key)


def _adult(person: Person) -> date:
    """The person's 18th birthday."""
    return add_years(person.birth_date, 18)


# --- tax ---------------------------------------------------------------------------------------


def _pays_in(enterprise: Enterprise, period_start: date) -> bool:
    period_end = add_months(period_start, 1) - timedelta(days=1)
    if enterprise.established_date > period_end:
        return False
    if enterprise.closed_date is not None and enterprise.closed_date < period_start:
        return False
    return not (enterprise.dormant_since is not None and enterprise.dormant_since <= period_start)


def period_payments(city: City, period_start: date) -> list[TaxPayment]:
    """The payments of every enterprise for the tax period starting ``period_start``."""
    rng = city.rng("tax", period_of(period_start))
    period = period_of(period_start)
    quarter_end = period_start.month in (3, 6, 9, 12)
    pay_month = add_months(period_start, 1)
    payments: list[TaxPayment] = []
    for enterprise in city.enterprise_seq:
        roll = rng.random()  # one draw per enterprise keeps the stream aligned
        pay_day = rng.randint(1, 15) if rng.random() < 0.92 else rng.randint(16, 28)
        scale = 2000 + 900 * enterprise.size
        amounts: dict[str, float] = {}
        kind = enterprise.entity_type
        if not _pays_in(enterprise, period_start) or kind == "农民专业合作社":
            continue
        if kind == "个体工商户":
            if quarter_end and roll < 0.6:
                amounts["个人所得税"] = rng.uniform(100, 3000)
                if roll < 0.3:
                    amounts["增值税"] = rng.uniform(300, 6000)
        else:
            if roll < 0.9:
                amounts["增值税"] = scale * rng.uniform(0.5, 1.5)
                rate = 0.07 if enterprise.town_code in URBAN_TOWNS else 0.05
                amounts["城市维护建设税"] = amounts["增值税"] * rate
            if enterprise.size > 0:
                amounts["个人所得税"] = 150 * enterprise.size * rng.uniform(0.6, 1.4)
            if quarter_end and kind in ("有限责任公司", "股份有限公司") and roll < 0.7:
                amounts["企业所得税"] = scale * 3 * rng.uniform(0.3, 1.7)
        paid_at = random_time(rng, pay_month.replace(day=pay_day), 8, 22)
        updated_at = min(
            paid_at + timedelta(minutes=rng.randint(0, 30)),
            datetime.combine(paid_at.date(), datetime.max.time()).replace(microsecond=0),
        )
        for tax_type, amount in amounts.items():
            payments.append(
                TaxPayment(
                    payment_id=f"SK{period.replace('-', '')}"
                    f"{enterprise.seq:06d}{TAX_CODES[tax_type]}",
                    uscc=enterprise.uscc,
                    tax_period=period,
                    tax_type=tax_type,
                    amount=Decimal(str(round(amount, 2))).quantize(Decimal("0.01")),
                    paid_at=paid_at,
                    updated_at=updated_at,
                )
            )
    return payments


def _build_tax(city: City) -> None:
    """Twelve months of history plus the current period, scheduled by payment date."""
    first_period = add_months(history_start(), -1)  # paid from history_start() on
    period = first_period
    last_period = add_months(city.date, -1)
    while period <= last_period:
        for payment in period_payments(city, period):
            city.payment_schedule[payment.paid_at.date()].append(payment)
        period = add_months(period, 1)
    for paid_on in sorted(d for d in city.payment_schedule if d < city.date):
        for payment in city.payment_schedule.pop(paid_on):
            city.payments[payment.payment_id] = payment
            city.log_initial("tax.tax_payment", payment.payment_id)


# --- daily changes ---------------------------------------------------------------------------


def daily(city: City) -> None:
    rng = city.rng("market", city.day)
    today = city.date
    count = len(city.enterprise_seq)
    for _ in range(max(1, stochastic_round(max(1.0, count * 0.12 / 365), rng))):
        when = city.when(rng)
        enterprise = _new_enterprise(city, rng, today, "active", when)
        city.touch("market.enterprise", enterprise.uscc, enterprise, when)
        from govlake.simulate import registers

        registers.enterprise_registered(city, enterprise, rng, when)
    for _ in range(stochastic_round(max(0.6, count * 0.06 / 365), rng)):
        _close(city, rng, CLOSED)
    for _ in range(stochastic_round(count * 0.01 / 365, rng)):
        _close(city, rng, REVOKED)
    _daily_jobs(city)
    _daily_tax(city)


def _close(city: City, rng: random.Random, status: str) -> None:
    seq = city.enterprise_seq
    for _ in range(500):
        enterprise = seq[rng.randrange(len(seq))]
        if enterprise.active and (enterprise.dormant_since or rng.random() < 0.4):
            break
    else:
        return
    when = city.when(rng)
    enterprise.status, enterprise.closed_date = status, city.date
    city.touch("market.enterprise", enterprise.uscc, enterprise, when)
    for job in city.jobs_by_employer.get(enterprise.uscc, []):
        if job.end_date is None:
            job.end_date, job.status = city.date, SUSPENDED
            touch_job(city, job, when)
    from govlake.simulate import registers

    registers.enterprise_closed(city, enterprise, rng, when)


def _daily_jobs(city: City) -> None:
    rng = city.rng("hrss", city.day)
    today = city.date
    active_jobs = [j for j in city.jobs if j.end_date is None and j.uscc is not None]
    employers, cumulative = _employers(city)
    hires = max(1, stochastic_round(max(1.0, len(active_jobs) * 0.15 / 365), rng))
    for _ in range(hires):
        person = _pick_unemployed(city, rng, today)
        if person is None or not employers:
            break
        employer = rng.choices(employers, cum_weights=cumulative)[0]
        when = city.when(rng)
        job = add_job(city, person, employer.uscc, today, _base(rng), _types(rng), when)
        touch_job(city, job, when)
    for _ in range(max(1, stochastic_round(max(1.0, len(active_jobs) * 0.12 / 365), rng))):
        if not active_jobs:
            break
        job = active_jobs[rng.randrange(len(active_jobs))]
        if job.end_date is not None:
            continue
        job.end_date, job.status = today, SUSPENDED
        touch_job(city, job, city.when(rng))


def _pick_unemployed(city: City, rng: random.Random, today: date) -> Person | None:
    people = city.person_seq
    for _ in range(5000):
        person = people[rng.randrange(len(people))]
        if not person.alive or not 18 <= person.age(today) <= 60:
            continue
        jobs = city.jobs_by_person.get(person.person_id, [])
        if all(j.end_date is not None for j in jobs):
            return person
    return None


def person_left(city: City, person: Person, rng: random.Random) -> None:
    """A death or a move out: the person's insurance ends some days later."""
    for job in city.jobs_by_person.get(person.person_id, []):
        if job.end_date is None:
            city.schedule(city.day + rng.randint(1, 10), _terminate, job, person.person_id)


def _terminate(city: City, job: Job, person_id: str) -> None:
    if job.end_date is not None:
        return
    person = city.persons[person_id]
    rng = city.rng("hrss-terminate", city.day, person_id)
    job.end_date = person.death_date or city.date
    job.status = TERMINATED
    touch_job(city, job, city.when(rng))


def _daily_tax(city: City) -> None:
    today = city.date
    if today.day == 1 and city.day > 1:
        for payment in period_payments(city, add_months(today, -1)):
            city.payment_schedule[payment.paid_at.date()].append(payment)
    for payment in city.payment_schedule.pop(today, []):
        city.payments[payment.payment_id] = payment
        city.touch("tax.tax_payment", payment.payment_id, payment, payment.updated_at)
