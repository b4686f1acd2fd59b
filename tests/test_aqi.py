"""HJ 633-2012 air quality index: Table 1, formula (1) rounded up, the notes, Table 2, and the
SQL function ``standards.iaqi`` agreeing with Python on thousands of concentrations.

Table 1 is written out here a second time, on purpose: it is the test's oracle for the
code set CSV that both implementations read.
"""

from __future__ import annotations

import json
import random
import shutil
from decimal import Decimal
from fractions import Fraction

import psycopg
import pytest
from govlake.governance.store import connect
from govlake.sensors import aqi as A
from govlake.sensors.aqi import AqiError, aqi, band, iaqi
from govlake.sensors.cli import app
from govlake.standards.registry import load_registry
from typer.testing import CliRunner

SEED = 6332012
IAQI_STEPS = [0, 50, 100, 150, 200, 300, 400, 500]
TABLE_1 = {
    ("so2", "24h"): [0, 50, 150, 475, 800, 1600, 2100, 2620],
    ("so2", "1h"): [0, 150, 500, 650, 800],
    ("no2", "24h"): [0, 40, 80, 180, 280, 565, 750, 940],
    ("no2", "1h"): [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    ("pm10", "24h"): [0, 50, 150, 250, 350, 420, 500, 600],
    ("co", "24h"): [0, 2, 4, 14, 24, 36, 48, 60],
    ("co", "1h"): [0, 5, 10, 35, 60, 90, 120, 150],
    ("o3", "1h"): [0, 160, 200, 300, 400, 800, 1000, 1200],
    ("o3", "8h"): [0, 100, 160, 215, 265, 800],
    ("pm25", "24h"): [0, 35, 75, 115, 150, 250, 350, 500],
}


# --- Table 1 ------------------------------------------------------------------------------


def test_the_code_set_is_table_1_of_the_standard():
    tables = A.read_breakpoints()
    assert set(tables) == set(TABLE_1)
    for key, concentrations in TABLE_1.items():
        segments = tables[key]
        assert [s.c_lo for s in segments] + [segments[-1].c_hi] == concentrations, key
        assert [s.iaqi_lo for s in segments] + [segments[-1].iaqi_hi] == IAQI_STEPS[
            : len(concentrations)
        ]
        assert {s.unit for s in segments} == {"mg/m³" if key[0] == "co" else "μg/m³"}


def test_the_code_set_is_a_valid_registered_code_set():
    registry = load_registry()
    code_set = registry.code_sets[A.CODE_SET]
    assert code_set.standard == "HJ 633" and code_set.edition == "HJ 633-2012"
    assert code_set.columns == A.COLUMNS
    assert len(code_set.values) == sum(len(c) - 1 for c in TABLE_1.values())


@pytest.mark.parametrize("key", sorted(TABLE_1))
def test_every_breakpoint_maps_to_its_iaqi(key):
    pollutant, period = key
    for concentration, expected in zip(TABLE_1[key], IAQI_STEPS, strict=False):
        assert iaqi(pollutant, concentration, period) == expected, (key, concentration)
        assert iaqi(pollutant, float(concentration), period) == expected
        assert iaqi(pollutant, Decimal(concentration), period) == expected


@pytest.mark.parametrize(
    ("pollutant", "concentration", "period", "expected"),
    [
        # formula (1) mid-segment: exact values stay, fractions round up
        ("pm25", 55, "24h", 75),  # 50 + 50·20/40 = 75
        ("pm25", 100, "24h", 132),  # 100 + 50·25/40 = 131.25 → 132
        ("pm10", 100, "24h", 75),
        ("so2", 300, "24h", 124),  # 100 + 50·150/325 = 123.08 → 124
        ("so2", 325, "1h", 75),
        ("no2", 150, "1h", 75),
        ("no2", 60, "24h", 75),
        ("co", 3, "24h", 75),
        ("co", Decimal("7.5"), "1h", 75),
        ("o3", 180, "8h", 119),  # 100 + 50·20/55 = 118.18 → 119
        ("o3", 600, "1h", 250),
        ("pm25", 200, "24h", 250),
        # 向上进位取整数: just above a breakpoint is already the next integer
        ("pm25", Decimal("35.01"), "24h", 51),
        ("pm25", Decimal("0.1"), "24h", 1),
        ("pm25", 0, "24h", 0),
        ("pm25", 35.5, "24h", 51),
        # exact arithmetic: 200 + 100/70 · (352.1 - 350) is 203.00000000000003 in floats
        ("pm10", 352.1, "24h", 203),
        ("so2", 2120.8, "24h", 404),
        ("co", 2.4, "24h", 60),
        ("co", Fraction(12, 5), "24h", 60),
        # above the top of Table 1 the index stays 500 ("爆表")
        ("pm25", 501, "24h", 500),
        ("pm25", 5000, "24h", 500),
        ("co", 1000, "1h", 500),
        ("o3", 1201, "1h", 500),
    ],
)
def test_formula_1_rounded_up(pollutant, concentration, period, expected):
    assert iaqi(pollutant, concentration, period) == expected


def test_note_2_so2_one_hour_above_800_uses_the_24_hour_average():
    assert iaqi("so2", 800, "1h") == 200
    assert iaqi("so2", 801, "1h") is None
    assert iaqi("so2", 801, "1h", fallback=300) == iaqi("so2", 300, "24h") == 124
    assert iaqi("so2", 5000, "1h", fallback=3000) == 500
    result = aqi({"so2": 900, "so2_24h": 300, "pm25": 40}, "hourly")
    assert result.iaqi["so2"] == 124 and result.indicators["so2_1h"] == 124
    assert result.aqi == 124 and result.primary_pollutants == ("so2",)
    assert len(result.notes) == 1 and "注2" in result.notes[0] and "note 2" in result.notes[0]
    with pytest.raises(AqiError, match=r"so2_24h"):
        aqi({"so2": 900, "pm25": 40}, "hourly")


def test_note_3_o3_eight_hour_above_800_uses_the_one_hour_average():
    assert iaqi("o3", 800, "8h") == 300
    assert iaqi("o3", 801, "8h") is None
    assert iaqi("o3", 900, "8h", fallback=1100) == iaqi("o3", 1100, "1h") == 450
    daily = aqi({"o3": 900, "o3_1h": 1100, "pm25": 30}, "daily")
    assert daily.iaqi["o3"] == 450 and daily.indicators["o3_8h"] == 450
    assert "注3" in daily.notes[0]
    with pytest.raises(AqiError, match=r"o3_1h"):
        aqi({"o3": 900}, "daily")
    hourly = aqi({"o3": 1000, "o3_8h": 850}, "hourly")  # the 1-hour value is at hand
    assert hourly.indicators == {"o3_1h": 400, "o3_8h": 400}


def test_note_1_the_reports_use_their_own_averages():
    hourly = aqi({"so2": 500, "no2": 200, "co": 10}, "hourly")
    daily = aqi({"so2": 500, "no2": 200, "co": 10}, "daily")
    assert hourly.indicators == {"so2_1h": 100, "no2_1h": 100, "co_1h": 100}
    assert daily.indicators == {"so2_24h": 154, "no2_24h": 160, "co_24h": 130}
    assert aqi({"pm25": 75, "pm10": 150}, "hourly").indicators == {
        "pm10_24h": 100, "pm25_24h": 100,
    }  # fmt: skip
    # explicit names of the same averages are accepted, not twice
    assert aqi({"so2_1h": 500}, "hourly").aqi == 100
    with pytest.raises(AqiError, match="twice"):
        aqi({"so2": 10, "so2_1h": 10}, "hourly")
    with pytest.raises(AqiError, match="日报不计算"):
        aqi({"so2_1h": 10}, "daily")


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: iaqi("pm25", -1, "24h"), ["不能为负", "negative"]),
        (lambda: iaqi("pm1", 10, "24h"), ["未知污染物", "unknown pollutant"]),
        (lambda: iaqi("pm25", 10, "1h"), ["没有", "no IAQI breakpoints", "24h"]),
        (lambda: iaqi("pm25", float("nan"), "24h"), ["有限", "finite"]),
        (lambda: iaqi("pm25", True, "24h"), ["数值", "number"]),
        (lambda: iaqi("pm25", "35", "24h"), ["数值", "number"]),
        (lambda: aqi({"pm25": 10}, "weekly"), ["未知的报告类型", "unknown period"]),
        (lambda: aqi({"pm1": 10}, "hourly"), ["不计算", "takes"]),
        (lambda: aqi({"pm25": None}, "hourly"), ["没有可计算的浓度", "no concentration"]),
        (lambda: aqi({"pm10": -0.5}, "daily"), ["不能为负", "negative"]),
        (lambda: band(-1), ["非负整数", "non-negative"]),
    ],
)
def test_errors_say_what_is_wrong_in_chinese_and_english(call, words):
    with pytest.raises(AqiError) as caught:
        call()
    for word in words:
        assert word in str(caught.value)


