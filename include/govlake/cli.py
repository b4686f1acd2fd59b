"""``govlake``: the platform's command line (the make targets call it)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govlake import config
from govlake.lineage import cli as metadata_cli
from govlake.lineage import graph_cli, validate_cli
from govlake.quality import cli as quality_cli
from govlake.quality import workorder_cli
from govlake.sensors import cli as sensors_cli
from govlake.standards import cli as standards_cli

app = typer.Typer(
    help="开平市政务数据平台 Kaiping government data platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
catalog_app = typer.Typer(help="资源目录 The resource catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
dbt_app = typer.Typer(help="数据库建设 The libraries (dbt).", no_args_is_help=True)
app.add_typer(dbt_app, name="dbt")
# `govlake simulate [--scale …]` simulates the departments' systems; `govlake simulate
# sensors …` the city's sensors on MQTT
simulate_app = typer.Typer(
    help="模拟 Simulate Kaiping: the departments' systems, or (`simulate sensors`) its sensors.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(simulate_app, name="simulate")
app.add_typer(standards_cli.app, name="standards")
app.add_typer(quality_cli.app, name="quality")
app.add_typer(workorder_cli.app, name="workorders")
app.command("aqi")(sensors_cli.aqi)
app.add_typer(metadata_cli.app, name="metadata")
metadata_cli.app.command("validate-events")(validate_cli.validate)
app.command("lineage")(graph_cli.lineage)
app.command("impact")(graph_cli.impact)
catalog_app.command("site")(graph_cli.site)
# wide tables stay readable when the output goes to a file or CI log
console = Console(width=None if sys.stdout.isatty() else 160)

DEMO_SCALE = 2000
DEMO_SEED = 7
DEMO_DAYS = 3


def _fail(message: str) -> None:
    console.print(f"[red]✗ {message}[/red]")
    raise typer.Exit(1)


def _date_of(day: int | None, on: str | None) -> date:
    from govlake.simulate.calendar import business_date

    if on:
        return date.fromisoformat(on)
    return business_date(day or 1)


# --- runtime ---------------------------------------------------------------------------


@app.command()
def up() -> None:
    """Start the embedded runtime (PostgreSQL, object store, APIs, MQTT broker) as configured."""
    from govlake.runtime.services import status
    from govlake.runtime.services import up as start

    start(broker=True)
    for key, value in status().items():
        console.print(f"[bold]{key}[/bold]: {value}")


@app.command()
def down() -> None:
    """Stop what the embedded runtime started, the MQTT broker included (data is kept)."""
    from govlake.runtime.services import down as stop

    stop()
    console.print("stopped")


@app.command()
def status() -> None:
    """Show where the platform's PostgreSQL, object store, APIs and MQTT broker are."""
    from govlake.runtime.services import status as describe

    for key, value in describe().items():
        console.print(f"[bold]{key}[/bold]: {value}")


# --- simulation ------------------------------------------------------------------------


@simulate_app.callback()
def simulate(
    context: typer.Context,
    scale: Annotated[int, typer.Option(help="persons on day 1")] = DEMO_SCALE,
    seed: Annotated[int, typer.Option(help="random seed")] = DEMO_SEED,
    day: Annotated[int, typer.Option(help="simulated day (1 = 2026-11-01)")] = 1,
    clean: Annotated[bool, typer.Option("--clean", help="inject no defects")] = False,
) -> None:
    """Write the simulated Kaiping departments' systems as of DAY
    (`govlake simulate sensors --help`: the sensors instead)."""
    if context.invoked_subcommand is not None:
        return
    from govlake.runtime.services import up as start
    from govlake.simulate import simulate as run_simulation

    start()
    result = run_simulation(scale=scale, seed=seed, day=day, defects=not clean)
    table = Table(title=f"模拟数据 simulated day {day} ({result.business_date})")
    table.add_column("resource")
    table.add_column("rows", justify="right")
    for resource_id, rows in sorted(result.counts.items()):
        table.add_row(resource_id, str(rows))
    console.print(table)
    console.print(f"truth file: {result.truth_path}")


