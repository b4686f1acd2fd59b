"""The ``govlake`` command as a data engineer uses it."""

from __future__ import annotations

from govlake.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "simulate", "catalog", "ingest", "runs", "quarantine", "up"):
        assert command in result.output


def test_catalog_list_and_show():
    listing = runner.invoke(app, ["catalog", "list"])
    assert listing.exit_code == 0
    assert "police.person" in listing.output and "有条件共享" in listing.output
    shown = runner.invoke(app, ["catalog", "show", "police.person"])
    assert shown.exit_code == 0
    assert "id_number" in shown.output and "KP.DE.0102" in shown.output and "L4" in shown.output
    assert "ingest__police__person" in shown.output


def test_catalog_show_names_the_known_resources_for_a_typo():
    result = runner.invoke(app, ["catalog", "show", "police.persons"])
    assert result.exit_code == 1
    assert "unknown resource 'police.persons'" in result.output
    assert "police.person" in result.output


def test_quarantine_lists_rows_with_file_row_field_and_reason(platform):
    from datetime import date

    from govlake import config
    from govlake.pipeline.ingest import extract_resource, load_resource

    folder = config.landing_dir() / "civil" / "2026-11-01"
    folder.mkdir(parents=True)
    (folder / "low_income_20261101.csv").write_text(
        "recipient_id,name,id_number,town_code,category,household_size,monthly_amount,"
        "start_date,status\nR1,关志强,,440783001,低保,3,800,2024-01-01,在册\n",
        encoding="utf-8",
    )
    batch = extract_resource("civil.low_income", date(2026, 11, 1))
    load_resource("civil.low_income", date(2026, 11, 1), batch["batch_id"])
    result = runner.invoke(app, ["quarantine", "civil.low_income", "--date", "2026-11-01"])
    assert result.exit_code == 0
    assert "low_income_20261101.csv" in result.output
    assert "required field 'id_number' is empty" in result.output