def test_a_broken_breakpoint_table_is_refused_naming_file_and_line(tmp_path):
    broken = tmp_path / "hj_633_2012_iaqi.csv"
    shutil.copyfile(A.BREAKPOINTS_CSV, broken)
    lines = broken.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",150,475,", ",151,475,")  # so2_24h_3 leaves a gap
    lines[5] = lines[5].replace("μg/m³", "mg/m³")
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AqiError) as caught:
        A.read_breakpoints(broken)
    message = str(caught.value)
    assert "hj_633_2012_iaqi.csv line 4 (so2_24h_3)" in message and "does not continue" in message
    assert "line 6" in message and "unit" in message


# --- Table 2: level, category, colour; primary pollutants --------------------------------------


@pytest.mark.parametrize(
    ("pm25", "expected_aqi", "level", "category", "colour"),
    [
        (35, 50, 1, "优", "绿色"),
        (Decimal("35.5"), 51, 2, "良", "黄色"),
        (75, 100, 2, "良", "黄色"),
        (Decimal("75.5"), 101, 3, "轻度污染", "橙色"),
        (115, 150, 3, "轻度污染", "橙色"),
        (Decimal("115.5"), 151, 4, "中度污染", "红色"),
        (150, 200, 4, "中度污染", "红色"),
        (Decimal("150.5"), 201, 5, "重度污染", "紫色"),
        (250, 300, 5, "重度污染", "紫色"),
        (Decimal("250.5"), 301, 6, "严重污染", "褐红色"),
        (600, 500, 6, "严重污染", "褐红色"),
    ],
)
def test_level_category_and_colour_at_the_boundaries(pm25, expected_aqi, level, category, colour):
    result = aqi({"pm25": pm25}, "daily")
    assert (result.aqi, result.level, result.category, result.colour) == (
        expected_aqi, level, category, colour,
    )  # fmt: skip
    assert result.band.level_zh == "一二三四五六"[level - 1] + "级"