@simulate_app.command("sensors")
def simulate_sensors(
    minutes: Annotated[int, typer.Option(help="simulated minutes of readings")] = 60,
    speed: Annotated[
        float,
        typer.Option(
            help="simulated seconds per real second (60: an hour a minute; 0: as fast as possible)"
        ),
    ] = 60.0,
    rate: Annotated[
        float | None, typer.Option(help="messages per second instead of --speed pacing")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 1,
    no_faults: Annotated[bool, typer.Option("--no-faults", help="inject no fault")] = False,
    start: Annotated[
        str | None,
        typer.Option(help="first reading's time, ISO 8601 (default: this minute, Kaiping time)"),
    ] = None,
    topic_root: Annotated[str, typer.Option(help="MQTT topic root")] = "kaiping/sensors",
) -> None:
    """Publish Kaiping's ~300 sensors' readings to the MQTT broker (QoS 1).

    Faults are injected at known rates and listed in a truth file."""
    from govlake.stream.messages import KAIPING
    from govlake.stream.simulator import publish

    first = None
    if start:
        first = datetime.fromisoformat(start)
        first = first if first.tzinfo else first.replace(tzinfo=KAIPING)
    url = _broker()
    console.print(f"publishing {minutes} simulated minutes to {_broker_label(url)} …")
    result = publish(
        url, start=first, minutes=minutes, rate=rate, seed=seed, faults=not no_faults,
        speed=None if rate else (speed or None), topic_root=topic_root,
    )  # fmt: skip
    table = Table(title=f"传感器模拟 sensors, seed {seed}")
    table.add_column("measure")
    table.add_column("messages", justify="right")
    table.add_row("published", str(result.published))
    table.add_row("readings expected to land", str(len(result.expected_msg_ids)))
    table.add_row("duplicates", str(result.duplicates))
    table.add_row("refused (quarantine)", str(result.quarantined))
    for fault, count in sorted(result.faults.items()):
        table.add_row(f"fault: {fault}", str(count))
    console.print(table)
    console.print(f"{result.published / max(result.seconds, 1e-9):.0f} messages/s over "
                  f"{result.seconds:.1f}s")  # fmt: skip
    console.print(f"truth file: {result.truth_path}")


def _broker() -> str:
    """``GOVLAKE_MQTT_URL``, else the embedded Mosquitto (started on first use)."""
    from govlake.stream.broker import BrokerError, broker_url

    try:
        return broker_url()
    except BrokerError as error:
        _fail(str(error))
    return ""


def _broker_label(url: str) -> str:
    from govlake.stream.broker import parse_url

    return str(parse_url(url))  # never the password


# --- the sensor stream -----------------------------------------------------------------


@app.command()
def stream(
    batch_seconds: Annotated[float, typer.Option(help="flush a micro-batch this often")] = 5.0,
    batch_messages: Annotated[int, typer.Option(help="…or at this many messages")] = 2000,
    stop_after: Annotated[
        float | None, typer.Option(help="stop (flushed, acknowledged) after SECONDS")
    ] = None,
    show_status: Annotated[
        bool, typer.Option("--status", help="print the running consumer's status and exit")
    ] = False,
    client_id: Annotated[str, typer.Option(help="MQTT client id (one consumer per id)")] = (
        "govlake-stream-consumer"
    ),
    topic_root: Annotated[str, typer.Option(help="MQTT topic root")] = "kaiping/sensors",
) -> None:
    """Run the sensor stream consumer: MQTT → micro-batches in the lake, exactly once.

    SIGTERM or Ctrl-C flushes, acknowledges and stops. `--status`: the running consumer's
    lag, rates and counts (its status file)."""
    if show_status:
        _print_stream_status()
        return
    import logging

    from govlake.stream.consumer import run

    if not os.environ.get("GOVLAKE_PG_URL"):  # the embedded warehouse, started if need be
        from govlake.runtime.services import up as start

        start()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    url = _broker()
    console.print(f"consuming {topic_root}/+/+ from {_broker_label(url)} as {client_id} …")
    stats = run(
        url, batch_seconds=batch_seconds, batch_messages=batch_messages, stop_after=stop_after,
        client_id=client_id, topic_root=topic_root,
    )  # fmt: skip
    console.print(
        f"batches {stats.batches}, received {stats.received}: landed {stats.landed}, "
        f"duplicates {stats.duplicates}, quarantined {stats.quarantined}; alerts {stats.alerts}"
    )
    if not stats.reconciles():
        _fail("the consumer's counts do not reconcile")


def _print_stream_status() -> None:
    import json

    from govlake.stream.consumer import status_path

    path = status_path()
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        _fail(f"no stream consumer has written {path} yet (`govlake stream` starts one)")
    state = status.get("state", "?")
    if state == "running" and not _pid_alive(status.get("pid")):
        state = "not running (it did not stop cleanly)"
    updated = datetime.fromisoformat(status["updated_at"])
    age = (datetime.now(updated.tzinfo) - updated).total_seconds()
    totals = status.get("totals", {})
    last = status.get("last_batch") or {}
    rows = [
        ("state", f"{state} (pid {status.get('pid')}), updated {age:.0f}s ago"),
        ("broker", f"{status.get('broker')} — connected {status.get('connected')}, subscribed "
                   f"{status.get('subscribed')}, connections {status.get('connections')}"),
        ("subscription", str(status.get("subscription"))),
        ("messages/s (10 s)", str(status.get("messages_per_s"))),
        ("pending · unflushed", f"{status.get('pending')} · {status.get('unflushed')}"),
        ("watermark (event time)", str(status.get("watermark"))),
        ("batches", str(totals.get("batches"))),
        ("received", str(totals.get("received"))),
        ("landed · duplicates · quarantined", f"{totals.get('landed')} · "
         f"{totals.get('duplicates')} · {totals.get('quarantined')}"),
        ("reconciles", str(totals.get("reconciles"))),
        ("alerts", ", ".join(f"{k} {v}" for k, v in status.get("alerts_by_check", {}).items())
         or "0"),
        ("quarantine reasons", ", ".join(f"{k} {v}" for k, v in
                                         status.get("quarantined_by_reason", {}).items()) or "—"),
        ("flush failures", str(totals.get("flush_failures"))),
    ]  # fmt: skip
    if last:
        receive = last.get("receive_lag_s") or {}
        event = last.get("event_lag_s") or {}
        rows += [
            ("last batch", f"{last.get('batch_id')} at {last.get('committed_at')}: "
                           f"{last.get('received')} received, {last.get('landed')} landed"),
            ("receive lag (s)", f"mean {receive.get('mean')}, max {receive.get('max')}"),
            ("event lag (s)", f"min {event.get('min')}, median {event.get('median')}, "
                              f"max {event.get('max')}" if event else "—"),
        ]  # fmt: skip
    table = Table(title=f"传感器流 stream consumer {status.get('client_id')}")
    table.add_column("measure")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(f"status file: {path}")


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# --- catalog ---------------------------------------------------------------------------


def _catalog():
    from govlake.catalog import CatalogError, load_catalog

    try:
        return load_catalog()
    except CatalogError as error:
        _fail(str(error))


@catalog_app.command("validate")
def catalog_validate() -> None:
    """Validate the catalog files; list every problem with its file and entry."""
    catalog = _catalog()
    console.print(
        f"[green]✓[/green] {len(catalog.departments)} departments, {len(catalog.systems)} "
        f"systems, {len(catalog.resources)} resources, "
        f"{sum(len(r.fields) for r in catalog.resources.values())} fields"
    )


@catalog_app.command("list")
def catalog_list() -> None:
    """List every resource with its department, sharing type and frequency."""
    catalog = _catalog()
    table = Table(title="资源目录 Resource catalog")
    for column in ("resource", "名称 name", "部门 department", "共享 sharing", "开放 open",
                   "频率 frequency", "字段 fields", "最高敏感级 max grade"):  # fmt: skip
        table.add_column(column)
    for r in sorted(catalog.resources.values(), key=lambda r: r.id):
        table.add_row(
            r.id, r.name_zh, catalog.departments[r.department].name_zh, r.sharing_type,
            r.open_type, r.update_frequency, str(len(r.fields)), r.max_grade,
        )  # fmt: skip
    console.print(table)


@catalog_app.command("show")
def catalog_show(resource: str) -> None:
    """Show one resource: its entry and every field with data element and grade."""
    catalog = _catalog()
    try:
        r = catalog.resource(resource)
    except KeyError as error:
        _fail(str(error.args[0]))
    department = catalog.departments[r.department]
    console.print(f"[bold]{r.name_zh}[/bold] · {r.name_en}  ([cyan]{r.id}[/cyan])")
    console.print(r.description)
    for label, value in (
        ("部门 department", f"{department.name_zh} ({department.name_en})"),
        ("系统 system", f"{r.system.name_zh} — {r.system.kind}, connection "
                       f"{r.system.connection or 'landing area'}"),
        ("责任人 owner", r.owner),
        ("共享类型 sharing", r.sharing_type),
        ("开放类型 open", r.open_type),
        ("更新频率 frequency", r.update_frequency),
        ("抽取 extraction", f"{r.extract.mode}"
                           + (f", watermark {r.extract.watermark}" if r.extract.watermark else "")),
        ("原始表 raw table", f"raw.{r.raw_table}"),
        ("DAG", r.dag_id),
        ("目录文件 catalog file", r.source_file),
    ):  # fmt: skip
        console.print(f"  {label}: {value}")
    table = Table()
    for column in ("字段 field", "数据元 element", "名称", "类型 type", "必填 required",
                   "权威 authoritative", "敏感级 grade", "代码集 code set"):  # fmt: skip
        table.add_column(column)
    for f in r.fields:
        table.add_row(
            f.name, f.element.id, f.element.name_zh, f.type, "✓" if f.required else "",
            "✓" if f.authoritative else "", f.grade, f.code_set or "",
        )  # fmt: skip
    console.print(table)


@catalog_app.command("sync")
def catalog_sync() -> None:
    """Load the catalog into the governance schema."""
    from govlake.runtime.services import up as start
    from govlake.transform.prepare import prepare_warehouse

    _catalog()
    start()
    counts = prepare_warehouse()
    console.print("[green]✓[/green] governance schema: " + ", ".join(
        f"{v} {k}" for k, v in counts.items()))  # fmt: skip


# --- libraries (dbt) -------------------------------------------------------------------


@dbt_app.command("sync")
def dbt_sync(
    check: Annotated[bool, typer.Option("--check", help="fail if anything is out of date")] = False,
) -> None:
    """Regenerate dbt sources from the catalog and link the standards' CSVs as seeds."""
    from govlake.transform.dbt import out_of_date, sync_seed_links, write_sources

    if check:
        stale = out_of_date(_catalog())
        if stale:
            _fail("out of date — run `govlake dbt sync`:\n" + "\n".join(map(str, stale)))
        console.print("[green]✓[/green] dbt sources and seeds match the catalog and standards")
        return
    changed = write_sources(_catalog()) + sync_seed_links()
    for path in changed:
        console.print(f"  updated {path}")
    console.print(f"[green]✓[/green] {len(changed)} file(s) updated")


@dbt_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt_run(context: typer.Context) -> None:
    """Run any dbt command on the project against the platform's warehouse
    (e.g. `govlake dbt run build --select basic`)."""
    from govlake.transform.dbt import run_dbt

    if context.args[:1] and context.args[0] in ("build", "run", "test", "seed"):
        from govlake.transform.prepare import prepare_warehouse

        prepare_warehouse()
    raise typer.Exit(run_dbt(*context.args).returncode)


@dbt_app.command("lint")
def dbt_lint(
    fix: Annotated[bool, typer.Option("--fix", help="rewrite what sqlfluff can fix")] = False,
) -> None:
    """sqlfluff (dbt templater, postgres dialect) on every model.

    The dbt templater compiles each model, and dbt's compiler asks the warehouse whether
    incremental models exist: it needs a reachable PostgreSQL (the embedded one will do).
    """
    import subprocess

    from govlake.runtime.services import down as stop
    from govlake.runtime.services import embedded_running
    from govlake.runtime.services import up as start
    from govlake.transform.dbt import DBT_DIR, dbt_env

    # what this command starts it stops again (make lint runs it on every test run)
    was_running = embedded_running() or bool(os.environ.get("GOVLAKE_PG_URL"))
    start()
    try:
        sqlfluff = str(Path(sys.executable).with_name("sqlfluff"))
        command = [sqlfluff, "fix" if fix else "lint", str(DBT_DIR / "models")]
        result = subprocess.run(command, env=dbt_env(), cwd=config.PROJECT_ROOT, check=False)
    finally:
        if not was_running:
            stop()
    raise typer.Exit(result.returncode)


@dbt_app.command("docs")
def dbt_docs() -> None:
    """Generate dbt docs (catalog of every library) into the output folder."""
    from govlake.transform.dbt import generate_docs

    target = generate_docs(config.output_dir() / "dbt_docs")
    console.print(f"dbt docs: {target / 'index.html'}")


# --- ingestion -------------------------------------------------------------------------


def _resource_ids(which: str) -> list[str]:
    catalog = _catalog()
    if which == "all":
        return sorted(catalog.resources)
    try:
        return [catalog.resource(which).id]
    except KeyError as error:
        _fail(str(error.args[0]))
    return []


def _print_summary(ingest_date: date, resource_ids: list[str]) -> bool:
    from govlake.pipeline.summary import day_summary, write_summary

    days = day_summary(ingest_date, resource_ids)
    batches_per_resource = Counter(d.resource_id for d in days)
    table = Table(title=f"数据归集 ingestion — {ingest_date:%Y-%m-%d}")
    for column, justify in (("资源 resource", "left"), ("源 source", "right"),
                            ("落地 landed", "right"), ("入库 loaded", "right"),
                            ("隔离 quarantined", "right"), ("对账 reconciled", "center"),
                            ("耗时 s", "right"), ("状态 state", "left"),
                            ("结构变化 drift", "left")):  # fmt: skip
        table.add_column(column, justify=justify)
    for d in days:
        ok = d.state == "loaded" and d.reconciled
        table.add_row(
            d.resource_id
            + (f" ({d.batch_id})" if batches_per_resource[d.resource_id] > 1 else ""),
            str(d.source_rows), str(d.landed_rows), str(d.loaded_rows),
            str(d.quarantined), "✓" if d.reconciled else "[red]✗[/red]", f"{d.seconds:.2f}",
            d.state if ok else f"[red]{d.state}[/red]", d.drift,
        )  # fmt: skip
    console.print(table)
    paths = write_summary(ingest_date, days, config.output_dir() / "ingest")
    for path in paths:
        console.print(f"  wrote {path}")
    return all(d.state == "loaded" and d.reconciled for d in days)


@app.command()
def ingest(
    resource: Annotated[str, typer.Argument(help="resource id (police.person) or 'all'")],
    day: Annotated[int | None, typer.Option(help="simulated day")] = None,
    on: Annotated[str | None, typer.Option("--date", help="business date YYYY-MM-DD")] = None,
    mode: Annotated[str | None, typer.Option(help="incremental or full")] = None,
    force: Annotated[bool, typer.Option(help="re-extract a batch that already landed")] = False,
) -> None:
    """Run ingestion DAGs through Airflow for one business date, then print the summary."""
    from govlake.orchestration.runner import run_ingest_dag
    from govlake.runtime.services import up as start

    start()
    ingest_date = _date_of(day, on)
    resource_ids = _resource_ids(resource)
    failed = []
    for resource_id in resource_ids:
        result = run_ingest_dag(resource_id, ingest_date, mode=mode, force=force)
        if result.state != "success":
            failed.append(f"{result.dag_id}: {result.state} {result.task_states}")
    ok = _print_summary(ingest_date, resource_ids)
    if failed or not ok:
        _fail("some runs failed:\n" + "\n".join(failed) if failed else "counts do not reconcile")


@app.command()
def quarantine(
    resource: str,
    on: Annotated[str | None, typer.Option("--date", help="business date")] = None,
    limit: int = 50,
) -> None:
    """List quarantined rows of a resource with file, row, field and reason."""
    from govlake.governance.store import connect, ensure_schema

    resource_id = _resource_ids(resource)[0]
    with connect() as conn:
        ensure_schema(conn)
        rows = conn.execute(
            "select q.batch_id, q.stage, q.source_file, q.source_row, q.field, q.reason "
            "from governance.quarantine q join governance.batch b using (resource_id, batch_id) "
            "where q.resource_id = %s and (%s::date is null or b.ingest_date = %s::date) "
            "order by q.batch_id, q.source_file, q.source_row limit %s",
            (resource_id, on, on, limit),
        ).fetchall()
    table = Table(title=f"隔离区 quarantine — {resource_id}")
    for column in ("batch", "stage", "file", "row", "field", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) if v is not None else "" for v in row))
    console.print(table)


