"""The air quality index (AQI) of HJ 633-2012 环境空气质量指数（AQI）技术规定（试行）.

One source of truth: the IAQI breakpoints of the standard's Table 1 are the code set
``include/standards/code_sets/hj_633_2012_iaqi.csv`` (one row per segment: pollutant,
period, iaqi_lo, iaqi_hi, c_lo, c_hi, unit). This module reads it; so does the SQL function
``standards.iaqi`` (``standards/sql/aqi_functions.sql``, installed with the CSV's rows by
:func:`apply_aqi_functions`), which the dbt macro ``iaqi`` calls. Tests compare the two on
many thousands of concentrations.

The method, as this module reads the standard (details and sources in docs/sensors_aqi.md):

- IAQI by formula (1), linear interpolation inside the segment of Table 1 holding C:
  ``IAQI = (IAQI_Hi - IAQI_Lo) / (BP_Hi - BP_Lo) * (C - BP_Lo) + IAQI_Lo``, computed exactly
  (rational arithmetic; a float is taken as the decimal it prints as, ``35.1`` is 351/10).
- Rounding: the IAQI is rounded **up** to an integer (向上进位取整数, ceiling), so 50.01 → 51
  and every concentration above a breakpoint falls in the next category. HJ 633-2012's own
  text, as far as I know it, gives formula (1) without a rounding rule; the ceiling is what
  the national real-time release practice and the widely published implementations of the
  standard do, and what later revisions reportedly state. AQI = max IAQI (formula 2), an
  integer already.
- Table 1 notes: (1) the 1-hour limits of SO2, NO2 and CO are for the real-time (hourly)
  report only; the daily report uses the 24-hour limits. (2) an SO2 1-hour average above
  800 μg/m³ gets no IAQI from the hourly table: SO2's IAQI is reported from its 24-hour
  average. (3) an O3 8-hour average above 800 μg/m³ gets no IAQI from the 8-hour table:
  O3's IAQI is reported from its 1-hour average. ``iaqi()`` returns None in these two cases
  unless given the other average as ``fallback``; ``aqi()`` applies the notes itself.
- Above the top of Table 1 (IAQI 500) the IAQI is 500: the standard defines no index above
  500 (the "爆表" of heavy haze days). Negative concentrations are errors.
- Primary pollutant(s) (首要污染物): when AQI > 50, every pollutant whose IAQI equals the
  AQI (ties give several); none when AQI ≤ 50. Exceeding pollutants (超标污染物): IAQI > 100.
- Level, category, colour and health advice: Table 2 and Appendix A (colours).

Which averages a report uses (section 4 of the standard, as I read it): the daily report
(日报) uses the 24-hour averages of SO2, NO2, PM10, CO and PM2.5, the daily maximum 8-hour
moving average of O3 and, when given, the daily maximum 1-hour average of O3. The real-time
report (实时报, hourly) uses the 1-hour averages of SO2, NO2, CO and O3, PM10 and PM2.5
against their 24-hour limits (Table 1 has no 1-hour PM limits; pass the 24-hour moving
average ending at the hour, or the hourly value if that is the release practice you follow)
and, when given, the O3 8-hour moving average. Concentrations are taken as given; round them
first per the data rules (HJ 630, GB 3095) if published values must match to the digit.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from importlib import resources as package_files
from pathlib import Path

from govlake import config

STANDARD = "HJ 633-2012"
CODE_SET = "hj_633_2012_iaqi"
BREAKPOINTS_CSV = config.STANDARDS_DIR / "code_sets" / f"{CODE_SET}.csv"
COLUMNS = ("code", "name", "name_en", "pollutant", "period", "iaqi_lo", "iaqi_hi", "c_lo",
           "c_hi", "unit")  # fmt: skip
TOP_IAQI = 500  # the top of Table 1; no index is defined above it

# the pollutants of Table 1, in its order: code → (Chinese name, formula)
POLLUTANTS: dict[str, tuple[str, str]] = {
    "so2": ("二氧化硫", "SO2"),
    "no2": ("二氧化氮", "NO2"),
    "pm10": ("可吸入颗粒物", "PM10"),
    "co": ("一氧化碳", "CO"),
    "o3": ("臭氧", "O3"),
    "pm25": ("细颗粒物", "PM2.5"),
}
PERIODS: dict[str, tuple[str, str]] = {
    "1h": ("1小时平均", "1-hour average"),
    "8h": ("8小时滑动平均", "8-hour moving average"),
    "24h": ("24小时平均", "24-hour average"),
}
# Table 1 notes (2) and (3): above the top of these tables, the IAQI is the one of the
# same pollutant's other average
NOTE_FALLBACK: dict[tuple[str, str], str] = {("so2", "1h"): "24h", ("o3", "8h"): "1h"}

# what each report computes: indicator key → (pollutant, period). A plain pollutant code
# names the report's main average of it; "<pollutant>_<period>" names any average.
REPORTS: dict[str, dict[str, tuple[str, str]]] = {
    "hourly": {
        "so2": ("so2", "1h"),
        "no2": ("no2", "1h"),
        "pm10": ("pm10", "24h"),
        "co": ("co", "1h"),
        "o3": ("o3", "1h"),
        "pm25": ("pm25", "24h"),
        "o3_8h": ("o3", "8h"),
    },
    "daily": {
        "so2": ("so2", "24h"),
        "no2": ("no2", "24h"),
        "pm10": ("pm10", "24h"),
        "co": ("co", "24h"),
        "o3": ("o3", "8h"),
        "pm25": ("pm25", "24h"),
        "o3_1h": ("o3", "1h"),
    },
}
# averages a report takes only for a Table 1 note (they are no indicator of their own)
NOTE_INPUTS: dict[str, dict[str, tuple[str, str]]] = {
    "hourly": {"so2_24h": ("so2", "24h")},
    "daily": {},
}
REPORT_NAMES = {"hourly": ("实时报（小时）", "real-time (hourly)"), "daily": ("日报", "daily")}

Number = int | float | Decimal | Fraction


class AqiError(ValueError):
    """A concentration, pollutant or period HJ 633-2012 cannot compute (message zh + en)."""


@dataclass(frozen=True)
class Segment:
    """One segment of Table 1: concentrations c_lo..c_hi map linearly onto iaqi_lo..iaqi_hi."""

    code: str
    pollutant: str
    period: str
    iaqi_lo: int
    iaqi_hi: int
    c_lo: Fraction
    c_hi: Fraction
    unit: str


@dataclass(frozen=True)
class AqiBand:
    """One row of Table 2 (with the colour of Appendix A)."""

    level: int
    level_zh: str
    aqi_lo: int
    aqi_hi: int | None
    category_zh: str
    category_en: str
    colour_zh: str
    colour_en: str
    rgb: tuple[int, int, int]
    health_effect_zh: str
    advice_zh: str

    @property
    def colour_hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


# HJ 633-2012 Table 2 (空气质量指数及相关信息) and Appendix A (RGB colours), transcribed
# from public copies of the standard.
BANDS: tuple[AqiBand, ...] = (
    AqiBand(1, "一级", 0, 50, "优", "excellent", "绿色", "green", (0, 228, 0),
            "空气质量令人满意，基本无空气污染", "各类人群可正常活动"),
    AqiBand(2, "二级", 51, 100, "良", "good", "黄色", "yellow", (255, 255, 0),
            "空气质量可接受，但某些污染物可能对极少数异常敏感人群健康有较弱影响",
            "极少数异常敏感人群应减少户外活动"),
    AqiBand(3, "三级", 101, 150, "轻度污染", "lightly polluted", "橙色", "orange",
            (255, 126, 0), "易感人群症状有轻度加剧，健康人群出现刺激症状",
            "儿童、老年人及心脏病、呼吸系统疾病患者应减少长时间、高强度的户外锻炼"),
    AqiBand(4, "四级", 151, 200, "中度污染", "moderately polluted", "红色", "red",
            (255, 0, 0), "进一步加剧易感人群症状，可能对健康人群心脏、呼吸系统有影响",
            "儿童、老年人及心脏病、呼吸系统疾病患者避免长时间、高强度的户外锻炼，"
            "一般人群适量减少户外运动"),
    AqiBand(5, "五级", 201, 300, "重度污染", "heavily polluted", "紫色", "purple",
            (153, 0, 76), "心脏病和肺病患者症状显著加剧，运动耐受力降低，健康人群普遍出现症状",
            "儿童、老年人和心脏病、肺病患者应停留在室内，停止户外运动，一般人群减少户外运动"),
    AqiBand(6, "六级", 301, None, "严重污染", "severely polluted", "褐红色", "maroon",
            (126, 0, 35), "健康人群运动耐受力降低，有明显强烈症状，提前出现某些疾病",
            "儿童、老年人和病人应当留在室内，避免体力消耗，一般人群应避免户外活动"),
)  # fmt: skip


@dataclass
class AqiResult:
    """The AQI of one set of concentrations and what Table 2 says about it.

    ``iaqi`` is per pollutant (the larger one when a report has two averages of it, as O3
    in both reports); ``indicators`` per average computed (``"o3_8h"``, ``"so2_1h"``…).
    """

    period: str
    aqi: int
    iaqi: dict[str, int]
    indicators: dict[str, int]
    primary_pollutants: tuple[str, ...]
    exceeding_pollutants: tuple[str, ...]
    level: int
    category: str
    colour: str
    band: AqiBand
    notes: tuple[str, ...] = field(default=())

    @property
    def primary_names(self) -> str:
        """The primary pollutants as reported: ``细颗粒物（PM2.5）``, or ``无 none``."""
        if not self.primary_pollutants:
            return "无 none"
        return "、".join(pollutant_label(p) for p in self.primary_pollutants)


# --- the breakpoint table ---------------------------------------------------------------


def _number(text: str) -> Fraction:
    return Fraction(Decimal(text.strip()))


def read_breakpoints(path: Path | None = None) -> dict[tuple[str, str], tuple[Segment, ...]]:
    """Table 1 from the code set CSV, checked: (pollutant, period) → its segments, in order.

    Raises :class:`AqiError` naming the file and line of every problem.
    """
    path = Path(path or BREAKPOINTS_CSV)
    problems: list[str] = []
    tables: dict[tuple[str, str], list[Segment]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise AqiError(f"{path}: 表头应为 header must be {','.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            where = f"{path.name} line {line} ({row.get('code')})"
            try:
                segment = Segment(
                    code=row["code"],
                    pollutant=row["pollutant"],
                    period=row["period"],
                    iaqi_lo=int(row["iaqi_lo"]),
                    iaqi_hi=int(row["iaqi_hi"]),
                    c_lo=_number(row["c_lo"]),
                    c_hi=_number(row["c_hi"]),
                    unit=row["unit"],
                )
            except (ValueError, ArithmeticError, TypeError) as error:
                problems.append(f"{where}: 不是数值 not a number: {error}")
                continue
            if segment.pollutant not in POLLUTANTS:
                problems.append(f"{where}: 未知污染物 unknown pollutant {segment.pollutant!r}")
            if segment.period not in PERIODS:
                problems.append(f"{where}: 未知平均时间 unknown period {segment.period!r}")
            if not (segment.c_lo < segment.c_hi and segment.iaqi_lo < segment.iaqi_hi):
                problems.append(f"{where}: 分段上限须大于下限 upper bounds must exceed lower")
            expected_unit = "mg/m³" if segment.pollutant == "co" else "μg/m³"
            if segment.unit != expected_unit:
                problems.append(f"{where}: 单位应为 unit must be {expected_unit}")
            segments = tables.setdefault((segment.pollutant, segment.period), [])
            previous = segments[-1] if segments else None
            if previous is None and (segment.c_lo != 0 or segment.iaqi_lo != 0):
                problems.append(f"{where}: 首段须从0开始 the first segment must start at 0")
            if previous is not None and (
                segment.c_lo != previous.c_hi or segment.iaqi_lo != previous.iaqi_hi
            ):
                problems.append(
                    f"{where}: 与上一段不衔接 does not continue the previous segment "
                    f"{previous.code}"
                )
            segments.append(segment)
    for (pollutant, period), segments in tables.items():
        top = segments[-1].iaqi_hi
        if top > TOP_IAQI or (top < TOP_IAQI and (pollutant, period) not in NOTE_FALLBACK):
            problems.append(
                f"{path.name}: {pollutant} {period}: 表1止于分指数500，除注2、注3所列 "
                f"Table 1 ends at IAQI 500 except where its notes say otherwise (ends at {top})"
            )
    if problems:
        raise AqiError(
            f"{STANDARD} 分段表有误 breakpoint table is invalid ({len(problems)}):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return {key: tuple(value) for key, value in tables.items()}


@lru_cache(maxsize=1)
def breakpoints() -> dict[tuple[str, str], tuple[Segment, ...]]:
    """Table 1 of the repository's code set (read once per process)."""
    return read_breakpoints()


