"""The simulated city: deterministic, replayable, realistic, with defects it owns up to.

Runs against a real PostgreSQL (GOVLAKE_TEST_PG_URL, else the embedded server) and, for
the market registry, a real MariaDB at 127.0.0.1:3306 (the test fails if it is down).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from govlake.simulate import SimulationResult, business_date, history_start, simulate
from govlake.simulate import conflicts as sim_conflicts
from govlake.simulate import schema as sim_schema
from govlake.simulate.calendar import add_working_days, day_end, day_start
from govlake.simulate.defects import CONTENT_RATES
from govlake.simulate.hotline_api import create_hotline_server, query_tickets
from govlake.standards import validate_citizen_id, validate_cn_mobile, validate_uscc
from openpyxl import load_workbook

from tests._pg import mariadb_server, sim_pg_server_fixture, sim_world  # noqa: F401

SCALE, SEED, DAY = 2000, 7, 3
TOKEN = "test-token-12345"
DB_TABLES = {
    "kp_police": {"person": "person_id", "household": "household_no", "residence_move": "move_id"},
    "kp_market": {"enterprise": "uscc"},
    "kp_hrss": {"insurance_enrolment": "enrolment_id"},
    "kp_tax": {"tax_payment": "payment_id"},
}
TABLE_RESOURCES = {
    "person": "police.person",
    "household": "police.household",
    "residence_move": "police.residence_move",
    "enterprise": "market.enterprise",
    "insurance_enrolment": "hrss.social_insurance",
    "tax_payment": "tax.tax_payment",
}
FILE_NAMES = {
    "overseas.overseas_chinese": ("overseas", "roster_{}.xlsx"),
    "civil.low_income": ("civil", "low_income_{}.csv"),
    "natres.real_estate": ("natres", "real_estate_{}.jsonl"),
    "govdata.e_licence": ("govdata", "licences_{}.json"),
    "emergency.safety_inspection": ("emergency", "safety_inspection_{}.csv"),
}
TOWN_CODES = {f"4407830{n:02d}" for n in (1, 2)} | {f"440783{n}" for n in range(100, 113)}


# --- helpers ---------------------------------------------------------------------------------


def fetch(url: str, query: str, args: tuple | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args or None).fetchall()


def values(url: str, query: str, args: tuple | None = None) -> set:
    """The distinct values of a one-column query."""
    return {row[0] for row in fetch(url, query, args)}


def column_names(url: str, table: str) -> list[str]:
    return [
        name
        for (name,) in fetch(
            url,
            "select column_name from information_schema.columns "
            "where table_name = %s order by ordinal_position",
            (table,),
        )
    ]


def table_rows(url: str, table: str, key: str) -> tuple[list[str], list[tuple]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(f'select * from "{table}" order by "{key}"')
        return [d.name for d in cursor.description], cursor.fetchall()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksums(world) -> dict[str, str]:
    """Digest of everything a simulation wrote: files, truth, tables, hotline store."""
    digests = {}
    for path in sorted(p for p in world.home.rglob("*") if p.is_file()):
        relative = path.relative_to(world.home).as_posix()
        if relative.startswith(("landing/", "sim/truth/")):
            digests[relative] = sha256(path.read_bytes())
    for conn_id, tables in DB_TABLES.items():
        for table, key in tables.items():
            columns, rows = table_rows(world.databases[conn_id], table, key)
            digests[f"{conn_id}.{table}"] = sha256(repr((columns, rows)).encode())
    import sqlite3

    with sqlite3.connect(world.sim / "hotline.sqlite3") as store:
        tickets = store.execute("select * from tickets order by ticket_id").fetchall()
    digests["hotline"] = sha256(repr(tickets).encode())
    return digests


def file_of(world, resource: str, day: int) -> Path:
    department, pattern = FILE_NAMES[resource]
    on = business_date(day)
    return world.landing / department / on.isoformat() / pattern.format(f"{on:%Y%m%d}")


def read_truth(world, day: int) -> list[dict]:
    text = (world.sim / "truth" / f"day={day}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def read_summary(world, day: int) -> dict:
    return json.loads((world.sim / "truth" / f"day={day}.summary.json").read_text("utf-8"))


def csv_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    assert data.endswith(b"\r\n")
    return data[:-2].split(b"\r\n")


def decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def xlsx_rows(path: Path) -> list[tuple]:
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["名册"]
    rows = [tuple(r) for r in workbook["名册"].iter_rows(values_only=True)]
    workbook.close()
    return rows


def is_date_text(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


def window_total(store: Path, start: datetime | date, end: datetime) -> int:
    query = f"updated_from={start.isoformat()}&updated_to={end.isoformat()}&page_size=1"
    return query_tickets(store, query)["total"]


def delta_counts(world, day: int) -> dict[str, int]:
    """Rows of each table stamped inside day ``day``'s window (day 1: everything before)."""
    counts = {}
    for conn_id, tables in DB_TABLES.items():
        for table in tables:
            if day == 1:
                query, args = f'select count(*) from "{table}" where updated_at < %s', (day_end(1),)
            else:
                query = f'select count(*) from "{table}" where updated_at >= %s and updated_at < %s'
                args = (day_start(day), day_end(day))
            counts[TABLE_RESOURCES[table]] = fetch(world.databases[conn_id], query, args)[0][0]
    return counts


# --- the worlds ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(sim_pg_server, tmp_path_factory):
    """Scale 2000, seed 7, written directly for day 3 (kept for the whole module)."""
    with sim_world(sim_pg_server, tmp_path_factory.mktemp("world")) as w:
        started = time.monotonic()
        w.result = simulate(scale=SCALE, seed=SEED, day=DAY)
        w.elapsed = time.monotonic() - started
        w.checksums = checksums(w)
        yield w


@pytest.fixture(scope="module")
def replayed(world, sim_pg_server, tmp_path_factory):
    """The same city written day by day (1, 2, 3) in a place of its own."""
    with sim_world(sim_pg_server, tmp_path_factory.mktemp("replayed")) as w:
        days = {}
        for day in (1, 2, 3):
            result = simulate(scale=SCALE, seed=SEED, day=day)
            lower = history_start() if day == 1 else day_start(day)
            days[day] = {
                "result": result,
                "tables": delta_counts(w, day),
                "hotline": window_total(w.sim / "hotline.sqlite3", lower, day_end(day)),
            }
        return {"days": days, "checksums": checksums(w)}