@app.command()
def runs(
    since: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: 7 days ago)")] = None,
) -> None:
    """Summarise DAG runs since a date: runs, successes, failures, durations (R1.5)."""
    from govlake.orchestration import airflow_env

    airflow_env.configure()
    from govlake.pipeline.runs import summarise_runs

    start = datetime.fromisoformat(since) if since else datetime.now() - timedelta(days=7)
    start = start.astimezone()
    summaries = summarise_runs(start)
    table = Table(title=f"运行汇总 runs since {start:%Y-%m-%d}")
    for column in ("DAG", "runs", "成功 ok", "失败 failed", "运行中 running", "平均 mean s",
                   "最长 max s", "最近 last run", "最近状态 last state"):  # fmt: skip
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s.dag_id, str(s.runs), str(s.succeeded), str(s.failed), str(s.running),
            f"{s.mean_seconds:.1f}", f"{s.max_seconds:.1f}",
            f"{s.last_run:%Y-%m-%d %H:%M}" if s.last_run else "", s.last_state or "",
        )  # fmt: skip
    total = sum(s.runs for s in summaries)
    console.print(table)
    console.print(
        f"{len(summaries)} DAGs, {total} runs, "
        f"{sum(s.succeeded for s in summaries)} succeeded, "
        f"{sum(s.failed for s in summaries)} failed"
    )


