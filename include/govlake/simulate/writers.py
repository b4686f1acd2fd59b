"""Writing the simulated systems: database tables and the bytes of dropped files.

Databases are reached through SQLAlchemy at the URL of their Airflow connection. Each
table is replaced in one transaction: on PostgreSQL ``DROP``/``CREATE`` and ``COPY`` (DDL
is transactional there); on MySQL/MariaDB the table is created if missing, its columns
reconciled (schema drift), then ``DELETE`` and batched ``INSERT`` in one transaction.

Files are rendered to bytes first and written only when the content changed (atomically,
through a hidden temporary file in the same directory), so rewriting days 1..D leaves
unchanged files — and their modification times — alone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from sqlalchemy import Table, create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from govlake import config

MYSQL_BATCH = 2000
BAD_BYTES = b"\xff\xfe\xfa"  # valid in neither UTF-8 nor GB18030


# --- databases -------------------------------------------------------------------------------


def _ensure_database(engine: Engine) -> None:
    """Create the connection's database when the server says it does not exist."""
    try:
        with engine.connect():
            return
    except OperationalError as error:
        message = str(error).lower()
        if "does not exist" not in message and "unknown database" not in message:
            raise
    url = engine.url
    name = url.database
    if engine.dialect.name == "postgresql":
        admin = create_engine(
            url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        statement = f'create database "{name}"'
    else:
        admin = create_engine(url.set(database=""), poolclass=NullPool)
        statement = f"create database if not exists `{name}` character set utf8mb4"
    try:
        with admin.connect() as conn:
            conn.execute(text(statement))
            conn.commit()
    finally:
        admin.dispose()


def write_tables(conn_id: str, tables: Sequence[tuple[Table, Iterable[tuple]]]) -> str:
    """Replace each table's content with ``rows`` (tuples in column order).

    Returns the SQLAlchemy dialect name of the system (``postgresql`` or ``mysql``).
    """
    url = config.connection(conn_id).sqlalchemy_url()
    engine = create_engine(url, poolclass=NullPool)
    try:
        _ensure_database(engine)
        for table, rows in tables:
            if engine.dialect.name == "postgresql":
                _replace_postgresql(engine, table, rows)
            else:
                _replace_generic(engine, table, rows)
        return engine.dialect.name
    finally:
        engine.dispose()


def _replace_postgresql(engine: Engine, table: Table, rows: Iterable[tuple]) -> None:
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        raw = conn.connection.driver_connection
        statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def _replace_generic(engine: Engine, table: Table, rows: Iterable[tuple]) -> None:
    """MySQL/MariaDB (and SQLite): create if missing, reconcile columns, delete + insert."""
    with engine.begin() as conn:
        table.create(conn, checkfirst=True)
        existing = [c["name"] for c in inspect(conn).get_columns(table.name)]
        quote = engine.dialect.identifier_preparer.quote
        for column in table.columns:
            if column.name not in existing:
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(
                    text(f"alter table {quote(table.name)} add column {quote(column.name)} {kind}")
                )
        for name in existing:
            if name not in table.columns:
                conn.execute(text(f"alter table {quote(table.name)} drop column {quote(name)}"))
    names = [c.name for c in table.columns]
    with engine.begin() as conn:
        conn.execute(table.delete())
        batch: list[dict] = []
        for row in rows:
            batch.append(dict(zip(names, row, strict=True)))
            if len(batch) >= MYSQL_BATCH:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)


# --- file contents ------------------------------------------------------------------------------


