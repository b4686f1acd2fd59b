"""Files that departments drop into the landing area: CSV, Excel, JSON and JSON Lines.

Layout: ``<landing>/<department>/<YYYY-MM-DD>/<files matching the catalog pattern>``.
Each file is kept unchanged in the batch, then parsed into text rows. What cannot be
parsed — a line in neither UTF-8 nor GB18030, a CSV record with the wrong number of
fields, a JSON line that is not an object — is rejected with its file, row and reason;
everything else goes on.

Row numbers are data rows, 1-based, header excluded: row N of a CSV is its line N+1.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path

from govlake import config
from govlake.catalog.model import Resource
from govlake.lake.batch import BatchWriter, Rejected, RowChunk, Window

CHUNK_ROWS = 20_000
ENCODINGS = ("utf-8", "gb18030")  # GB18030 is a superset of GBK and GB2312


def landing_folder(resource: Resource, ingest_date: date) -> Path:
    return config.landing_dir() / resource.department / f"{ingest_date:%Y-%m-%d}"


def delivered_files(resource: Resource, ingest_date: date) -> list[Path]:
    folder = landing_folder(resource, ingest_date)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(resource.extract.pattern or "*") if p.is_file())


def extract_files(resource: Resource, window: Window, writer: BatchWriter) -> dict:
    files = delivered_files(resource, window.ingest_date)
    parser = {"csv": _read_csv, "xlsx": _read_xlsx, "jsonl": _read_jsonl, "json": _read_json}[
        resource.extract.format or "csv"
    ]
    encodings: dict[str, str | None] = {}
    for path in files:
        encoding = parser(path, resource, writer)
        encodings[path.name] = encoding
        writer.add_source_file(path, encoding)
    return {
        "location": str(landing_folder(resource, window.ingest_date)),
        "files_found": len(files),
        "encodings": encodings,
        "note": None if files else "未收到文件 no file delivered for this date",
    }


def _chunks(
    stream: str, columns: list[str], rows: Iterator[tuple[int, list]]
) -> Iterator[RowChunk]:
    """Group (row number, values) pairs into chunks of consecutive row numbers."""
    batch: list[list] = []
    first = None
    expected = None
    for number, values in rows:
        if batch and number != expected:
            yield RowChunk(stream, columns, batch, first)
            batch = []
        if not batch:
            first = number
        batch.append(values)
        expected = number + 1
        if len(batch) >= CHUNK_ROWS:
            yield RowChunk(stream, columns, batch, first)
            batch = []
    if batch:
        yield RowChunk(stream, columns, batch, first)


# --- CSV -------------------------------------------------------------------------------


def _line_encoding(raw: bytes) -> str | None:
    """'ascii', 'utf-8' or 'gb18030' — the first that decodes the line — or None."""
    if raw.isascii():
        return "ascii"
    for encoding in ENCODINGS:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def file_encoding(lines: list[bytes], declared: str = "auto") -> str:
    """The declared encoding, else the one most non-ASCII lines are in (UTF-8 on a tie).

    UTF-8 is tried first for every line: GBK text is almost never valid UTF-8, while
    UTF-8 text often *is* valid GB18030 (as mojibake), so the other order would misread.
    """
    if declared not in ("auto", "", None):
        return declared
    counts = {encoding: 0 for encoding in ENCODINGS}
    for raw in lines:
        encoding = _line_encoding(raw)
        if encoding in counts:
            counts[encoding] += 1
    return "gb18030" if counts["gb18030"] > counts["utf-8"] else "utf-8"


def unique_header(names: list[str]) -> list[str]:
    """Header names as given, blanks named ``column_<n>``, repeats suffixed ``__<k>``.

    A repeated name keeps its first column for the catalog field; the later ones become
    unknown columns (kept in ``_extra`` and recorded as drift), so no value is lost.
    """
    seen: dict[str, int] = {}
    header = []
    for position, name in enumerate(names, start=1):
        name = (name or "").strip().lstrip("\ufeff") or f"column_{position}"
        if name in seen:
            seen[name] += 1
            name = f"{name}__{seen[name]}"
        else:
            seen[name] = 1
        header.append(name)
    return header


def _read_csv(path: Path, resource: Resource, writer: BatchWriter) -> str:
    """Parse a CSV one physical line per record, deciding the encoding line by line.

    A quoted field spanning lines is not supported: departments' exports put one record
    on a line, and parsing line by line means one unbalanced quote costs one row, not the
    rest of the file. A line in another encoding than the rest of the file (a GBK line
    pasted into a UTF-8 export) is quarantined: it is a damaged delivery, and the
    original file is kept unchanged in the batch.
    """
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    encoding = file_encoding(lines, resource.extract.encoding)
    declared = resource.extract.encoding not in ("auto", "", None)
    header: list[str] | None = None
    header_line = 0
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                break  # an undecodable header: every line is rejected below
            header = unique_header(next(csv.reader([text.rstrip("\r")])))
            header_line = number
            break

    def decode(raw: bytes, row: int) -> str | None:
        line_encoding = encoding if declared else _line_encoding(raw)
        if line_encoding in ("ascii", encoding):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                line_encoding = None
        reason = (
            f"编码错误 undecodable bytes: {path.name} row {row} is neither UTF-8 nor "
            f"GB18030/GBK; ask the department to re-export the file"
            if line_encoding is None
            else f"编码不一致 wrong encoding: {path.name} row {row} is {line_encoding}, the "
            f"rest of the file is {encoding}; ask the department to re-export the file"
        )
        writer.reject(Rejected(path.name, row, reason, record=raw.hex()))
        return None

    def records() -> Iterator[tuple[int, list]]:
        for number, raw in enumerate(lines[header_line:], start=header_line + 1):
            if not raw.strip():
                continue
            row = number - header_line
            text = decode(raw, row)
            if text is None:
                continue
            try:
                values = next(csv.reader([text.rstrip("\r")], strict=True))
            except csv.Error as error:
                values = None
                detail = f"cannot be parsed as CSV ({error})"
            else:
                detail = f"has {len(values)} fields, the header has {len(header or [])}"
            if values is None or header is None or len(values) != len(header):
                writer.reject(
                    Rejected(
                        source_file=path.name,
                        source_row=row,
                        reason=f"格式错误 malformed row: {path.name} row {row} {detail}",
                        record=text.rstrip("\r"),
                    )
                )
                continue
            yield row, values

    for chunk in _chunks(path.name, list(header or []), records()):
        writer.add(chunk)
    return encoding


# --- Excel -----------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(path: Path, resource: Resource, writer: BatchWriter) -> None:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a corrupt workbook is one rejected delivery, not a crash
        writer.reject(
            Rejected(path.name, None, f"无法读取 unreadable workbook {path.name}: {error}")
        )
        return None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            return None
        width = max((i + 1 for i, v in enumerate(header_row) if v not in (None, "")), default=0)
        header = unique_header([_cell_text(v) or "" for v in header_row[:width]])

        def records() -> Iterator[tuple[int, list]]:
            for number, values in enumerate(rows, start=1):
                cells = [_cell_text(v) for v in values]
                if all(c in (None, "") for c in cells):
                    continue
                extra = [c for c in cells[len(header) :] if c not in (None, "")]
                if extra:
                    writer.reject(
                        Rejected(
                            path.name,
                            number,
                            f"格式错误 malformed row: {path.name} row {number} has values "
                            f"beyond the {len(header)} header columns",
                            record=json.dumps(cells, ensure_ascii=False),
                        )
                    )
                    continue
                cells = (cells + [None] * len(header))[: len(header)]
                yield number, cells

        for chunk in _chunks(path.name, header, records()):
            writer.add(chunk)
    finally:
        workbook.close()
    return None


# --- JSON ------------------------------------------------------------------------------


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_columns(resource: Resource, objects: Iterable[dict]) -> list[str]:
    """The keys the records actually carry: catalog fields first, then unknown keys.

    A catalog field no record has is left out, so the loader sees it missing (drift) rather
    than as a column of nulls.
    """
    seen: dict[str, None] = {}
    for obj in objects:
        seen.update(dict.fromkeys(obj))
    known = [name for name in resource.field_names if name in seen]
    return known + [key for key in seen if key not in resource.field_names]


def _objects_to_chunks(
    path: Path, resource: Resource, objects: list[tuple[int, dict]], writer: BatchWriter
) -> None:
    columns = json_columns(resource, (obj for _, obj in objects))
    rows = ((n, [_json_text(obj.get(c)) for c in columns]) for n, obj in objects)
    for chunk in _chunks(path.name, columns, rows):
        writer.add(chunk)


def _read_jsonl(path: Path, resource: Resource, writer: BatchWriter) -> str:
    data = path.read_bytes()
    objects: list[tuple[int, dict]] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
            problem = None if isinstance(obj, dict) else "is not a JSON object"
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            problem = f"is not valid JSON ({error})"
        if problem:
            writer.reject(
                Rejected(
                    path.name,
                    number,
                    f"格式错误 malformed row: {path.name} row {number} {problem}",
                    record=raw.decode("utf-8", errors="replace"),
                )
            )
            continue
        objects.append((number, obj))
    _objects_to_chunks(path, resource, objects, writer)
    return "utf-8"


def _read_json(path: Path, resource: Resource, writer: BatchWriter) -> str:
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        writer.reject(
            Rejected(path.name, None, f"格式错误 {path.name} is not a valid JSON document: {error}")
        )
        return "utf-8"
    records = document
    for step in (resource.extract.records_path or "").split("."):
        if step:
            records = records.get(step) if isinstance(records, dict) else None
    if not isinstance(records, list):
        writer.reject(
            Rejected(
                path.name,
                None,
                f"格式错误 {path.name} has no record list at {resource.extract.records_path!r}",
            )
        )
        return "utf-8"
    objects: list[tuple[int, dict]] = []
    for number, obj in enumerate(records, start=1):
        if isinstance(obj, dict):
            objects.append((number, obj))
        else:
            writer.reject(
                Rejected(
                    path.name,
                    number,
                    f"格式错误 malformed row: {path.name} record {number} is not an object",
                    record=json.dumps(obj, ensure_ascii=False),
                )
            )
    _objects_to_chunks(path, resource, objects, writer)
    return "utf-8"