# --- the demo --------------------------------------------------------------------------


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option("--fresh", help="start from an empty runtime")] = False,
    scale: int = DEMO_SCALE,
    seed: int = DEMO_SEED,
    days: Annotated[int, typer.Option(help="simulated days to run")] = DEMO_DAYS,
) -> None:
    """Simulate Kaiping and run every ingestion DAG through Airflow, day after day."""
    from rich.progress import Progress

    from govlake.orchestration import airflow_env
    from govlake.orchestration.runner import run_ingest_dag
    from govlake.runtime.services import down as stop
    from govlake.runtime.services import up as start
    from govlake.simulate import simulate as run_simulation
    from govlake.simulate.calendar import business_date
    from govlake.transform.prepare import prepare_warehouse

    began = time.monotonic()
    if fresh and config.home().exists():
        stop()
        shutil.rmtree(config.home())
    start()
    catalog = _catalog()
    prepare_warehouse()
    airflow_env.migrate()
    resource_ids = sorted(catalog.resources)
    failures: list[str] = []
    all_ok = True
    for day in range(1, days + 1):
        result = run_simulation(scale=scale, seed=seed, day=day)
        ingest_date = business_date(day)
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task(f"day {day} ({ingest_date})", total=len(resource_ids))
            for resource_id in resource_ids:
                progress.update(bar, description=f"day {day}: {resource_id}")
                run = run_ingest_dag(resource_id, ingest_date)
                if run.state != "success":
                    failures.append(f"day {day} {run.dag_id}: {run.state} {run.task_states}")
                progress.advance(bar)
        all_ok = _print_summary(ingest_date, resource_ids) and all_ok
        console.print(f"  truth file: {result.truth_path}")
    console.print(
        "\n[bold]基础库·主题库·专题库 building the libraries (dbt, through Airflow) …[/bold]"
    )
    from govlake.orchestration.runner import run_libraries_dag
    from govlake.transform.dbt import generate_docs

    libraries = run_libraries_dag()
    failed_tasks = sorted(t for t, state in libraries.task_states.items() if state != "success")
    console.print(
        f"  {libraries.dag_id}: {libraries.state}, {len(libraries.task_states)} tasks"
        + (f", not successful: {', '.join(failed_tasks)}" if failed_tasks else "")
    )
    if libraries.state != "success":
        failures.append(f"{libraries.dag_id}: {failed_tasks}")
    docs = generate_docs(config.output_dir() / "dbt_docs")
    console.print(f"  dbt docs: {docs / 'index.html'}")
    _print_quality([business_date(day) for day in range(1, days + 1)])
    failures += _demo_stream(seed)
    failures += _demo_metadata()
    console.print(f"\n[bold]output[/bold]: {config.output_dir()}")
    console.print(f"[bold]object store[/bold]: {config.storage_settings().root}")
    console.print(f"[bold]warehouse[/bold]: {config.warehouse_url()}")
    console.print(f"finished in {time.monotonic() - began:.0f}s")
    if failures or not all_ok:
        _fail("the demo did not complete cleanly:\n" + "\n".join(failures))