def text_value(value: object) -> str:
    """How a value is written in a text file (CSV cell, JSON string)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def json_value(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return text_value(value)


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()


def csv_bytes(
    header: list[str],
    rows: list[list[object]],
    encoding: str,
    transport: dict[int, str],
    rng,
    name_column: int = 1,
) -> tuple[bytes, dict[int, tuple[str | None, str]]]:
    """A CSV file (CRLF lines, minimal quoting) and notes on its damaged rows.

    ``encoding``: ``gbk`` or ``utf-8-sig`` (UTF-8 with BOM). ``transport`` maps 0-based row
    indexes to ``malformed_row`` / ``wrong_encoding``; the notes map those indexes to
    ``(field or None, description)``.
    """
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    out = bytearray(b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b"")
    out += _csv_line(header).encode(codec)
    notes: dict[int, tuple[str | None, str]] = {}
    for index, values in enumerate(rows):
        texts = [text_value(v) for v in values]
        kind = transport.get(index)
        if kind == "malformed_row":
            if rng.random() < 0.5:
                texts = [*texts, "备注"]
                notes[index] = (None, f"多余分隔符 extra separator: {len(texts)} fields")
            else:
                texts = texts[:-1]
                notes[index] = (None, f"缺少字段 missing field: {len(texts)} fields")
        if kind == "wrong_encoding" and codec == "utf-8":
            data = _csv_line(texts).encode("gbk")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:  # pure ASCII line: damage it explicitly
                data = data.replace(b"\r\n", BAD_BYTES + b"\r\n")
            notes[index] = (None, "UTF-8文件中的GBK编码行 GBK-encoded line in a UTF-8 file")
        elif kind == "wrong_encoding":
            texts[name_column] += "\x00"
            data = _csv_line(texts).encode(codec).replace(b"\x00", BAD_BYTES)
            notes[index] = (
                header[name_column],
                f"非法字节 bytes {BAD_BYTES.hex(' ')} valid in neither GB18030 nor UTF-8",
            )
        else:
            data = _csv_line(texts).encode(codec)
        out += data
    return bytes(out), notes


def jsonl_bytes(
    rows: list[dict], transport: dict[int, str]
) -> tuple[bytes, dict[int, tuple[str | None, str]]]:
    """JSON Lines; a ``malformed_row`` line is cut in the middle (not valid JSON)."""
    lines, notes = [], {}
    for index, row in enumerate(rows):
        line = json.dumps({k: json_value(v) for k, v in row.items()}, ensure_ascii=False)
        if transport.get(index) == "malformed_row":
            line = line[: len(line) // 2]
            notes[index] = (None, "截断的JSON truncated JSON object")
        lines.append(line + "\n")
    return "".join(lines).encode("utf-8"), notes


def json_records_bytes(rows: list[dict]) -> bytes:
    """``{"records": [...]}``, one record per line."""
    records = ",\n".join(
        json.dumps({k: json_value(v) for k, v in row.items()}, ensure_ascii=False) for row in rows
    )
    body = '{"records": [\n' + records + ("\n" if rows else "") + "]}\n"
    return body.encode("utf-8")


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml."
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _override(part: str, content_type: str) -> str:
    return f'<Override PartName="{part}" ContentType="{content_type}"/>'


def _relationships(*targets: tuple[str, str]) -> str:
    items = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}" Target="{target}"/>'
        for n, (kind, target) in enumerate(targets, start=1)
    )
    return f'{_XML}<Relationships xmlns="{_PACKAGE}relationships">{items}</Relationships>'


_XLSX_PARTS = {
    "[Content_Types].xml": (
        f'{_XML}<Types xmlns="{_PACKAGE}content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + _override("/xl/workbook.xml", f"{_SHEET_TYPE}sheet.main+xml")
        + _override("/xl/worksheets/sheet1.xml", f"{_SHEET_TYPE}worksheet+xml")
        + _override("/xl/styles.xml", f"{_SHEET_TYPE}styles+xml")
        + _override(
            "/docProps/core.xml", "application/vnd.openxmlformats-package.core-properties+xml"
        )
        + _override(
            "/docProps/app.xml",
            "application/vnd.openxmlformats-officedocument.extended-properties+xml",
        )
        + "</Types>"
    ),
    "_rels/.rels": _relationships(
        (f"{_OFFICE_RELS}officeDocument", "xl/workbook.xml"),
        (f"{_PACKAGE}relationships/metadata/core-properties", "docProps/core.xml"),
        (f"{_OFFICE_RELS}extended-properties", "docProps/app.xml"),
    ),
    "docProps/app.xml": (
        f"{_XML}<Properties "
        'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>Microsoft Excel</Application></Properties>"
    ),
    "xl/_rels/workbook.xml.rels": _relationships(
        (f"{_OFFICE_RELS}worksheet", "worksheets/sheet1.xml"),
        (f"{_OFFICE_RELS}styles", "styles.xml"),
    ),
    "xl/styles.xml": (
        f'{_XML}<styleSheet xmlns="{_MAIN_NS}">'
        '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        "</cellStyleXfs>"
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
        "</cellStyles></styleSheet>"
    ),
}
_EXCEL_EPOCH = date(1899, 12, 30)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _xlsx_cell(ref: str, value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f'<c r="{ref}" s="1"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text_ = escape(str(value))
    space = ' xml:space="preserve"' if text_ != text_.strip() else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{text_}</t></is></c>'


def xlsx_bytes(header: list[str], rows: list[list[object]], sheet: str, stamp: datetime) -> bytes:
    """A one-sheet workbook (SpreadsheetML, inline strings) written directly.

    Dates become Excel date cells (``yyyy-mm-dd``); numbers numeric cells; anything else
    (identity numbers included) text cells; None an empty cell. The package's timestamps
    are ``stamp``, so the same content always gives the same bytes.
    """
    letters = [_column_letter(i) for i in range(len(header) + 2)]
    lines = []
    for number, values in enumerate([header, *rows], start=1):
        cells = "".join(_xlsx_cell(f"{letters[i]}{number}", v) for i, v in enumerate(values))
        lines.append(f'<row r="{number}">{cells}</row>')
    sheet_xml = (
        f'{_XML}<worksheet xmlns="{_MAIN_NS}"><sheetData>{"".join(lines)}</sheetData></worksheet>'
    )
    workbook_xml = (
        f'{_XML}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_OFFICE_RELS[:-1]}">'
        f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    core_xml = (
        f'{_XML}<cp:coreProperties xmlns:cp="{_PACKAGE}metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<dc:creator>开平市侨务局</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{iso}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{iso}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    parts = dict(_XLSX_PARTS)
    parts["docProps/core.xml"] = core_xml
    parts["xl/workbook.xml"] = workbook_xml
    parts["xl/worksheets/sheet1.xml"] = sheet_xml
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            entry = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, content.encode("utf-8"))
    return out.getvalue()


def write_file(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; True if written."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return True