# --- determinism and replay ----------------------------------------------------------------


def test_simulation_result(world):
    result = world.result
    assert isinstance(result, SimulationResult)
    assert (result.day, result.business_date) == (3, date(2026, 11, 3))
    assert result.truth_path == world.sim / "truth" / "day=3.jsonl"
    assert set(result.counts) == set(sim_schema.resources())
    assert result.counts["govdata.hotline_ticket"] >= 30
    assert world.elapsed < 30, f"scale 2000, 3 days took {world.elapsed:.1f}s"


def test_replay_day_by_day_equals_direct_day_3(world, replayed):
    assert replayed["checksums"] == world.checksums
    assert replayed["days"][3]["result"].counts == world.result.counts


def test_another_process_with_another_hash_seed_writes_the_same_bytes(
    world, sim_pg_server, tmp_path_factory
):
    with sim_world(sim_pg_server, tmp_path_factory.mktemp("subprocess")) as other:
        code = (
            "from govlake.simulate import simulate; "
            f"simulate(scale={SCALE}, seed={SEED}, day={DAY})"
        )
        env = {**os.environ, "PYTHONHASHSEED": "4242"}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)
        assert checksums(other) == world.checksums


def test_other_seeds_make_other_cities(sim_pg_server, tmp_path_factory, world):
    with sim_world(sim_pg_server, tmp_path_factory.mktemp("seed8")) as other:
        simulate(scale=SCALE, seed=8, day=1)
        day1 = file_of(other, "civil.low_income", 1).read_bytes()
    assert day1 != file_of(world, "civil.low_income", 1).read_bytes()


def test_counts_are_the_rows_of_each_days_window(replayed):
    for day, seen in replayed["days"].items():
        counts = seen["result"].counts
        for resource, rows in seen["tables"].items():
            assert counts[resource] == rows, (day, resource)
        assert counts["govdata.hotline_ticket"] == seen["hotline"], day


def test_day_windows_and_history(world):
    police = world.databases["kp_police"]
    for conn_id, tables in DB_TABLES.items():
        for table in tables:
            (latest,) = fetch(world.databases[conn_id], f'select max(updated_at) from "{table}"')[0]
            assert latest < day_end(DAY), table
    paid = fetch(world.databases["kp_tax"], "select min(paid_at), max(paid_at) from tax_payment")
    assert paid[0][0] >= datetime.combine(history_start(), datetime.min.time())
    assert paid[0][0] < day_start(1) - timedelta(days=300)  # day 1 carries a year of history
    old = fetch(police, "select count(*) from person where updated_at < %s", (day_start(1),))
    assert old[0][0] > SCALE * 0.9
    # tax is paid in the month after its period
    for period, paid_at in fetch(
        world.databases["kp_tax"], "select tax_period, paid_at from tax_payment"
    ):
        year, month = map(int, period.split("-"))
        assert (paid_at.year * 12 + paid_at.month) - (year * 12 + month) == 1


# --- the catalog is the spec -----------------------------------------------------------------