def _print_quality(business_dates: list[date]) -> None:
    """Scores for each day (the trend), the latest day's report, the open work orders."""
    from govlake.governance.store import connect
    from govlake.quality.nightly import scores_and_report

    console.print("\n[bold]数据质量 quality[/bold]")
    report = None
    for on in business_dates:
        report = scores_and_report(on)
    with connect() as conn:
        overall = conn.execute(
            "select business_date, score from governance.quality_score where scope = 'overall' "
            "and dimension = 'all' and business_date = any(%s) order by business_date",
            (business_dates,),
        ).fetchall()
        orders = conn.execute(
            "select department, count(*) filter (where state not in ('closed', 'verified')), "
            "count(*) from governance.work_order group by department order by department"
        ).fetchall()
        blocked = conn.execute(
            "select count(*) from governance.batch where audit_state = 'blocked'"
        ).fetchone()[0]
    for on, score in overall:
        console.print(f"  {on} 总分 overall score {score}")
    console.print(
        "  问题工单 work orders (open/all): "
        + ", ".join(f"{dept} {open_}/{total}" for dept, open_, total in orders)
    )
    console.print(f"  阻断批次 blocked batches: {blocked}")
    console.print(f"  质量日报 quality report: {report}")
    console.print(f"  GX data docs: {config.output_dir() / 'data_docs' / 'index.html'}")