def test_table_2_covers_every_aqi_once():
    levels = [band(value).level for value in range(0, 501)]
    assert levels == sorted(levels) and set(levels) == {1, 2, 3, 4, 5, 6}
    assert [b.colour_hex for b in A.BANDS] == [
        "#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023",
    ]  # fmt: skip
    assert all(b.health_effect_zh and b.advice_zh for b in A.BANDS)


def test_primary_pollutants():
    clean = aqi({"pm25": 35, "pm10": 50, "o3": 160}, "hourly")
    assert clean.aqi == 50 and clean.primary_pollutants == () and clean.primary_names == "无 none"
    one = aqi({"pm25": 36, "pm10": 50}, "hourly")
    assert one.aqi == 52 and one.primary_pollutants == ("pm25",)
    tie = aqi({"pm25": 75, "pm10": 150, "no2": 40}, "daily")
    assert tie.aqi == 100 and tie.primary_pollutants == ("pm10", "pm25")
    assert tie.exceeding_pollutants == ()
    assert tie.primary_names == "可吸入颗粒物（PM10）、细颗粒物（PM2.5）"
    over = aqi({"pm25": 120, "o3": 300, "o3_1h": 260}, "daily")
    assert over.indicators == {"o3_8h": 207, "pm25_24h": 158, "o3_1h": 130}
    assert over.iaqi == {"o3": 207, "pm25": 158} and over.exceeding_pollutants == ("o3", "pm25")
    assert over.primary_pollutants == ("o3",)
    assert aqi({"pm25": 80, "so2": None}, "hourly").iaqi == {"pm25": 107}


def test_the_command_line_prints_chinese_then_english():
    runner = CliRunner()
    result = runner.invoke(app, ["--pm25", "80", "--pm10", "120", "--o3", "150", "--co", "1.2"])
    assert result.exit_code == 0, result.output
    for text in ("AQI 空气质量指数: 107", "细颗粒物（PM2.5）", "107", "三级", "轻度污染",
                 "lightly polluted", "橙色", "首要污染物 primary"):  # fmt: skip
        assert text in result.output, text
    daily = runner.invoke(app, ["--pm25", "20", "--o3", "120", "--daily"])
    assert daily.exit_code == 0 and "日报" in daily.output
    assert "AQI 空气质量指数: 67" in daily.output
    assert "无 none" not in daily.output.split("首要污染物")[1].splitlines()[0]
    clean = runner.invoke(app, ["--pm25", "10"])
    assert "首要污染物 primary pollutant(s): 无 none" in clean.output and "优" in clean.output
    note = runner.invoke(app, ["--so2", "900", "--so2-24h", "300"])
    assert note.exit_code == 0 and "注2" in note.output
    bad = runner.invoke(app, ["--pm25", "-3"])
    assert bad.exit_code == 1 and "不能为负" in bad.output and "negative" in bad.output
    missing = runner.invoke(app, ["--so2", "900"])
    assert missing.exit_code == 1 and "so2_24h" in missing.output