def test_columns_are_the_catalog_fields(world):
    specs = sim_schema.resources()
    for conn_id, tables in DB_TABLES.items():
        for table in tables:
            columns = [
                r[0]
                for r in fetch(
                    world.databases[conn_id],
                    "select column_name from information_schema.columns "
                    "where table_name = %s order by ordinal_position",
                    (table,),
                )
            ]
            expected = specs[TABLE_RESOURCES[table]].columns
            assert columns == expected + (["website"] if table == "enterprise" else []), table
    for day in (1, 2, 3):
        civil = csv_lines(file_of(world, "civil.low_income", day))[0].decode("ascii").split(",")
        drift = ["disability_grade"] if day >= 3 else []
        assert civil == specs["civil.low_income"].columns + drift
        roster = xlsx_rows(file_of(world, "overseas.overseas_chinese", day))
        assert list(roster[0]) == specs["overseas.overseas_chinese"].columns
        for line in file_of(world, "natres.real_estate", day).read_text("utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            assert list(record) == specs["natres.real_estate"].columns
        document = json.loads(file_of(world, "govdata.e_licence", day).read_text("utf-8"))
        assert all(list(r) == specs["govdata.e_licence"].columns for r in document["records"])
        safety = csv_lines(file_of(world, "emergency.safety_inspection", day))[0]
        assert safety.decode("ascii").split(",") == specs["emergency.safety_inspection"].columns


# --- identifiers and defects -----------------------------------------------------------------


def _in_window(stamp: datetime, day: int) -> bool:
    return stamp < day_end(day) and (day == 1 or stamp >= day_start(day))


def test_identifiers_are_valid_unless_the_truth_says_otherwise(world):
    checks = {
        ("kp_police", "person", "id_number"): validate_citizen_id,
        ("kp_police", "residence_move", "id_number"): validate_citizen_id,
        ("kp_market", "enterprise", "uscc"): validate_uscc,
        ("kp_market", "enterprise", "legal_rep_id_number"): validate_citizen_id,
        ("kp_hrss", "insurance_enrolment", "id_number"): validate_citizen_id,
        ("kp_hrss", "insurance_enrolment", "uscc"): validate_uscc,
        ("kp_tax", "tax_payment", "uscc"): validate_uscc,
    }
    for (conn_id, table, column), check in checks.items():
        key = DB_TABLES[conn_id][table]
        flagged = {
            r["key"]: day
            for day in range(1, DAY + 1)
            for r in read_truth(world, day)
            if r["resource"] == TABLE_RESOURCES[table]
            and r["defect"] == "bad_check_char"
            and r["field"] == column
        }
        rows = fetch(
            world.databases[conn_id], f'select "{key}", "{column}", updated_at from "{table}"'
        )
        bad_seen = 0
        for row_key, value, updated_at in rows:
            if value is None:
                continue
            if row_key in flagged and _in_window(updated_at, flagged[row_key]):
                bad_seen += 1
                reason = check(value)
                assert reason is not None and "校验码错误" in reason, (table, row_key, value)
            else:
                assert check(value) is None, (table, row_key, value)
        if (table, column) == ("person", "id_number"):
            assert bad_seen >= 5
    phones = fetch(world.databases["kp_police"], "select phone from person where phone is not null")
    assert all(validate_cn_mobile(p) is None for (p,) in phones)


def test_defect_rates_on_day_1(world):
    summary = read_summary(world, 1)
    assert summary["defects_enabled"] is True
    for resource, rates in CONTENT_RATES.items():
        rows = summary["resources"][resource]["rows"]
        found = summary["resources"][resource]["defects"]
        for kind, rate in rates.items():
            expected = rate * rows
            assert abs(found.get(kind, 0) - expected) <= 1.5, (resource, kind, found, expected)
    truth = Counter((r["resource"], r["defect"]) for r in read_truth(world, 1))
    assert truth == Counter(
        {
            (resource, kind): n
            for resource, entry in summary["resources"].items()
            for kind, n in entry["defects"].items()
        }
    )


def test_database_truth_points_at_real_rows(world):
    for day in range(1, DAY + 1):
        lower = datetime.min if day == 1 else day_start(day)
        for record in read_truth(world, day):
            resource = record["resource"]
            table = next((t for t, r in TABLE_RESOURCES.items() if r == resource), None)
            if table is None or record["defect"] == "schema_drift":
                continue
            conn_id = next(c for c, ts in DB_TABLES.items() if table in ts)
            key = DB_TABLES[conn_id][table]
            url = world.databases[conn_id]
            field = record["field"]
            found = fetch(
                url,
                f'select "{field}", updated_at from "{table}" where "{key}" = %s',
                (record["key"],),
            )
            if record["defect"] == "duplicate":
                original = fetch(
                    url,
                    f'select id_number, name, birth_date from "{table}" where "{key}" = %s',
                    (record["value"],),
                )
                twin = fetch(
                    url,
                    f'select id_number, name, birth_date from "{table}" where "{key}" = %s',
                    (record["key"],),
                )
                assert twin and original and twin[0][0] == original[0][0]
                continue
            assert len(found) == 1, record
            value, updated_at = found[0]
            if not lower <= updated_at < day_end(day):
                continue  # the record changed again later (a new version)
            if record["defect"] == "missing_value":
                assert value is None, record
            elif isinstance(value, date):
                assert value.isoformat() == record["value"], record
            else:
                assert value == record["value"], record
            if record["defect"] == "future_date":
                assert value > business_date(day)
            if record["defect"] == "nonstandard_code":
                assert value in ("男", "女", "M", "F")


def _check_csv_day(world, day: int, truth: list[dict]) -> None:
    path = file_of(world, "civil.low_income", day)
    raw = path.read_bytes()
    encoding = read_summary(world, day)["encodings"]["civil.low_income"]
    lines = csv_lines(path)
    header = lines[0].decode("ascii").split(",")
    records = {r["row"]: r for r in truth if r["row"] is not None}
    kinds = Counter(r["defect"] for r in records.values())
    assert kinds["wrong_encoding"] == 1 and kinds["malformed_row"] >= 1
    codec = "gb18030" if encoding == "gbk" else "utf-8"
    if encoding == "gbk":
        assert not raw.startswith(codecs.BOM_UTF8) and not decodes(raw, "utf-8")
    else:
        assert raw.startswith(codecs.BOM_UTF8)
    for number, line in enumerate(lines[1:], start=1):
        record = records.get(number)
        if record and record["defect"] == "wrong_encoding":
            assert not decodes(line, "utf-8")
            if encoding == "gbk":
                assert not decodes(line, "gb18030")
            else:  # a GBK line in a UTF-8 file
                assert decodes(line, "gbk")
            continue
        text = line.decode(codec)
        fields = next(csv.reader([text]))
        if record and record["defect"] == "malformed_row":
            assert len(fields) != len(header), record
            assert fields[0] == record["key"]
            continue
        assert len(fields) == len(header)
        row = dict(zip(header, fields, strict=True))
        if record is None:
            assert validate_citizen_id(row["id_number"]) is None, row
            assert row["town_code"] in TOWN_CODES
            assert row["category"] in ("低保", "特困", "低边")
            Decimal(row["monthly_amount"])
            assert date.fromisoformat(row["start_date"]) <= business_date(day)
            continue
        assert row["recipient_id"] == record["key"]
        value = row[record["field"]]
        if record["defect"] == "missing_value":
            assert value == ""
        else:
            assert value == record["value"], record
        if record["defect"] == "bad_check_char":
            assert "校验码错误" in validate_citizen_id(value)
        elif record["defect"] == "invalid_date":
            assert not is_date_text(value)
        elif record["defect"] == "non_numeric":
            assert not re.fullmatch(r"-?\d+(\.\d+)?", value)
        elif record["defect"] == "nonstandard_code":
            assert value not in TOWN_CODES


def _check_jsonl_day(world, day: int, truth: list[dict]) -> None:
    lines = file_of(world, "natres.real_estate", day).read_text("utf-8").splitlines()
    records = {r["row"]: r for r in truth if r["row"] is not None}
    for number, line in enumerate(lines, start=1):
        record = records.get(number)
        if record and record["defect"] == "malformed_row":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
            continue
        row = json.loads(line)
        if record is None:
            check = validate_citizen_id if row["owner_type"] == "个人" else validate_uscc
            assert check(row["owner_id"]) is None, row
            assert is_date_text(row["registered_date"])
            assert date.fromisoformat(row["registered_date"]) <= business_date(day)
            assert isinstance(row["floor_area"], float)
            continue
        assert row["certificate_no"] == record["key"]
        assert row[record["field"]] == record["value"]


def _check_json_day(world, day: int, truth: list[dict]) -> None:
    document = json.loads(file_of(world, "govdata.e_licence", day).read_text("utf-8"))
    records = {r["row"]: r for r in truth if r["row"] is not None}
    for number, row in enumerate(document["records"], start=1):
        record = records.get(number)
        if record is None:
            check = validate_citizen_id if row["holder_type"] == "个人" else validate_uscc
            assert check(row["holder_id"]) is None, row
            assert date.fromisoformat(row["issue_date"]) <= business_date(day)
            continue
        assert row["licence_no"] == record["key"]
        assert row[record["field"]] == record["value"]


def _check_xlsx_day(world, day: int, truth: list[dict]) -> None:
    rows = xlsx_rows(file_of(world, "overseas.overseas_chinese", day))
    header = list(rows[0])
    records = {r["row"]: r for r in truth if r["row"] is not None}
    by_key = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    for number, values in enumerate(rows[1:], start=1):
        row = dict(zip(header, values, strict=True))
        record = records.get(number)
        registered = row["registered_date"]
        if record is None:
            assert row["id_number"] is None or validate_citizen_id(row["id_number"]) is None
            assert row["sex"] in ("1", "2")
            assert isinstance(registered, datetime) and registered.date() <= business_date(day)
            continue
        assert row["roster_id"] == record["key"]
        value = row[record["field"]]
        kind = record["defect"]
        if kind == "duplicate":
            original = dict(by_key[record["value"]])
            twin = dict(row)
            original.pop("roster_id")
            twin.pop("roster_id")
            assert twin == original
        elif kind == "missing_value":
            assert value is None
        elif kind == "future_date":
            assert isinstance(value, datetime) and value.date().isoformat() == record["value"]
            assert value.date() > business_date(day)
        elif kind == "invalid_date":
            assert isinstance(value, str) and value == record["value"]
        else:
            assert value == record["value"]
            if kind == "nonstandard_code":
                assert value in ("男", "女", "M", "F")
            if kind == "bad_check_char":
                assert "校验码错误" in validate_citizen_id(value)


SAFETY_TYPES = ("日常检查", "专项检查", "复查")
SAFETY_RESULTS = ("合格", "限期整改", "停产整顿")
HAZARD_LEVELS = ("一般", "较大", "重大")


def safety_rows(world, day: int) -> list[dict]:
    """The rows of the safety-inspection CSV of ``day`` (UTF-8 without BOM, one per line)."""
    path = file_of(world, "emergency.safety_inspection", day)
    assert not path.read_bytes().startswith(codecs.BOM_UTF8)
    lines = csv_lines(path)
    header = lines[0].decode("ascii").split(",")
    return [
        dict(zip(header, next(csv.reader([line.decode("utf-8")])), strict=True))
        for line in lines[1:]
    ]


def _assert_clean_inspection(row: dict, day: int) -> None:
    assert validate_uscc(row["uscc"]) is None, row
    on = date.fromisoformat(row["inspection_date"])
    assert on <= business_date(day)
    assert row["inspection_type"] in SAFETY_TYPES and row["result"] in SAFETY_RESULTS
    assert re.fullmatch(
        r"开平市(应急管理局执法监察大队|\S+(街道|镇)应急管理办公室)", row["inspector_unit"]
    )
    hazards, major = int(row["hazards_found"]), int(row["major_hazards"])
    assert 0 <= major <= hazards
    level, due, rectified = row["hazard_level"], row["rectification_due"], row["rectified_date"]
    if hazards == 0:
        assert (level, due, rectified, row["result"]) == ("", "", "", "合格"), row
    else:
        assert level in HAZARD_LEVELS and (level == "重大") == (major > 0), row
        assert row["result"] == "限期整改" or (row["result"] == "停产整顿" and major > 0), row
        assert date.fromisoformat(due) > on
        if rectified:
            assert on < date.fromisoformat(rectified) <= business_date(day)
    stamp = datetime.fromisoformat(row["updated_at"])
    assert stamp < day_end(day) and (day == 1 or stamp >= day_start(day)), row
    assert stamp.date() >= max(on, date.fromisoformat(rectified or on.isoformat()))


def _check_safety_day(world, day: int, truth: list[dict]) -> None:
    rows = safety_rows(world, day)
    records = {r["row"]: r for r in truth}
    assert None not in records and set(records) <= set(range(1, len(rows) + 1))
    for number, row in enumerate(rows, start=1):
        record = records.get(number)
        if record is None:
            _assert_clean_inspection(row, day)
            continue
        assert row["inspection_id"] == record["key"]
        value, kind = row[record["field"]], record["defect"]
        if kind == "missing_value":
            assert value == "" and record["value"] is None
        else:
            assert value == record["value"], record
        if kind == "bad_check_char":
            assert "校验码错误" in validate_uscc(value)
        elif kind == "invalid_date":
            assert not is_date_text(value)
        elif kind == "non_numeric":
            assert not re.fullmatch(r"\d+", value)
        else:
            assert kind == "missing_value", record


def test_file_truth_points_at_real_rows_and_other_rows_are_clean(world):
    for day in range(1, DAY + 1):
        truth = read_truth(world, day)
        per_resource = {r: [t for t in truth if t["resource"] == r] for r in FILE_NAMES}
        _check_csv_day(world, day, per_resource["civil.low_income"])
        _check_jsonl_day(world, day, per_resource["natres.real_estate"])
        _check_json_day(world, day, per_resource["govdata.e_licence"])
        _check_xlsx_day(world, day, per_resource["overseas.overseas_chinese"])
        _check_safety_day(world, day, per_resource["emergency.safety_inspection"])


def test_civil_csv_encodings_alternate(world):
    for day in (1, 2, 3):
        expected = "gbk" if day % 2 else "utf-8-sig"
        assert read_summary(world, day)["encodings"] == {
            "civil.low_income": expected,
            "emergency.safety_inspection": "utf-8",  # the catalog's, every day
        }
        raw = file_of(world, "civil.low_income", day).read_bytes()
        good = [
            line
            for line in csv_lines(file_of(world, "civil.low_income", day))[1:]
            if decodes(line, "gb18030" if expected == "gbk" else "utf-8")
        ]
        assert len(good) == len(csv_lines(file_of(world, "civil.low_income", day))) - 2
        if expected == "gbk":
            assert any(b >= 0x80 for b in raw) and not decodes(raw, "utf-8")
            assert all(decodes(line, "gbk") for line in good)


def test_schema_drift_from_day_3(world):
    assert "website" in column_names(world.databases["kp_market"], "enterprise")
    for day in (1, 2, 3):
        drift = [r for r in read_truth(world, day) if r["defect"] == "schema_drift"]
        if day < 3:
            assert drift == []
        else:
            assert {(r["resource"], r["field"], r["key"], r["row"]) for r in drift} == {
                ("civil.low_income", "disability_grade", None, None),
                ("market.enterprise", "website", None, None),
            }
    grades = Counter(
        line.decode("gb18030").rsplit(",", 1)[-1]
        for line in csv_lines(file_of(world, "civil.low_income", 3))[1:]
        if decodes(line, "gb18030")
    )
    assert grades[""] > 0 and any(grades[g] for g in ("一级", "二级", "三级", "四级"))


def test_clean_run_injects_nothing(sim_pg_server, tmp_path_factory):
    with sim_world(sim_pg_server, tmp_path_factory.mktemp("clean")) as clean:
        result = simulate(scale=SCALE, seed=SEED, day=DAY, defects=False)
        for day in (1, 2, 3):
            assert (clean.sim / "truth" / f"day={day}.jsonl").read_bytes() == b""
            assert read_summary(clean, day)["defects_enabled"] is False
        police = clean.databases["kp_police"]
        assert fetch(police, "select count(*) from person where person_id like 'RK9%'")[0][0] == 0
        ids = fetch(police, "select id_number, sex from person")
        assert all(validate_citizen_id(i) is None and s in ("1", "2") for i, s in ids)
        assert len(ids) >= SCALE and result.counts["police.person"] > 0
        assert "website" not in column_names(clean.databases["kp_market"], "enterprise")
        header = csv_lines(file_of(clean, "civil.low_income", 3))[0].decode("ascii")
        assert "disability_grade" not in header
        lines = csv_lines(file_of(clean, "civil.low_income", 3))
        assert all(decodes(line, "gbk") for line in lines)


# --- one city across departments --------------------------------------------------------------


def test_people_and_enterprises_are_shared_across_departments(world):
    police = {
        i: s for i, s in fetch(world.databases["kp_police"], "select id_number, status from person")
    }
    hrss = {
        i for (i,) in fetch(world.databases["kp_hrss"], "select id_number from insurance_enrolment")
    }
    assert len(hrss & police.keys()) >= 0.95 * len(hrss)
    usccs = {u for (u,) in fetch(world.databases["kp_market"], "select uscc from enterprise")}
    employers = values(
        world.databases["kp_hrss"], "select uscc from insurance_enrolment where uscc is not null"
    )
    assert len(employers - usccs) <= 0.02 * len(employers)
    taxed = [u for (u,) in fetch(world.databases["kp_tax"], "select uscc from tax_payment")]
    assert sum(1 for u in taxed if u in usccs) >= 0.98 * len(taxed)

    roster = xlsx_rows(file_of(world, "overseas.overseas_chinese", DAY))
    roster_ids = {r[3] for r in roster[1:] if r[3]}
    statuses = Counter(police[i] for i in roster_ids if i in police)
    assert statuses["正常"] > 0 and statuses["迁出"] > 0 and statuses["死亡"] > 0
    relatives = {r[9] for r in roster[1:] if r[9]}
    phones = {p for (p,) in fetch(world.databases["kp_police"], "select phone from person")}
    assert len(relatives & phones) >= 0.9 * len(relatives)

    lines = csv_lines(file_of(world, "civil.low_income", 2))  # a UTF-8 day
    recipients = [next(csv.reader([line.decode("utf-8", "replace")])) for line in lines[1:]]
    recipient_ids = {r[2] for r in recipients if len(r) > 2}
    assert len(recipient_ids & police.keys()) >= 0.9 * len(recipient_ids)
    reps = {
        i
        for (i,) in fetch(
            world.databases["kp_market"], "select legal_rep_id_number from enterprise"
        )
    }
    assert recipient_ids & reps, "some low-income recipients own enterprises"
    owners = Counter(
        json.loads(line)["owner_id"]
        for line in file_of(world, "natres.real_estate", 1).read_text("utf-8").splitlines()
        if line.endswith("}")
    )
    assert any(owners[i] >= 2 for i in recipient_ids), "some recipients own several properties"
    high = values(
        world.databases["kp_hrss"],
        "select id_number from insurance_enrolment where contribution_base >= 12000",
    )
    assert recipient_ids & high, "some recipients pay insurance on a high base"
    assert {o for o in owners if len(o) == 18 and not o[:17].isdigit()} & usccs


def test_zombie_enterprises_exist(world):
    rows = fetch(
        world.databases["kp_market"],
        "select uscc, established_date from enterprise where status in ('存续', '在业')",
    )
    taxed = {
        u for (u,) in fetch(world.databases["kp_tax"], "select distinct uscc from tax_payment")
    }
    cutoff = business_date(DAY) - timedelta(days=365)
    insured = {
        u
        for (u,) in fetch(
            world.databases["kp_hrss"],
            "select distinct uscc from insurance_enrolment "
            "where uscc is not null and (end_date is null or end_date >= %s)",
            (cutoff,),
        )
    }
    zombies = [u for u, established in rows if u not in taxed | insured and established < cutoff]
    assert len(zombies) >= 3
    employers = values(
        world.databases["kp_hrss"], "select uscc from insurance_enrolment where uscc is not null"
    )
    assert {u for u, _ in rows} - employers, "some active enterprises never insured anybody"


def test_the_city_looks_like_kaiping(world):
    police = world.databases["kp_police"]
    today = business_date(DAY)
    people = fetch(
        police,
        "select birth_date, status, death_date, sex, town_code, address, relation_to_head, "
        "ethnicity from person where person_id not like 'RK9%'",
    )
    living = [p for p in people if p[1] == "正常" and p[0] is not None]
    elderly = sum(1 for p in living if (today - p[0]).days >= 60 * 365.25)
    assert 0.2 <= elderly / len(living) <= 0.4, "Kaiping is ageing"
    assert {p[1] for p in people} == {"正常", "死亡", "迁出"}
    assert all((p[2] is not None) == (p[1] == "死亡") for p in people)
    assert {p[4] for p in people if p[4]} <= TOWN_CODES and len({p[4] for p in people}) == 15
    assert all(
        re.fullmatch(r"开平市\S+?(街道|镇)\S+?(社区|村)\S+?路\d+号", p[5]) for p in people if p[5]
    )
    assert Counter(p[7] for p in people).most_common(1)[0][0] == "01"
    heads = fetch(
        police, "select count(*) from household h join person p on p.id_number = h.head_id_number"
    )
    assert heads[0][0] > 0

    enterprises = fetch(
        world.databases["kp_market"],
        "select uscc, entity_type, industry_code, status, closed_date, registered_capital "
        "from enterprise",
    )
    prefixes = {"个体工商户": "92", "农民专业合作社": "93"}
    assert {e[1] for e in enterprises} == {
        "有限责任公司",
        "股份有限公司",
        "个人独资企业",
        "合伙企业",
        "个体工商户",
        "农民专业合作社",
    }
    for uscc, kind, industry, status, closed, capital in enterprises:
        assert uscc.startswith(prefixes.get(kind, "91")) and uscc[2:8] == "440783"
        assert re.fullmatch(r"[A-T]\d{4}", industry)
        assert (closed is not None) == (status in ("注销", "吊销"))
        assert capital > 0
    sections = Counter(e[2][0] for e in enterprises)
    assert sections["C"] and sections["A"] and sections["F"] and sections["H"] and sections["E"]

    types = values(
        world.databases["kp_hrss"],
        "select insurance_type from insurance_enrolment where insurance_type is not null",
    )
    assert types == {"110", "210", "310", "410"}

    licences = json.loads(file_of(world, "govdata.e_licence", 1).read_text("utf-8"))["records"]
    kinds = Counter(r["licence_type"] for r in licences)
    assert {"营业执照", "食品经营许可证", "居民身份证电子证照"} <= set(kinds)
    expired = [r for r in licences if r["valid_until"] and r["valid_until"] < "2026-11-01"]
    assert expired, "some licences have expired"


def test_hotline_tickets_look_like_a_hotline(world):
    import sqlite3

    with sqlite3.connect(world.sim / "hotline.sqlite3") as store:
        rows = store.execute(
            "select created_at, status, due_at, closed_at, satisfaction, category, "
            "handling_department from tickets"
        ).fetchall()
    per_day = Counter(r[0][:10] for r in rows)
    for day in range(1, DAY + 1):
        assert per_day[business_date(day).isoformat()] >= 30
    assert any(r[1] == "已办结" and r[3] > r[2] for r in rows), "some tickets closed late"
    assert any(r[1] == "办理中" and r[2] < day_end(DAY).isoformat() for r in rows), "some overdue"
    for created, status, due, closed, satisfaction, _category, department in rows:
        assert (closed is not None) == (status == "已办结")
        assert satisfaction is None or (status == "已办结" and 1 <= satisfaction <= 5)
        assert due > created and department
        start = datetime.fromisoformat(created)
        assert datetime.fromisoformat(due) > add_working_days(start, 2)
    assert len({r[5] for r in rows}) >= 9


# --- safety production (emergency) ---------------------------------------------------------


def test_safety_inspections_look_like_safety_inspections(world, replayed):
    days = {day: safety_rows(world, day) for day in range(1, DAY + 1)}
    for day, rows in days.items():
        assert replayed["days"][day]["result"].counts["emergency.safety_inspection"] == len(rows)
        assert len({r["inspection_id"] for r in rows}) == len(rows)
    flagged = {(t["day"], t["row"]) for d in days for t in read_truth(world, d)
               if t["resource"] == "emergency.safety_inspection"}  # fmt: skip
    clean = [r for d, rows in days.items() for n, r in enumerate(rows, 1) if (d, n) not in flagged]
    first = days[1]
    # day 1 carries the twelve months before it, later days that day's inspections and updates
    dates = sorted(r["inspection_date"] for r in first if is_date_text(r["inspection_date"]))
    assert history_start().isoformat() <= dates[0] < (history_start() + timedelta(30)).isoformat()
    assert dates[-1] < business_date(1).isoformat() and len(first) > SCALE / 10
    for day in range(2, DAY + 1):
        assert all(r["updated_at"] >= day_start(day).isoformat(" ") for r in days[day])
    updated = [
        r for d in (2, 3) for r in days[d] if r["inspection_date"] < business_date(d).isoformat()
    ]
    assert updated and all(r["rectified_date"] for r in updated), "follow-ups update old rows"

    assert {r["inspection_type"] for r in clean} == set(SAFETY_TYPES)
    assert {r["result"] for r in clean} == set(SAFETY_RESULTS)
    assert {r["hazard_level"] for r in clean} == {"", *HAZARD_LEVELS}
    # every follow-up (复查) checks an earlier inspection of the same enterprise with hazards
    # (unless a defect hid that inspection's enterprise or date)
    every = [r for rows in days.values() for r in rows]
    earlier = {
        (r["uscc"], r["inspection_date"])
        for r in every
        if r["hazards_found"] not in ("0", "无", "")
    }
    follow_ups = [r for r in clean if r["inspection_type"] == "复查"]
    orphans = [
        row
        for row in follow_ups
        if not any(u == row["uscc"] and on < row["inspection_date"] for u, on in earlier)
    ]
    assert follow_ups and len(orphans) <= 0.02 * len(follow_ups), orphans
    # some rectifications are overdue: still open past the due date, or done late
    today = business_date(DAY).isoformat()
    overdue = [r for r in clean if r["rectification_due"] and not r["rectified_date"]
               and r["rectification_due"] < today]  # fmt: skip
    late = [
        r for r in clean if r["rectified_date"] and r["rectified_date"] > r["rectification_due"]
    ]
    assert overdue and late

    # enterprises of the market registry; manufacturing and construction inspected most
    industries = dict(
        fetch(
            world.databases["kp_market"],
            "select uscc, industry_code from enterprise where status in ('存续', '在业')",
        )
    )
    inspected = [r["uscc"] for r in clean if r["inspection_type"] != "复查"]
    known = sum(1 for u in inspected if u in industries)
    assert known >= 0.95 * len(inspected)

    def per_enterprise(sections: str) -> float:
        enterprises = [u for u, code in industries.items() if code[0] in sections]
        hits = sum(1 for u in inspected if u in industries and industries[u][0] in sections)
        return hits / len(enterprises)

    assert per_enterprise("CE") > 3 * per_enterprise("AFO")


# --- cross-department conflicts (多元校核) -----------------------------------------------------


def _conflict_truth(world) -> dict[int, list[dict]]:
    return {
        day: [t for t in read_truth(world, day) if t["defect"] == "conflict"]
        for day in range(1, DAY + 1)
    }


def test_conflict_records_name_both_values_and_the_person(world):
    police = {
        row[0]: row[1:]
        for row in fetch(
            world.databases["kp_police"],
            "select id_number, name, sex, town_code from person where person_id not like 'RK9%'",
        )
    }
    position = {"name": 0, "sex": 1, "town_code": 2}
    seen = Counter()
    for day, records in _conflict_truth(world).items():
        for record in records:
            assert list(record) == [
                "day", "resource", "key", "row", "field", "defect", "value",
                "authoritative_value", "id_number",
            ]  # fmt: skip
            field = sim_conflicts.CONFLICT_FIELDS[record["resource"]]
            assert record["field"] == field and record["day"] == day
            value, authoritative = record["value"], record["authoritative_value"]
            assert value != authoritative
            # the police register holds the authoritative value, on one clean row
            assert validate_citizen_id(record["id_number"]) is None
            assert police[record["id_number"]][position[field]] == authoritative
            if field == "name":  # a homophone of one given-name character
                assert len(value) == len(authoritative)
                changed = [
                    i for i, (a, b) in enumerate(zip(value, authoritative, strict=True)) if a != b
                ]
                assert len(changed) == 1 and changed[0] > 0
                assert value[changed[0]] in sim_conflicts.HOMOPHONES[authoritative[changed[0]]]
                value.encode("gbk")
            elif field == "sex":
                assert {value, authoritative} == {"1", "2"}
            else:
                assert value in TOWN_CODES and authoritative in TOWN_CODES
            seen[record["resource"]] += 1
    assert set(seen) == set(sim_conflicts.CONFLICT_FIELDS), "every kind of conflict is injected"
    summary = read_summary(world, 1)
    for resource in sim_conflicts.CONFLICT_FIELDS:
        rows = summary["resources"][resource]["rows"]
        found = summary["resources"][resource]["defects"]["conflict"]
        assert 1 <= found <= max(1, CONTENT_RATES[resource]["conflict"] * rows + 1.5)


def test_a_cross_check_against_the_police_register_finds_every_injected_conflict(world):
    """What a conflicts model does: join on id_number, compare with the register."""
    police = {
        row[0]: row[1:]
        for row in fetch(
            world.databases["kp_police"],
            "select id_number, name, sex, town_code from person where person_id not like 'RK9%'",
        )
    }
    truth = _conflict_truth(world)
    # hrss (database, the state as of day 3): a conflict is there while its row is unchanged
    enrolments = fetch(
        world.databases["kp_hrss"],
        "select enrolment_id, id_number, name, updated_at from insurance_enrolment",
    )
    stamps = {key: stamp for key, _, _, stamp in enrolments}
    injected = {
        r["key"]
        for day, records in truth.items()
        for r in records
        if r["resource"] == "hrss.social_insurance" and _in_window(stamps[r["key"]], day)
    }
    found = {
        key
        for key, id_number, name, _ in enrolments
        if id_number in police and police[id_number][0] and name != police[id_number][0]
    }
    assert injected and found == injected  # hrss copies names: no other disagreement

    # overseas roster (the day-3 workbook): sex, where both are codes
    rows = xlsx_rows(file_of(world, "overseas.overseas_chinese", DAY))
    header = list(rows[0])
    entries = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    found = {
        e["roster_id"]
        for e in entries
        if e["id_number"] in police
        and e["sex"] in ("1", "2")
        and e["sex"] != police[e["id_number"]][1]
    }
    injected = {r["key"] for r in truth[DAY] if r["resource"] == "overseas.overseas_chinese"}
    assert injected and found == injected

    # civil (the day-3 CSV): town codes; other disagreements are recipients whose household
    # moved within the city after their assistance started (civil affairs lags behind)
    damaged = {
        t["row"]
        for t in read_truth(world, DAY)
        if t["defect"] in ("malformed_row", "wrong_encoding")
    }
    lines = csv_lines(file_of(world, "civil.low_income", DAY))
    header = lines[0].decode("ascii").split(",")
    found = {}
    for number, line in enumerate(lines[1:], start=1):
        if number in damaged:
            continue
        row = dict(zip(header, next(csv.reader([line.decode("gb18030")])), strict=True))
        person = police.get(row["id_number"])
        if person and row["town_code"] in TOWN_CODES and row["town_code"] != person[2]:
            found[row["recipient_id"]] = (row["id_number"], row["start_date"])
    injected = {r["key"] for r in truth[DAY] if r["resource"] == "civil.low_income"}
    assert injected and injected <= set(found)
    moves = fetch(
        world.databases["kp_police"],
        "select id_number, move_date from residence_move where move_type = '市内迁移'",
    )
    for key in set(found) - injected:
        id_number, start = found[key]
        assert any(i == id_number and m.isoformat() >= start for i, m in moves), key


def test_homophones_are_homophones_of_given_name_characters():
    from govlake.simulate import names

    pools = names.GIVEN_OLD_MALE + names.GIVEN_OLD_FEMALE + names.GIVEN_NEW_MALE
    pools += names.GIVEN_NEW_FEMALE
    assert set(sim_conflicts.HOMOPHONES) <= set(pools)
    assert len(set(sim_conflicts.HOMOPHONES)) >= 0.9 * len(set(pools))
    for character, others in sim_conflicts.HOMOPHONES.items():
        assert others and character not in others
        others.encode("gbk")
    import random

    rng = random.Random(1)
    assert sim_conflicts.homophone_name("司徒建华", rng)[:2] == "司徒"
    assert sim_conflicts.homophone_name("关群", rng) is None  # 群: no homophone kept


# --- the 12345 API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(world):
    server = create_hotline_server(0, TOKEN, world.sim / "hotline.sqlite3")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, token: str | None = TOKEN, scheme: str = "Bearer") -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"{scheme} {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_api_requires_the_bearer_token(api):
    path = f"{api}/api/v1/tickets"
    for status, body in (get(path, None), get(path, "wrong"), get(path, TOKEN, "Basic")):
        assert status == 401 and body["error"] == "unauthorized"
    assert get(path)[0] == 200
    assert get(f"{api}/api/v1/health", None) == (200, {"status": "ok"})
    assert get(f"{api}/api/v1/other")[0] == 404


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page_size=501",
        "page_size=abc",
        "updated_from=yesterday",
        "colour=red",
        "page=1&page=2",
        "updated_from=2026-11-03T00:00:00&updated_to=2026-11-02T00:00:00",
    ],
)
def test_api_rejects_bad_parameters(api, query):
    status, body = get(f"{api}/api/v1/tickets?{query}")
    assert status == 400 and body["error"] == "bad_request" and body["message"]