# the column the demo follows from the 12345 system to a special-topic library: renamed on
# its way (status → ticket_status), so the picture shows lineage read from the SQL
DEMO_LINEAGE_COLUMN = "special.hotline_handling.ticket_status"
DEMO_IMPACT_COLUMN = "raw.govdata__hotline_ticket.status"


def _demo_metadata() -> list[str]:
    """The morning harvest through Airflow (the metadata store, the catalog site), every
    step's OpenLineage events checked against the spec, one column's lineage drawn, one
    impact analysis."""
    import json
    from collections import Counter

    from govlake.governance.store import connect
    from govlake.lineage.graph import impact, lineage
    from govlake.lineage.render import lineage_html
    from govlake.lineage.transport import events_file
    from govlake.lineage.validate import validate_file
    from govlake.orchestration.runner import run_metadata_dag

    console.print("\n[bold]元数据与血缘 metadata and lineage (OpenLineage)[/bold]")
    failures: list[str] = []
    harvested = run_metadata_dag()
    console.print(f"  {harvested.dag_id}: {harvested.state} {harvested.task_states}")
    if harvested.state != "success":
        return [f"{harvested.dag_id}: {harvested.task_states}"]
    log = events_file()
    runs: Counter = Counter()
    events = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        events += 1
        event = json.loads(line)
        job_type = (event.get("job", {}).get("facets", {}).get("jobType")) or {}
        if event.get("eventType") in ("COMPLETE", "FAIL"):
            runs[(job_type.get("integration", "?"), job_type.get("jobType", "?"))] += 1
    problems = validate_file(log)
    runs_text = ", ".join(f"{integration} {kind} {n}" for (integration, kind), n in
                          sorted(runs.items()))  # fmt: skip
    console.print(f"  血缘事件 events: {events} ({log})")
    console.print(f"  已完成的运行 finished runs by step: {runs_text}")
    if problems:
        failures.append(f"{len(problems)} OpenLineage events do not validate: {problems[0]}")
        console.print(f"  [red]✗ {len(problems)} events do not validate against the spec[/red]")
    else:
        console.print("  [green]✓[/green] 全部符合 OpenLineage 规范 every event validates")
    with connect() as conn:
        datasets, fields, edges, column_edges, changes, drifts = conn.execute(
            "select (select count(*) from governance.md_dataset where dropped_at is null), "
            "(select count(*) from governance.md_field where dropped_at is null), "
            "(select count(*) from governance.md_edge where retired_at is null), "
            "(select count(*) from governance.md_edge where retired_at is null "
            "   and source_field <> '' and target_field <> ''), "
            "(select count(*) from governance.md_change), "
            "(select count(*) from governance.md_change where action = 'drift')"
        ).fetchone()
        graph = lineage(conn, DEMO_LINEAGE_COLUMN, "up", None)
        found = impact(conn, DEMO_IMPACT_COLUMN)
    console.print(
        f"  元数据库 metadata store: {datasets} datasets, {fields} fields, {edges} lineage "
        f"edges ({column_edges} column to column); {changes} changes recorded, "
        f"{drifts} of them schema drift found at ingestion"
    )
    chain = sorted({(n.distance, n.dataset) for n in graph.nodes.values()})
    console.print(
        f"  字段血缘 lineage of {DEMO_LINEAGE_COLUMN}: "
        + " ← ".join(dataset for _, dataset in reversed(chain))
    )
    picture = config.output_dir() / "lineage" / "hotline_handling.ticket_status.html"
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_text(lineage_html(graph), encoding="utf-8")
    console.print(f"  血缘图 picture: {picture}")
    console.print(
        f"  影响分析 impact of {DEMO_IMPACT_COLUMN}: {len(found.datasets) - 1} datasets, "
        f"{len(found.rules)} quality rules, {len(found.work_orders)} open work orders, "
        f"{len(found.consumers)} reports/exports, {len(found.owners)} owners"
    )
    site = config.output_dir() / "catalog" / "index.html"
    console.print(f"  数据目录 catalog site: {site}")
    console.print("  比较 compare: govlake metadata diff --from <date> --to latest")
    if not any(n.layer == "source" for n in graph.nodes.values()):
        failures.append(f"the lineage of {DEMO_LINEAGE_COLUMN} does not reach its source")
    return failures


