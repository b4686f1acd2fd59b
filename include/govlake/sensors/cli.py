"""``govlake aqi``: the air quality index of a set of concentrations, by HJ 633-2012.

The main command line registers the function: ``app.command("aqi")(sensors_cli.aqi)``;
``app`` here runs it alone (tests use it with typer's CliRunner).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govlake.sensors import aqi as aqi_method

console = Console(width=None if sys.stdout.isatty() else 160)

Concentration = float | None


def _option(flag: str, help_text: str):
    return typer.Option(flag, help=help_text, show_default=False)


def aqi(
    pm25: Annotated[Concentration, _option("--pm25", "PM2.5 μg/m³ (24小时平均 24-hour)")] = None,
    pm10: Annotated[Concentration, _option("--pm10", "PM10 μg/m³ (24小时平均 24-hour)")] = None,
    so2: Annotated[Concentration, _option("--so2", "SO2 μg/m³ (实时报1小时 / 日报24小时)")] = None,
    no2: Annotated[Concentration, _option("--no2", "NO2 μg/m³ (实时报1小时 / 日报24小时)")] = None,
    co: Annotated[Concentration, _option("--co", "CO mg/m³ (实时报1小时 / 日报24小时)")] = None,
    o3: Annotated[
        Concentration, _option("--o3", "O3 μg/m³ (实时报1小时 / 日报最大8小时滑动平均)")
    ] = None,
    o3_8h: Annotated[
        Concentration, _option("--o3-8h", "O3 8小时滑动平均 8-hour moving average (hourly)")
    ] = None,
    o3_1h: Annotated[
        Concentration, _option("--o3-1h", "O3 日最大1小时平均 daily max 1-hour (daily)")
    ] = None,
    so2_24h: Annotated[
        Concentration,
        _option("--so2-24h", "SO2 24小时平均, 1小时高于800时用 used when 1-hour > 800"),
    ] = None,
    hourly: Annotated[
        bool,
        typer.Option(
            "--hourly/--daily",
            help="实时报（小时，默认）或日报 real-time hourly report (default) or daily report",
        ),
    ] = True,
) -> None:
    """空气质量指数 Air quality index (HJ 633-2012): IAQI, AQI, 首要污染物, 级别, 类别."""
    period = "hourly" if hourly else "daily"
    given = {
        "pm25": pm25, "pm10": pm10, "so2": so2, "no2": no2, "co": co, "o3": o3,
        "o3_8h": o3_8h, "o3_1h": o3_1h, "so2_24h": so2_24h,
    }  # fmt: skip
    concentrations = {key: value for key, value in given.items() if value is not None}
    try:
        result = aqi_method.aqi(concentrations, period)
    except aqi_method.AqiError as error:
        console.print(f"[red]✗ {error}[/red]")
        raise typer.Exit(1) from None
    name_zh, name_en = aqi_method.REPORT_NAMES[period]
    table = Table(title=f"HJ 633-2012 {name_zh} {name_en}")
    for column in ("污染物 pollutant", "平均时间 average", "浓度 concentration", "IAQI"):
        table.add_column(column, justify="right" if column != "污染物 pollutant" else "left")
    for key, value in result.indicators.items():
        pollutant, average = key.rsplit("_", 1)
        given_value = next(
            v for k, v in concentrations.items()
            if aqi_method.report_average(k, period) == (pollutant, average)
        )  # fmt: skip
        unit = "mg/m³" if pollutant == "co" else "μg/m³"
        table.add_row(
            aqi_method.pollutant_label(pollutant),
            f"{aqi_method.PERIODS[average][0]} {aqi_method.PERIODS[average][1]}",
            f"{given_value:g} {unit}",
            str(value),
        )
    console.print(table)
    band = result.band
    console.print(f"AQI 空气质量指数: [bold]{result.aqi}[/bold]")
    console.print(f"首要污染物 primary pollutant(s): {result.primary_names}")
    exceeding = "、".join(map(aqi_method.pollutant_label, result.exceeding_pollutants))
    console.print(f"超标污染物 exceeding pollutant(s): {exceeding or '无 none'}")
    console.print(f"级别 level: {band.level_zh} (level {band.level})")
    console.print(f"类别 category: {band.category_zh} {band.category_en}")
    console.print(f"颜色 colour: {band.colour_zh} {band.colour_en} {band.colour_hex}")
    console.print(f"健康影响 health effects: {band.health_effect_zh}")
    console.print(f"建议措施 advice: {band.advice_zh}")
    for note in result.notes:
        console.print(f"[yellow]注 note: {note}[/yellow]")


app = typer.Typer(help="空气质量指数 Air quality index (HJ 633-2012).")
app.command("aqi")(aqi)