def test_api_pages_add_up_to_the_total_in_order(api, world):
    start, end = day_start(1).isoformat(), day_end(DAY).isoformat()
    seen, page, total = [], 1, None
    while True:
        status, body = get(
            f"{api}/api/v1/tickets?updated_from={start}&updated_to={end}&page={page}&page_size=97"
        )
        assert status == 200 and body["page"] == page and body["page_size"] == 97
        total = body["total"] if total is None else total
        assert body["total"] == total
        if not body["items"]:
            break
        seen.extend(body["items"])
        page += 1
    assert len(seen) == total == len({item["ticket_id"] for item in seen}) > 97
    keys = [(item["updated_at"], item["ticket_id"]) for item in seen]
    assert keys == sorted(keys)
    assert list(seen[0]) == sim_schema.resource("govdata.hotline_ticket").columns
    status, body = get(f"{api}/api/v1/tickets?page_size=500")
    assert body["page_size"] == 500 and len(body["items"]) == min(500, body["total"])


def test_api_window_is_half_open(api, world):
    _, body = get(f"{api}/api/v1/tickets?updated_from={day_start(DAY).isoformat()}&page_size=500")
    boundary = body["items"][len(body["items"]) // 2]["updated_at"]
    at_boundary = [i for i in body["items"] if i["updated_at"] == boundary]
    _, before = get(
        f"{api}/api/v1/tickets?updated_from={day_start(DAY).isoformat()}"
        f"&updated_to={boundary}&page_size=500"
    )
    _, after = get(f"{api}/api/v1/tickets?updated_from={boundary}&page_size=500")
    assert all(i["updated_at"] < boundary for i in before["items"])
    assert all(i["updated_at"] >= boundary for i in after["items"])
    assert {i["ticket_id"] for i in at_boundary} <= {i["ticket_id"] for i in after["items"]}
    assert before["total"] + after["total"] == body["total"]
    day3 = f"updated_from={day_start(DAY).isoformat()}&updated_to={day_end(DAY).isoformat()}"
    assert (
        get(f"{api}/api/v1/tickets?{day3}")[1]["total"]
        == world.result.counts["govdata.hotline_ticket"]
    )
    offset = "updated_from=2026-11-02T16:00:00Z&updated_to=2026-11-04T00:00:00%2B08:00"
    assert (
        get(f"{api}/api/v1/tickets?{offset}")[1]["total"]
        == get(f"{api}/api/v1/tickets?{day3}")[1]["total"]
    )


def test_api_server_runs_as_a_module(world, tmp_path):
    env = {**os.environ, "GOVLAKE_SIM_DIR": str(world.sim)}
    env.pop("GOVLAKE_HOTLINE_TOKEN", None)
    command = [sys.executable, "-m", "govlake.simulate.hotline_api", "--port", "0"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "GOVLAKE_HOTLINE_TOKEN" in refused.stderr

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env["GOVLAKE_HOTLINE_TOKEN"] = TOKEN
    process = subprocess.Popen(
        [*command[:-1], str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/api/v1/tickets?page_size=1")
                break
            except urllib.error.URLError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert status == 200 and body["total"] > 0
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()


# --- the market registry on MariaDB -------------------------------------------------------------


def test_market_registry_on_mariadb(world, sim_pg_server, tmp_path_factory):
    base, admin = mariadb_server()
    name = "kp_market_test"
    with admin.cursor() as cursor:
        cursor.execute(f"drop database if exists `{name}`")
        cursor.execute(f"create database `{name}` character set utf8mb4")
    try:
        with sim_world(
            sim_pg_server, tmp_path_factory.mktemp("mariadb"), mysql_market=f"{base}/{name}"
        ) as other:
            result = simulate(scale=SCALE, seed=SEED, day=DAY)
            assert result.counts == world.result.counts
        with admin.cursor() as cursor:
            cursor.execute(f"select * from `{name}`.enterprise order by uscc")
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
            cursor.execute(
                "select table_collation from information_schema.tables "
                "where table_schema = %s and table_name = 'enterprise'",
                (name,),
            )
            (collation,) = cursor.fetchone()
        expected_columns, expected = table_rows(world.databases["kp_market"], "enterprise", "uscc")
        assert columns == expected_columns
        assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
        assert collation.startswith("utf8mb4")
        assert other.env["AIRFLOW_CONN_KP_MARKET"].startswith("mysql://")
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists `{name}`")
        admin.close()


def test_simulate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="day"):
        simulate(scale=SCALE, seed=SEED, day=0)
    with pytest.raises(ValueError, match="scale"):
        simulate(scale=10, seed=SEED, day=1)


def test_files_are_idempotent(world):
    before = {p: p.stat().st_mtime_ns for p in world.landing.rglob("*") if p.is_file()}
    simulate(scale=SCALE, seed=SEED, day=DAY)
    after = {p: p.stat().st_mtime_ns for p in world.landing.rglob("*") if p.is_file()}
    assert before == after, "unchanged files are not rewritten"
    assert checksums(world) == world.checksums
