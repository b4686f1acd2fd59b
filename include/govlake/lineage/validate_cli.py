"""``validate``: check an OpenLineage event log against the specification, offline.

A typer command for the main command line to register: the function
(``metadata_cli.app.command("validate-events")(validate_cli.validate)``) or the group
``app`` (``app.add_typer(validate_cli.app, name="events")``: ``govlake events validate``).

Exit code 0 when every event is valid, 1 when any has a problem (each is listed: line,
job, run, what is wrong), 2 when the file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 160)
MAX_SHOWN = 50  # events listed in full; the count covers all


def validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="事件日志 the JSON-lines event log (default: $GOVLAKE_HOME/lineage/events.jsonl)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """校验血缘事件 Validate OpenLineage events (each event against OpenLineage.json, each
    facet against the schema its _schemaURL names; no network)."""
    from govlake.lineage.transport import events_file
    from govlake.lineage.validate import validate_lines

    path = file or events_file()
    try:
        with path.open(encoding="utf-8") as log:
            lines = log.readlines()
    except OSError as error:
        console.print(
            f"[red]✗ 无法读取 cannot read {path}: {error.strerror or error}[/red] — pass the "
            f"event log as FILE, or run a pipeline first so that it exists"
        )
        raise typer.Exit(2) from None
    events = sum(1 for line in lines if line.strip())
    bad = list(validate_lines(lines))
    for problem in bad[:MAX_SHOWN]:
        console.print(str(problem), markup=False, highlight=False)
    if len(bad) > MAX_SHOWN:
        console.print(f"… {len(bad) - MAX_SHOWN} more invalid events")
    if bad:
        console.print(
            f"[red]✗ {len(bad)}/{events} 个事件不符合规范 events are invalid[/red] ({path})"
        )
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {events} 个事件均符合规范 events are valid ({path})")


app = typer.Typer(help="血缘事件 OpenLineage events of the platform.", no_args_is_help=True)


@app.callback()
def events() -> None:
    """血缘事件 OpenLineage events of the platform (``validate``)."""


app.command("validate")(validate)