def pollutant_label(pollutant: str) -> str:
    """``细颗粒物（PM2.5）``."""
    name_zh, formula = POLLUTANTS[pollutant]
    return f"{name_zh}（{formula}）"


# --- IAQI --------------------------------------------------------------------------------


def _exact(value: object, what: str) -> Fraction:
    """The concentration as an exact rational; a float as the decimal it prints as."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
        raise AqiError(f"{what}: 浓度须为数值 concentration must be a number, not {value!r}")
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise AqiError(f"{what}: 浓度须为有限数值 concentration must be finite, not {value}")
    exact = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if exact < 0:
        raise AqiError(f"{what}: 浓度不能为负 concentration cannot be negative ({value})")
    return exact


def _table(pollutant: str, period: str) -> tuple[Segment, ...]:
    tables = breakpoints()
    if pollutant not in POLLUTANTS:
        raise AqiError(
            f"未知污染物 unknown pollutant {pollutant!r}: HJ 633-2012 表1 的污染物为 "
            f"Table 1's pollutants are {', '.join(POLLUTANTS)}"
        )
    if (pollutant, period) not in tables:
        periods = [p for (q, p) in tables if q == pollutant]
        raise AqiError(
            f"{POLLUTANTS[pollutant][1]} 没有{period!r}的分指数分段 has no IAQI breakpoints "
            f"for period {period!r} in HJ 633-2012 Table 1; its periods: {', '.join(periods)}"
        )
    return tables[(pollutant, period)]


def iaqi(
    pollutant: str, concentration: Number, period: str, fallback: Number | None = None
) -> int | None:
    """IAQI of one pollutant's average (μg/m³; CO mg/m³) by HJ 633-2012, rounded up.

    ``period`` is ``"1h"``, ``"8h"`` (O3) or ``"24h"``. Returns None where Table 1's notes
    say no IAQI is computed — SO2 1-hour above 800 μg/m³, O3 8-hour above 800 μg/m³ —
    unless ``fallback`` gives the average the note names instead (SO2's 24-hour average,
    O3's 1-hour average), whose IAQI is then returned.
    """
    segments = _table(pollutant, period)
    c = _exact(concentration, f"{pollutant} {period}")
    if c > segments[-1].c_hi:
        if segments[-1].iaqi_hi >= TOP_IAQI:
            return TOP_IAQI
        if fallback is None:
            return None
        return iaqi(pollutant, fallback, NOTE_FALLBACK[(pollutant, period)])
    segment = next(s for s in segments if s.c_lo <= c <= s.c_hi)
    rise = Fraction(segment.iaqi_hi - segment.iaqi_lo) / (segment.c_hi - segment.c_lo)
    return math.ceil(segment.iaqi_lo + rise * (c - segment.c_lo))  # formula (1), rounded up


# --- AQI ---------------------------------------------------------------------------------


def band(aqi_value: int) -> AqiBand:
    """The row of Table 2 an AQI falls in."""
    if isinstance(aqi_value, bool) or not isinstance(aqi_value, int) or aqi_value < 0:
        raise AqiError(f"AQI 须为非负整数 must be a non-negative integer, not {aqi_value!r}")
    return next(b for b in BANDS if b.aqi_hi is None or aqi_value <= b.aqi_hi)


def _note(pollutant: str, period: str, value: Fraction, other: str) -> str:
    number = {"so2": "注2 note 2", "o3": "注3 note 3"}[pollutant]
    return (
        f"{POLLUTANTS[pollutant][1]} {PERIODS[period][0]}浓度 {float(value):g} 高于800 μg/m³，"
        f"按{PERIODS[other][0]}浓度计算的分指数报告 — above 800 μg/m³, reported by the IAQI "
        f"of its {PERIODS[other][1]} (HJ 633-2012 表1 {number})"
    )


def report_average(key: str, period: str) -> tuple[str, str]:
    """(pollutant, period) a key of ``aqi()``'s concentrations names in a report."""
    report = REPORTS[period]
    names = {**report, **NOTE_INPUTS[period]}
    names.update({f"{p}_{a}": (p, a) for p, a in report.values()})
    if key not in names:
        raise AqiError(
            f"{REPORT_NAMES[period][0]}不计算 {key!r} — the {REPORT_NAMES[period][1]} report "
            f"takes {', '.join(sorted(names))} (μg/m³; co in mg/m³)"
        )
    return names[key]


def aqi(concentrations: Mapping[str, Number | None], period: str = "hourly") -> AqiResult:
    """AQI, IAQIs, primary pollutants and Table 2's level of one station and hour or day.

    ``concentrations``: pollutant code → concentration (μg/m³; CO mg/m³), the report's
    main average of it — hourly: SO2, NO2, CO, O3 1-hour and PM10, PM2.5 against their
    24-hour limits; daily: 24-hour averages and O3's daily maximum 8-hour moving average.
    More averages by ``<pollutant>_<period>``: ``o3_8h`` (hourly), ``o3_1h`` (daily, the
    daily maximum 1-hour), ``so2_24h`` (hourly; needed when SO2 1-hour exceeds 800).
    None means not measured. ``period``: ``"hourly"`` (实时报) or ``"daily"`` (日报).
    """
    if period not in REPORTS:
        raise AqiError(
            f"未知的报告类型 unknown period {period!r}: 须为 must be 'hourly' (实时报) or "
            f"'daily' (日报)"
        )
    values: dict[tuple[str, str], Fraction] = {}
    seen: set[tuple[str, str]] = set()
    for key, value in concentrations.items():
        target = report_average(key, period)
        if target in seen:
            raise AqiError(f"{key!r}: 同一浓度给了两次 the same average is given twice")
        seen.add(target)
        if value is not None:
            values[target] = _exact(value, key)
    indicators: dict[str, int] = {}
    notes: list[str] = []
    for pollutant, average in REPORTS[period].values():
        if (pollutant, average) not in values:
            continue
        c = values[(pollutant, average)]
        result = iaqi(pollutant, c, average)
        if result is None:
            other = NOTE_FALLBACK[(pollutant, average)]
            if (pollutant, other) not in values:
                raise AqiError(
                    f"{POLLUTANTS[pollutant][1]} {PERIODS[average][0]}浓度高于800 μg/m³，"
                    f"须给出{PERIODS[other][0]}浓度 ({pollutant}_{other}) — above 800 μg/m³, "
                    f"HJ 633-2012 Table 1 reports its IAQI from the {PERIODS[other][1]}: give "
                    f"{pollutant}_{other}"
                )
            result = iaqi(pollutant, values[(pollutant, other)], other)
            notes.append(_note(pollutant, average, c, other))
        assert result is not None
        indicators[f"{pollutant}_{average}"] = result
    if not indicators:
        raise AqiError("没有可计算的浓度 no concentration to compute an AQI from")
    per_pollutant: dict[str, int] = {}
    for key, value in indicators.items():
        pollutant = key.rsplit("_", 1)[0]
        per_pollutant[pollutant] = max(value, per_pollutant.get(pollutant, 0))
    per_pollutant = {p: per_pollutant[p] for p in POLLUTANTS if p in per_pollutant}
    result_aqi = max(per_pollutant.values())
    primary = (
        tuple(p for p, v in per_pollutant.items() if v == result_aqi) if result_aqi > 50 else ()
    )
    row = band(result_aqi)
    return AqiResult(
        period=period,
        aqi=result_aqi,
        iaqi=per_pollutant,
        indicators=indicators,
        primary_pollutants=primary,
        exceeding_pollutants=tuple(p for p, v in per_pollutant.items() if v > 100),
        level=row.level,
        category=row.category_zh,
        colour=row.colour_zh,
        band=row,
        notes=tuple(notes),
    )


# --- SQL -------------------------------------------------------------------------------


def aqi_functions_sql() -> str:
    return (
        package_files.files("govlake.standards")
        .joinpath("sql/aqi_functions.sql")
        .read_text("utf-8")
    )


def apply_aqi_functions(conn, path: Path | None = None) -> int:
    """Install ``standards.iaqi`` & co. and load Table 1 into ``standards.hj_633_2012_iaqi``.

    Idempotent; returns the segments loaded. dbt seeds the same CSV into the same table
    (the functions work with or without dbt).
    """
    from psycopg import sql

    from govlake.standards.check_sql import ADVISORY_LOCK

    path = Path(path or BREAKPOINTS_CSV)
    read_breakpoints(path)  # never load a table this module would refuse
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        conn.execute(aqi_functions_sql())
        conn.execute(f"truncate standards.{CODE_SET}")
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in header)
        statement = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier("standards", CODE_SET), columns
        )
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)