# --- SQL: standards.iaqi agrees with Python ------------------------------------------------


@pytest.fixture
def warehouse(platform) -> psycopg.Connection:
    with connect() as conn:
        assert A.apply_aqi_functions(conn) == sum(len(c) - 1 for c in TABLE_1.values())
        assert A.apply_aqi_functions(conn) == 65  # idempotent
        yield conn


def _concentrations(key: tuple[str, str], rng: random.Random, count: int) -> list[Decimal]:
    """Breakpoints and their neighbours, then random values with 0-3 decimals up to 120% of
    the table's top."""
    top = TABLE_1[key][-1]
    values = set()
    for point in TABLE_1[key]:
        for delta in ("0", "0.001", "0.1", "1"):
            values |= {Decimal(point) + Decimal(delta), max(Decimal(0), point - Decimal(delta))}
    while len(values) < count:
        scale = rng.choice((0, 1, 1, 2, 3))
        values.add(Decimal(rng.randrange(0, int(top * 1.2 * 10**scale) + 1)).scaleb(-scale))
    return sorted(values)


@pytest.mark.parametrize("key", sorted(TABLE_1))
def test_sql_iaqi_agrees_with_python(warehouse, key):
    pollutant, period = key
    rng = random.Random(f"{SEED}:{pollutant}:{period}")
    values = _concentrations(key, rng, 4000)
    fallback_period = A.NOTE_FALLBACK.get(key)
    fallbacks = [  # the other average of Table 1's notes 2 and 3, given or not
        Decimal(rng.randrange(0, 30000)).scaleb(-1)
        if fallback_period and rng.random() < 0.7 else None
        for _ in values
    ]  # fmt: skip
    rows = warehouse.execute(
        "select standards.iaqi(%s, %s, c, f) from unnest(%s::numeric[], %s::numeric[]) "
        "with ordinality as t(c, f, n) order by n",
        (pollutant, period, values, fallbacks),
    ).fetchall()
    expected = [
        iaqi(pollutant, c, period, fallback=f) for c, f in zip(values, fallbacks, strict=True)
    ]
    actual = [row[0] for row in rows]
    mismatches = [(c, e, a) for c, e, a in zip(values, expected, actual, strict=True) if e != a]
    assert not mismatches, f"{len(mismatches)} disagreements, e.g. {mismatches[:5]}"
    assert len(set(expected)) > 100 or max(TABLE_1[key]) <= 800  # the whole table was used
    if fallback_period:
        assert None in expected and any(e is not None for e in expected[-50:])


def test_sql_levels_categories_and_errors(warehouse):
    rows = warehouse.execute(
        "select v, standards.aqi_level(v), standards.aqi_category(v) "
        "from generate_series(0, 600) as v order by v"
    ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [
        (band(r[0]).level, band(r[0]).category_zh) for r in rows
    ]
    assert warehouse.execute("select standards.iaqi('pm25', '24h', null)").fetchone()[0] is None
    for statement, words in (
        ("select standards.iaqi('pm25', '24h', -1)", ["不能为负", "negative"]),
        ("select standards.iaqi('pm25', '1h', 10)", ["没有分指数分段", "pm25"]),
        ("select standards.iaqi('pm1', '24h', 10)", ["no IAQI breakpoints"]),
    ):
        with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
            warehouse.execute(statement)
        warehouse.rollback()
        for word in words:
            assert word in str(caught.value)


def test_the_dbt_macros_render_calls_of_the_same_functions(warehouse):
    from govlake.transform.dbt import run_dbt

    inline = (
        "select c, {{ iaqi('pm25', 'c', '24h') }} as pm25, "
        "{{ iaqi('so2', 'c * 10', '1h', 'c') }} as so2, "
        "{{ aqi_level('c') }} as level, {{ aqi_category('c') }} as category "
        "from (values (1, 35.5), (2, -1), (3, null), (4, 90)) as t(n, c) order by n"
    )
    result = run_dbt("--quiet", "show", "--inline", inline, "--output", "json", capture=True)
    assert result.returncode == 0, result.stdout[-4000:]
    rows = json.loads(result.stdout[result.stdout.index("{") :])["show"]
    assert [(r["pm25"], r["so2"], r["level"], r["category"]) for r in rows] == [
        (iaqi("pm25", Decimal("35.5"), "24h"), iaqi("so2", 355, "1h"), 1, "优"),
        (None, None, None, None),  # a negative reading is for the quality checks: NULL
        (None, None, None, None),
        (119, iaqi("so2", 900, "1h", fallback=90), 2, "良"),  # note 2 through the fallback
    ]
