"""The SQL check functions give the same verdicts and reasons as the Python checks.

Each test installs the functions in a fresh warehouse database (the ``platform`` fixture)
and compares ``standards.*_problem`` with ``govlake.standards.checks`` on thousands of
generated values: valid ones and every kind of corruption the standards define.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta

import psycopg
import pytest
from govlake import config
from govlake.governance.store import connect
from govlake.standards.check_sql import apply_check_functions
from govlake.standards.checks import (
    ID_PROVINCES,
    USCC_ALPHABET,
    USCC_CATEGORIES,
    id_check_char,
    org_code_check_char,
    uscc_check_char,
    validate_citizen_id,
    validate_cn_mobile,
    validate_uscc,
)
from govlake.standards.divisions import RESIDENCE_PERMIT_AREAS, division_codes

SEED = 20260


def _divisions() -> list[dict[str, str]]:
    path = config.STANDARDS_DIR / "code_sets" / "gbt_2260.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def warehouse(platform) -> psycopg.Connection:
    with connect() as conn:
        loaded = apply_check_functions(conn)
        assert loaded == len(division_codes())
        apply_check_functions(conn)  # idempotent
        yield conn


def _sql_verdicts(conn, function: str, values: list[str], as_of: date | None = None) -> list:
    if as_of is None:
        query = f"select standards.{function}(v) from unnest(%s::text[]) with ordinality as t(v, n) order by n"  # noqa: E501
        rows = conn.execute(query, (values,)).fetchall()
    else:
        query = f"select standards.{function}(v, %s) from unnest(%s::text[]) with ordinality as t(v, n) order by n"  # noqa: E501
        rows = conn.execute(query, (as_of, values)).fetchall()
    return [row[0] for row in rows]


def _assert_agree(conn, function: str, check, values: list[str], as_of: date | None = None):
    expected = [check(v) if as_of is None else check(v, as_of=as_of) for v in values]
    actual = _sql_verdicts(conn, function, values, as_of)
    mismatches = [(v, e, a) for v, e, a in zip(values, expected, actual, strict=True) if e != a]
    assert not mismatches, f"{len(mismatches)} disagreements, e.g. {mismatches[:5]}"
    return expected


# --- value generators -------------------------------------------------------------------


def _birth(rng: random.Random) -> date:
    return date(1900, 1, 1) + timedelta(
        days=rng.randrange((date(2026, 12, 31) - date(1900, 1, 1)).days)
    )


def _id(area: str, birth: date, rng: random.Random) -> str:
    first17 = f"{area}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


def _citizen_ids(rng: random.Random) -> dict[str, list[str]]:
    divisions = _divisions()
    current = [d["code"] for d in divisions if d["status"] == "current"]
    historical = [d["code"] for d in divisions if d["status"] == "historical"]
    known = division_codes()
    kinds: dict[str, list[str]] = {}
    kinds["valid"] = [_id(rng.choice(current), _birth(rng), rng) for _ in range(4000)]
    kinds["historical area"] = [_id(rng.choice(historical), _birth(rng), rng) for _ in range(2000)]
    kinds["residence permit"] = [
        _id(rng.choice(sorted(RESIDENCE_PERMIT_AREAS)), _birth(rng), rng) for _ in range(300)
    ]
    wrong = []
    for value in kinds["valid"][:2000]:
        wrong.append(value[:17] + rng.choice([c for c in "0123456789X" if c != value[17]]))
    kinds["wrong check character"] = wrong
    bad_dates = []
    for _ in range(1500):
        year = rng.choice([rng.randint(1900, 2026), 1899, 1800, 0, 2100, 1900, 2023])
        month, day = rng.choice(
            [(0, 10), (13, 1), (2, 29), (2, 30), (4, 31), (6, 31), (1, 0), (1, 32), (99, 99)]
        )
        if (month, day) == (2, 29) and year % 4 == 0 and year % 100 != 0:
            year += 1  # 29 February of a year that is not a leap year
        if year >= 1900 and (month, day) == (12, 31):
            continue
        first17 = f"{rng.choice(current)}{year:04d}{month:02d}{day:02d}{rng.randrange(1000):03d}"
        bad_dates.append(first17 + id_check_char(first17))
    kinds["bad date"] = bad_dates
    unknown_area = []
    while len(unknown_area) < 1500:
        area = rng.choice(sorted(ID_PROVINCES)) + f"{rng.randrange(10000):04d}"
        if area not in known and area not in RESIDENCE_PERMIT_AREAS:
            unknown_area.append(_id(area, _birth(rng), rng))
    kinds["unknown area"] = unknown_area
    kinds["unknown province"] = [
        _id(f"{p:02d}0101", _birth(rng), rng)
        for p in range(100)
        if f"{p:02d}" not in ID_PROVINCES
        for _ in range(5)
    ]
    kinds["legacy 15-digit"] = [
        f"{rng.choice(current)}{_birth(rng):%y%m%d}{rng.randrange(1000):03d}" for _ in range(500)
    ]
    kinds["lowercase x"] = [v[:17] + "x" for v in kinds["valid"] if v.endswith("X")] + [
        f"{rng.randrange(10**17):017d}x" for _ in range(200)
    ]
    kinds["wrong length"] = [
        "".join(rng.choice("0123456789X") for _ in range(n))
        for n in range(0, 26)
        if n not in (15, 18)
        for _ in range(40)
    ]
    letters = []
    for value in kinds["valid"][:1500]:
        at = rng.randrange(18)
        letters.append(value[:at] + rng.choice("ABCxyz -/.０１２３٣汉\t\n") + value[at + 1 :])
    kinds["letters and other characters"] = letters
    return kinds


def _uscc(prefix: str, division: str, body: str) -> str:
    first17 = prefix + division + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def _usccs(rng: random.Random) -> dict[str, list[str]]:
    def body() -> str:
        return "".join(rng.choice(USCC_ALPHABET) for _ in range(8))

    def division() -> str:
        return rng.choice(["440783", "440700", "100000", "350100", f"{rng.randrange(10**6):06d}"])

    kinds: dict[str, list[str]] = {}
    kinds["valid, every authority and category"] = [
        _uscc(authority + category, division(), body())
        for authority, categories in USCC_CATEGORIES.items()
        for category in categories
        for _ in range(60)
    ]
    kinds["category not issued by the authority"] = [
        _uscc(authority + category, division(), body())
        for authority, categories in USCC_CATEGORIES.items()
        for category in USCC_ALPHABET
        if category not in categories
        for _ in range(3)
    ]
    kinds["unknown authority"] = [
        _uscc(authority + "1", division(), body())
        for authority in USCC_ALPHABET
        if authority not in USCC_CATEGORIES
        for _ in range(20)
    ]
    valid = kinds["valid, every authority and category"]
    kinds["wrong check character"] = [
        v[:17] + rng.choice([c for c in USCC_ALPHABET if c != v[17]]) for v in valid[:1500]
    ]
    kinds["bad organisation code"] = [
        v[:16] + rng.choice([c for c in "0123456789X" if c != v[16]]) + v[17] for v in valid[:1500]
    ]
    kinds["division not digits"] = [
        _uscc("91", "4407" + rng.choice("ABCDE") + "3", body()) for _ in range(200)
    ]
    kinds["characters outside the alphabet"] = [
        v[: (at := rng.randrange(18))] + rng.choice("IOSVZabcio -汉Ｘ") + v[at + 1 :]
        for v in valid[:1500]
    ]
    kinds["lowercase"] = [v.lower() for v in valid[:500]]
    kinds["wrong length"] = [
        "".join(rng.choice(USCC_ALPHABET) for _ in range(n))
        for n in range(0, 26)
        if n != 18
        for _ in range(20)
    ]
    return kinds


def _mobiles(rng: random.Random) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    kinds["every prefix"] = [
        f"1{second}{rng.randrange(10**9):09d}" for second in range(10) for _ in range(200)
    ]
    kinds["wrong length"] = [
        "1" + "".join(rng.choice("0123456789") for _ in range(n))
        for n in range(0, 15)
        if n != 10
        for _ in range(30)
    ]
    kinds["decorated"] = [
        rng.choice(["+86", "86", " ", "0"]) + f"13{rng.randrange(10**9):09d}" for _ in range(300)
    ] + [f"138{rng.randrange(10**8):08d}" + rng.choice(["\n", " ", "-", "x"]) for _ in range(300)]
    kinds["full-width digits"] = ["１３８００１３８０００", "13８00138000", "١٣٨٠٠١٣٨٠٠٠"]
    return kinds


# --- agreement -------------------------------------------------------------------------


def test_citizen_id_checks_agree_on_generated_values(warehouse):
    kinds = _citizen_ids(random.Random(SEED))
    total = 0
    for kind, values in kinds.items():
        verdicts = _assert_agree(warehouse, "citizen_id_problem", validate_citizen_id, values)
        total += len(values)
        if kind in ("valid", "historical area", "residence permit"):
            assert verdicts == [None] * len(values), kind
        else:
            assert None not in verdicts, kind
    assert total > 15_000


def test_each_corruption_gets_its_own_reason(warehouse):
    kinds = _citizen_ids(random.Random(SEED + 1))
    fragments = {
        "wrong check character": "wrong check character",
        "bad date": "invalid birth date",
        "unknown area": "unknown area code",
        "legacy 15-digit": "legacy 15-digit",
        "lowercase x": "lowercase check character",
    }
    for kind, fragment in fragments.items():
        reasons = _sql_verdicts(warehouse, "citizen_id_problem", kinds[kind])
        assert all(fragment in reason for reason in reasons), (kind, reasons[:3])


def test_birth_dates_after_as_of_agree(warehouse):
    rng = random.Random(SEED + 2)
    values = [_id("440783", _birth(rng), rng) for _ in range(3000)]
    for as_of in (date(1950, 1, 1), date(2000, 2, 29), date(2026, 11, 1)):
        verdicts = _assert_agree(
            warehouse, "citizen_id_problem", validate_citizen_id, values, as_of=as_of
        )
        assert any(v and "after" in v for v in verdicts) and None in verdicts


def test_uscc_checks_agree_on_generated_values(warehouse):
    kinds = _usccs(random.Random(SEED + 3))
    total = 0
    for kind, values in kinds.items():
        verdicts = _assert_agree(warehouse, "uscc_problem", validate_uscc, values)
        total += len(values)
        if kind.startswith("valid"):
            assert verdicts == [None] * len(values), kind
        else:
            assert None not in verdicts, kind
    assert total > 8_000


def test_mobile_checks_agree_on_generated_values(warehouse):
    for kind, values in _mobiles(random.Random(SEED + 4)).items():
        verdicts = _assert_agree(warehouse, "cn_mobile_problem", validate_cn_mobile, values)
        if kind != "every prefix":
            assert None not in verdicts, kind
        else:
            assert verdicts.count(None) == 1400  # 13-19 valid, 10-12 not


# --- the standards' own examples and edge cases -------------------------------------------

EDGE_CITIZEN_IDS = [
    "11010519491231002X",  # GB 11643-1999's own example
    "440783199011238279",  # Kaiping, born before 440783 was listed (1995): still valid
    "440724" + "19800101001" + id_check_char("44072419800101001"),  # 开平县, before 1993
    "449007" + "19930601002" + id_check_char("44900719930601002"),  # 开平市 1993-1994
    "442729" + "19500101003" + id_check_char("44272919500101003"),  # 开平县 under 佛山地区
    "440106" + "20000229004" + id_check_char("44010620000229004"),  # 29 Feb of 2000
    "440106" + "19000229005" + id_check_char("44010619000229005"),  # 1900 was no leap year
    "440106" + "19000101006" + id_check_char("44010619000101006"),  # first accepted day
    "440106" + "18991231007" + id_check_char("44010618991231007"),
    "830000" + "19800101008" + id_check_char("83000019800101008"),  # Taiwan residence permit
    "710000" + "19800101009" + id_check_char("71000019800101009"),  # 台湾省 in GB/T 2260
    "449999" + "19800101000" + id_check_char("44999919800101000"),  # no such area
    "110105491231002",  # legacy 15 digits
    "11010519491231002x",
    "11010519491231002X ",
    " 11010519491231002X",
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width
    "",
]
EDGE_USCCS = [
    "91350100M000100Y43",  # a real-format code (check character 3)
    "91350100M000100Y4",
    "9135010OM000100Y43",
    "Y1440783" + "MA00001R" + org_code_check_char("MA00001R"),  # incomplete: 17 characters
    "N2440783" + "MA0000XA" + org_code_check_char("MA0000XA") + "0",
    "",
]
EDGE_MOBILES = ["13800138000", "19912345678", "12345678901", "13800138000\n", "+8613800138000"]


def test_edge_cases_agree(warehouse):
    _assert_agree(warehouse, "citizen_id_problem", validate_citizen_id, EDGE_CITIZEN_IDS)
    _assert_agree(warehouse, "uscc_problem", validate_uscc, EDGE_USCCS)
    _assert_agree(warehouse, "cn_mobile_problem", validate_cn_mobile, EDGE_MOBILES)
    verdicts = dict(
        zip(
            EDGE_CITIZEN_IDS,
            _sql_verdicts(warehouse, "citizen_id_problem", EDGE_CITIZEN_IDS),
            strict=True,
        )
    )
    assert verdicts["11010519491231002X"] is None
    assert verdicts["440783199011238279"] is None
    assert verdicts[EDGE_CITIZEN_IDS[2]] is None and verdicts[EDGE_CITIZEN_IDS[3]] is None
    assert "invalid birth date 19000229" in verdicts[EDGE_CITIZEN_IDS[6]]
    assert "unknown area code 449999" in verdicts[EDGE_CITIZEN_IDS[11]]


def test_null_and_boolean_wrappers(warehouse):
    row = warehouse.execute(
        "select standards.citizen_id_problem(null), standards.uscc_problem(null), "
        "standards.cn_mobile_problem(null), standards.is_valid_citizen_id('11010519491231002X'), "
        "standards.is_valid_citizen_id('11010519491231002X', date '1949-12-30'), "
        "standards.is_valid_uscc('91350100M000100Y43'), standards.is_valid_cn_mobile('1380013800')"
    ).fetchone()
    assert row == ("空值 empty value",) * 3 + (True, False, True, False)


def test_functions_survive_dbt_replacing_the_seed_table(warehouse):
    # dbt seed --full-refresh drops and recreates standards.gbt_2260 (cascade)
    warehouse.execute("drop table standards.gbt_2260 cascade")
    warehouse.execute("create table standards.gbt_2260 (code text, name text)")
    warehouse.execute("insert into standards.gbt_2260 values ('440783', '开平市')")
    row = warehouse.execute(
        "select standards.citizen_id_problem('440783199011238279'), "
        "standards.citizen_id_problem('440784199011238279')"
    ).fetchone()
    assert row[0] is None and "unknown area code 440784" in row[1]
