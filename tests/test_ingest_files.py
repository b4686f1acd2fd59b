"""Departmental file drops: encodings, malformed rows, Excel, JSON — nothing lost."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from govlake import config
from govlake.governance.store import connect
from govlake.pipeline.ingest import extract_resource, load_resource
from openpyxl import Workbook

DAY = date(2026, 11, 1)
HEADER = (
    "recipient_id,name,id_number,town_code,category,household_size,monthly_amount,start_date,status"
)


def _drop(department: str, name: str, payload: bytes) -> Path:
    folder = config.landing_dir() / department / f"{DAY:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(payload)
    return path


def _ingest(resource_id: str):
    manifest = extract_resource(resource_id, DAY)
    return manifest, load_resource(resource_id, DAY, manifest["batch_id"])


def _quarantine(resource_id: str) -> list[tuple]:
    with connect() as conn:
        return conn.execute(
            "select stage, source_file, source_row, field, reason from governance.quarantine "
            "where resource_id = %s order by source_row",
            (resource_id,),
        ).fetchall()


def test_gbk_csv_is_read_and_bad_rows_are_quarantined_with_file_row_and_field(platform):
    lines = [
        HEADER,
        "R1,关志强,440783199001011234,440783001,低保,3,800,2024-01-01,在册",
        "R2,司徒敏,,440783002,特困,1,900,2024-02-01,在册",  # required id_number empty
        "R3,谢家豪,440783198502023456,440783100,低边,二,600,2024-02-30,在册",  # bad int + date
        'R4,"周,5',  # unbalanced quote
        "R5,梁小红,440783197003034567,440783101,低保,2,700.50,2024-03-01,在册,多余",  # extra field
        "R6,黄伟,440783196504045678,440783102,低保,,650,2024-04-01,在册",
    ]
    _drop("civil", "low_income_20261101.csv", "\r\n".join(lines).encode("gbk"))

    manifest, result = _ingest("civil.low_income")

    assert manifest["source"]["encodings"] == {"low_income_20261101.csv": "gb18030"}
    assert (result.source_rows, result.loaded_rows, result.quarantined) == (6, 2, 4)
    assert result.reconciled
    problems = _quarantine("civil.low_income")
    by_row = {row[2]: row for row in problems}
    assert set(by_row) == {2, 3, 4, 5}
    assert by_row[2][0] == "load" and by_row[2][3] == "id_number"
    assert "low_income_20261101.csv row 2" in by_row[2][4] and "id_number" in by_row[2][4]
    assert by_row[3][3] == "household_size,start_date"
    assert "'二'" in by_row[3][4] and "'2024-02-30'" in by_row[3][4]
    assert by_row[4][0] == "extract" and "row 4" in by_row[4][4]
    assert by_row[5][0] == "extract" and "10 fields, the header has 9" in by_row[5][4]
    with connect() as conn:
        names = conn.execute(
            "select name, household_size from raw.civil__low_income order by _source_row"
        ).fetchall()
    assert names == [("关志强", 3), ("黄伟", None)]  # GBK decoded; blank integer → NULL


def test_undecodable_and_wrongly_encoded_lines_are_quarantined_the_rest_loads(platform):
    good = [
        HEADER,
        "R1,关志强,440783199001011234,440783001,低保,3,800,2024-01-01,在册",
        "R2,司徒敏,440783199001011234,440783002,特困,1,900,2024-02-01,在册",
    ]
    payload = (
        "\n".join(good).encode("utf-8") + b"\nR3,\xff\xfe\xfa,x,440783001,a,1,1,2024-01-01,b\n"
    )
    # a GBK line pasted into a UTF-8 export: readable, but not what the file says it is
    payload += "R4,黄伟,440783196504045678,440783102,低保,1,650,2024-04-01,在册\n".encode("gbk")
    payload += "R5,梁红,440783196504045679,440783102,低保,1,650,2024-04-01,在册\n".encode()
    _drop("civil", "low_income_20261101.csv", payload)

    manifest, result = _ingest("civil.low_income")

    assert manifest["source"]["encodings"]["low_income_20261101.csv"] == "utf-8"
    assert (result.source_rows, result.loaded_rows, result.quarantined) == (5, 3, 2)
    rows = _quarantine("civil.low_income")
    assert [(stage, file, row) for stage, file, row, _, _ in rows] == [
        ("extract", "low_income_20261101.csv", 3),
        ("extract", "low_income_20261101.csv", 4),
    ]
    assert "neither UTF-8 nor GB18030" in rows[0][4]
    assert "row 4 is gb18030, the rest of the file is utf-8" in rows[1][4]
    with connect() as conn:
        names = [r[0] for r in conn.execute("select name from raw.civil__low_income")]
    assert "黄伟" not in names and "梁红" in names  # no mojibake reaches raw
    # the department's original file is kept unchanged beside the parsed rows
    [source] = manifest["source_files"]
    stored = config.storage_settings().root / "govlake" / source["key"]
    assert stored.read_bytes() == payload


def test_a_utf8_line_in_a_gbk_file_is_not_read_as_mojibake(platform):
    lines = [HEADER] + [
        f"R{i},关志强,44078319900101123{i},440783001,低保,3,800,2024-01-01,在册" for i in range(4)
    ]
    payload = "\n".join(lines).encode("gbk") + b"\n"
    payload += "R9,黄伟,440783196504045678,440783102,低保,1,650,2024-04-01,在册\n".encode()
    _drop("civil", "low_income_20261101.csv", payload)
    manifest, result = _ingest("civil.low_income")
    assert manifest["source"]["encodings"]["low_income_20261101.csv"] == "gb18030"
    assert (result.loaded_rows, result.quarantined) == (4, 1)
    [(_, _, row, _, reason)] = _quarantine("civil.low_income")
    assert row == 5 and "is utf-8, the rest of the file is gb18030" in reason


def test_repeated_and_blank_header_names_lose_no_value(platform):
    lines = [
        HEADER + ",status,",
        "R1,关志强,440783199001011234,440783001,低保,3,800,2024-01-01,在册,旧,x",
    ]
    _drop("civil", "low_income_20261101.csv", "\n".join(lines).encode("utf-8"))
    _, result = _ingest("civil.low_income")
    assert result.loaded_rows == 1
    assert result.added_columns == ["column_11", "status__2"]
    with connect() as conn:
        status, extra = conn.execute("select status, _extra from raw.civil__low_income").fetchone()
    assert status == "在册" and extra == {"status__2": "旧", "column_11": "x"}


def test_schema_drift_keeps_the_new_column_and_records_it(platform):
    lines = [
        HEADER + ",disability_grade",
        "R1,关志强,440783199001011234,440783001,低保,3,800,2024-01-01,在册,二级",
        "R2,司徒敏,440783199001011235,440783002,特困,1,900,2024-02-01,在册,",
    ]
    _drop("civil", "low_income_20261101.csv", "\n".join(lines).encode("utf-8"))
    _, result = _ingest("civil.low_income")
    assert result.added_columns == ["disability_grade"]
    assert result.loaded_rows == 2
    with connect() as conn:
        extra = conn.execute(
            "select _extra from raw.civil__low_income order by _source_row"
        ).fetchall()
        drift = conn.execute(
            "select source_file, column_name, change from governance.schema_drift"
        ).fetchall()
    assert extra == [({"disability_grade": "二级"},), ({"disability_grade": ""},)]
    assert drift == [("low_income_20261101.csv", "disability_grade", "added")]


def test_missing_required_column_quarantines_every_row_with_the_reason(platform):
    header = HEADER.replace("id_number,", "")
    lines = [header, "R1,关志强,440783001,低保,3,800,2024-01-01,在册"]
    _drop("civil", "low_income_20261101.csv", "\n".join(lines).encode("utf-8"))
    _, result = _ingest("civil.low_income")
    assert (result.loaded_rows, result.quarantined) == (0, 1)
    assert result.missing_columns == ["id_number"]
    [(_stage, _file, _row, field, reason)] = _quarantine("civil.low_income")
    assert field == "id_number" and "missing required column 'id_number'" in reason


def test_excel_roster_with_dates_and_a_malformed_row(platform):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "名册"
    sheet.append(["roster_id", "name", "sex", "id_number", "category", "country",
                  "overseas_address", "hometown_town_code", "relative_name", "relative_phone",
                  "registered_date"])  # fmt: skip
    from datetime import datetime

    sheet.append(["Q1", "关美玲", "2", None, "华侨", "美国", "San Francisco", "440783108",
                  "关伟", "13800138000", datetime(2020, 5, 1)])  # fmt: skip
    sheet.append(["Q2", "司徒文", "1", None, "港澳同胞", "中国香港", None, "440783107",
                  None, None, "2019-13-01"])  # fmt: skip
    sheet.append(["Q3", "谢安", "1", None, "华侨", "加拿大", None, "440783100", None, None,
                  datetime(2021, 1, 2), "unexpected"])  # fmt: skip
    folder = config.landing_dir() / "overseas" / f"{DAY:%Y-%m-%d}"
    folder.mkdir(parents=True)
    workbook.save(folder / "roster_20261101.xlsx")

    _, result = _ingest("overseas.overseas_chinese")

    assert (result.source_rows, result.loaded_rows, result.quarantined) == (3, 1, 2)
    with connect() as conn:
        loaded = conn.execute(
            "select roster_id, registered_date::text from raw.overseas__overseas_chinese"
        ).fetchall()
    assert loaded == [("Q1", "2020-05-01")]
    reasons = {row[2]: row[4] for row in _quarantine("overseas.overseas_chinese")}
    assert "'2019-13-01'" in reasons[2]
    assert "beyond the 11 header columns" in reasons[3]


def test_json_lines_and_json_documents(platform):
    good = {"certificate_no": "粤(2026)开平市不动产权第0000001号", "owner_type": "个人",
            "owner_id": "440783199001011234", "owner_name": "关志强",
            "address": "开平市三埠街道港口路1号", "town_code": "440783001",
            "floor_area": 96.5, "usage": "住宅", "registered_date": "2026-11-01"}  # fmt: skip
    lines = [json.dumps(good, ensure_ascii=False), '{"certificate_no": "broken', ""]
    _drop("natres", "real_estate_20261101.jsonl", "\n".join(lines).encode("utf-8"))
    _, estate = _ingest("natres.real_estate")
    assert (estate.source_rows, estate.loaded_rows, estate.quarantined) == (2, 1, 1)

    licence = {"licence_no": "L1", "licence_type": "营业执照", "holder_type": "单位",
               "holder_id": "91440783MA4UXXXX0X", "holder_name": "开平市某某有限公司",
               "issuer": "开平市市场监督管理局", "issue_date": "2025-01-01",
               "valid_until": None, "status": "有效"}  # fmt: skip
    document = {"records": [licence, {**licence, "licence_no": "L2", "issue_date": "昨天"}, 7]}
    _drop("govdata", "licences_20261101.json", json.dumps(document, ensure_ascii=False).encode())
    _, licences = _ingest("govdata.e_licence")
    assert (licences.source_rows, licences.loaded_rows, licences.quarantined) == (3, 1, 2)


def test_a_day_without_a_delivery_is_recorded_not_an_error(platform):
    manifest, result = _ingest("civil.low_income")
    assert manifest["source"]["files_found"] == 0
    assert (result.source_rows, result.loaded_rows) == (0, 0)
    with connect() as conn:
        message = conn.execute("select message from governance.batch").fetchone()[0]
    assert "no file delivered" in message


def test_numbers_load_as_the_source_wrote_them_and_nul_is_quarantined(platform):
    lines = [
        HEADER,
        "R1,关志强,440783199001011234,440783001,低保, +3 ,800.00,2024-01-01,在册",
        "R2,司徒敏,440783199001011235,440783002,特困,-0,.50, 2024-02-01 ,在册",
        "R3,谢\x00安,440783199001011236,440783002,特困,1,1,2024-02-01,在册",
    ]
    _drop("civil", "low_income_20261101.csv", "\n".join(lines).encode("utf-8"))
    _, result = _ingest("civil.low_income")
    assert (result.loaded_rows, result.quarantined) == (2, 1)
    with connect() as conn:
        rows = conn.execute(
            "select household_size, monthly_amount::text, start_date::text "
            "from raw.civil__low_income order by _source_row"
        ).fetchall()
    assert rows == [(3, "800.00", "2024-01-01"), (0, "0.50", "2024-02-01")]
    [(stage, _file, row, field, reason)] = _quarantine("civil.low_income")
    assert (stage, row, field) == ("load", 3, "name") and "NUL" in reason