def _demo_stream(seed: int, minutes: int = 60) -> list[str]:
    """Kaiping's ~300 sensors: the past day as fast as the broker takes it (an hourly AQI
    needs 24-hour particulate means), then the latest hour compressed into about a minute.
    The consumer lands micro-batches exactly once; the sensor DAG loads them and refreshes
    the sensor libraries (AQI, water levels, light-pole energy)."""
    import json
    import subprocess
    from datetime import UTC

    from govlake.governance.store import connect
    from govlake.orchestration.runner import run_sensor_dag
    from govlake.stream.consumer import status_path
    from govlake.stream.messages import KAIPING
    from govlake.stream.simulator import publish

    console.print("\n[bold]传感器数据流 sensor stream (MQTT)[/bold]")
    url = _broker()
    started = time.time()
    consumer = subprocess.Popen(
        [sys.executable, "-m", "govlake.stream.consumer", "--broker", url,
         "--client-id", "govlake-demo-consumer", "--batch-seconds", "5", "--idle-exit", "15"],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # publish only once the consumer is subscribed (its persistent session keeps the rest)
    for _ in range(300):
        status_file = status_path()
        fresh = status_file.exists() and status_file.stat().st_mtime >= started
        if fresh and json.loads(status_file.read_text("utf-8")).get("subscribed"):
            break
        if consumer.poll() is not None:
            return [f"sensor consumer exited early: {consumer.stderr.read()[-2000:]}"]
        time.sleep(0.2)
    hour = datetime.now(UTC).astimezone(KAIPING).replace(minute=0, second=0, microsecond=0)
    backfill = publish(url, start=hour - timedelta(days=1), minutes=24 * 60, seed=seed)
    live = publish(url, start=hour, minutes=minutes, seed=seed + 1, speed=60.0)
    try:
        consumer.wait(timeout=600)
    except subprocess.TimeoutExpired:
        consumer.terminate()
        return ["sensor consumer did not finish within 10 minutes"]
    if consumer.returncode != 0:
        return [f"sensor consumer failed: {consumer.stderr.read()[-2000:]}"]
    run = run_sensor_dag()
    with connect() as conn:
        counts = {
            kind: conn.execute(f"select count(*) from raw.sensor__{kind}").fetchone()[0]
            for kind in ("air_quality", "hydrology", "light_pole")
        }
        alerts = conn.execute(
            "select check_name, count(*) from governance.sensor_alert group by 1 order by 1"
        ).fetchall()
        aqi = conn.execute(
            "select count(*), max(aqi), count(*) filter (where aqi > 100) "
            "from sensor.air_quality_hourly where aqi is not null"
        ).fetchone()
        warnings = conn.execute(
            "select count(*) filter (where warning_state_code > 0) from sensor.water_level_warning"
        ).fetchone()[0]
    console.print(
        f"  published the past day ({backfill.published} messages in "
        f"{backfill.seconds:.0f}s) and the latest hour ({live.published} messages in "
        f"{live.seconds:.0f}s); injected {backfill.duplicates + live.duplicates} duplicates, "
        f"{backfill.quarantined + live.quarantined} malformed"
    )
    console.print(f"  raw rows: {', '.join(f'{k} {v}' for k, v in counts.items())}")
    console.print("  实时告警 alerts: " + ", ".join(f"{c} {n}" for c, n in alerts))
    console.print(
        f"  {run.dag_id}: {run.state} {run.task_states}; 小时AQI station-hours {aqi[0]}, "
        f"max AQI {aqi[1]}, above 100: {aqi[2]}; 水位超警戒 gauge-hours above warning: {warnings}"
    )
    # the real-time checks as quality results: scores (timeliness, accuracy), work orders
    from govlake.quality.audit import audit_library

    audited = [
        audit_library(f"raw.sensor__{kind}", on, trigger="manual")
        for on in (hour.date() - timedelta(days=1), hour.date())
        for kind in counts
    ]
    failing = sorted({o.rule_id for r in audited for o in r.failed})
    console.print(
        f"  实时检查→质量结果 real-time checks as quality results: {len(audited)} runs, "
        f"failing: {', '.join(failing) or 'none'}"
    )
    return [] if run.state == "success" else [f"{run.dag_id}: {run.task_states}"]


@app.command("bench-ingest")
def bench_ingest(
    rows: Annotated[int, typer.Option(help="persons to generate")] = 1_000_000,
    to_sql_rows: Annotated[int, typer.Option(help="rows for the to_sql baseline")] = 100_000,
    repeats: Annotated[int, typer.Option(help="rounds; figures are medians")] = 3,
) -> None:
    """Benchmark the ingestion path against psql \\copy and pandas to_sql."""
    from govlake.bench.ingest import run_benchmark

    run_benchmark(rows=rows, to_sql_rows=to_sql_rows, console=console, repeats=repeats)


@app.command("bench-quality")
def bench_quality(
    rows: Annotated[int, typer.Option(help="persons in the audited table")] = 1_000_000,
) -> None:
    """Benchmark the population table's generated suite (GX) against hand-written SQL."""
    from govlake.quality.bench import run_benchmark

    run_benchmark(rows=rows, console=console)


@app.command("bench-stream")
def bench_stream(
    messages: Annotated[int, typer.Option(help="messages for the throughput runs")] = 100_000,
    latency_seconds: Annotated[
        float, typer.Option(help="seconds of publishing at the city's rate (5 msg/s)")
    ] = 60.0,
    crash_messages: Annotated[int, typer.Option(help="messages for the crash run")] = 30_000,
    repeats: Annotated[int, typer.Option(help="throughput rounds; figures are medians")] = 3,
) -> None:
    """Benchmark the sensor stream: msg/s, latency to a queryable row, a crash mid-stream.

    Baseline: a bare MQTT subscriber on the same broker, in the same run."""
    from govlake.bench.stream import run_benchmark

    run_benchmark(messages=messages, latency_seconds=latency_seconds,
                  crash_messages=crash_messages, repeats=repeats, console=console)  # fmt: skip


def main() -> None:
    try:
        app()
    except config.ConfigError as error:
        console.print(f"[red]✗ {error}[/red]")
        sys.exit(2)


if __name__ == "__main__":
    main()
