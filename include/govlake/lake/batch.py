"""Raw-zone batches: where they live, how they are written, and their manifests.

A batch is the unchanged output of one extraction for one resource and one interval:

    raw/<department>/<resource>/ingest_date=YYYY-MM-DD/batch=<id>/
        part-<attempt>-0000.parquet ...  rows as extracted (text; typed sources keep
                                         dates, times, integers, booleans typed),
                                         _source_file/_source_row
        source/<attempt>/<file>          the department's original file(s), byte for byte
        _manifest.json                   written last: rows, bytes, checksums, schema,
                                         watermark, and the objects of the attempt it names
    quarantine/<department>/<resource>/ingest_date=.../batch=<id>/extract-<attempt>.jsonl
                                                                 .../load.jsonl

The manifest is the batch's commit marker: a batch without one is incomplete and is
extracted again; a batch with one is immutable and is reused by reruns, which is what
makes reruns of an interval give the same tables. Every extraction attempt writes objects
of its own and only the manifest switches to them, so an attempt that dies half-way — a
first one, or a forced re-extraction — leaves the published batch as it was; objects no
manifest names are removed after the next successful publish.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from govlake.lake.storage import ObjectStore

T = TypeVar("T")
META_COLUMNS = ("_source_file", "_source_row")
MANIFEST = "_manifest.json"
ROWS_PER_RECORD_BATCH = 50_000


@dataclass(frozen=True)
class Window:
    """The slice of source data one run extracts: ``[start, end)`` in local source time.

    ``start`` is None for an initial load (everything before ``end``) and for full
    extractions; ``ingest_date`` is the business date the batch is filed under.
    """

    ingest_date: date
    start: datetime | None
    end: datetime
    mode: str  # "incremental" or "full"

    @property
    def batch_id(self) -> str:
        return f"{self.ingest_date:%Y%m%d}-{'incr' if self.mode == 'incremental' else 'full'}"


@dataclass(frozen=True)
class BatchRef:
    department: str
    resource: str
    ingest_date: date
    batch_id: str

    @property
    def prefix(self) -> str:
        return (
            f"raw/{self.department}/{self.resource}/ingest_date={self.ingest_date:%Y-%m-%d}/"
            f"batch={self.batch_id}/"
        )

    @property
    def manifest_key(self) -> str:
        return self.prefix + MANIFEST

    def quarantine_key(self, stage: str) -> str:
        return (
            f"quarantine/{self.department}/{self.resource}/"
            f"ingest_date={self.ingest_date:%Y-%m-%d}/batch={self.batch_id}/{stage}.jsonl"
        )

    @property
    def resource_id(self) -> str:
        return f"{self.department}.{self.resource}"

    @property
    def key(self) -> str:
        """Unique across resources: the batch's identity in the warehouse."""
        return f"{self.department}.{self.resource}/{self.batch_id}"


@dataclass
class Rejected:
    """A source record that could not be read at all, with where and why."""

    source_file: str | None
    source_row: int | None
    reason: str
    record: str | dict | None = None
    field: str | None = None


@dataclass
class RowChunk:
    """Rows read from one stream (a query, a file, an API), as text, in source order."""

    stream: str  # the file name or query the rows came from
    columns: list[str]
    rows: list[list[str | None]]
    first_row: int  # source row number of rows[0] (1-based, header excluded)


@dataclass
class Manifest:
    batch_id: str
    resource: str
    department: str
    ingest_date: str
    mode: str
    window_start: str | None
    window_end: str
    source: dict
    source_rows: int = 0
    rows: int = 0
    extract_quarantined: int = 0
    bytes: int = 0
    parts: list[dict] = field(default_factory=list)
    source_files: list[dict] = field(default_factory=list)
    attempt: str = ""
    quarantine_key: str | None = None
    watermark: dict = field(default_factory=dict)
    extracted_at: str = ""
    duration_s: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        return cls(**json.loads(data))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class QuarantineSpool:
    """Rejected records streamed to a local JSON-lines file: memory stays flat however
    many rows a batch rejects (a lost required column rejects all of them)."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self._handle = path.open("w", encoding="utf-8")

    def add(self, rejected: Rejected) -> None:
        self._handle.write(json.dumps(asdict(rejected), ensure_ascii=False, default=str))
        self._handle.write("\n")
        self.count += 1

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()

    def __iter__(self) -> Iterator[Rejected]:
        self.close()
        yield from iter_rejected(self.path)


def iter_rejected(path: Path) -> Iterator[Rejected]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield Rejected(**json.loads(line))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        # a lone surrogate (broken UTF-16 in a JSON string) cannot be stored as UTF-8: it
        # becomes U+FFFD here; the original bytes stay in the batch's source/ copy
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(SOURCE_TIMEZONE)).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


SOURCE_TIMEZONE = "Asia/Shanghai"


def text_column(array: pa.Array) -> pa.Array:
    """Any Arrow column as text the way it lands: timestamps as local Kaiping time.

    Departmental systems keep naive local times; a zone-aware value (timestamptz, an ISO
    string with an offset read as such) is converted to Asia/Shanghai wall time first,
    so every timestamp in raw means the same thing. Whole seconds print without a
    fraction.
    """
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type):
        if array.type.tz is not None:
            local = array.cast(pa.timestamp(array.type.unit, tz=SOURCE_TIMEZONE))
            array = pc.local_timestamp(local)
        return pc.replace_substring_regex(array.cast(pa.string()), r"\.0+$", "")
    if pa.types.is_string(array.type):
        return array
    return array.cast(pa.string())


LANDED_TYPED = (pa.types.is_date32, pa.types.is_timestamp, pa.types.is_integer, pa.types.is_boolean)


def landed_column(array: pa.Array) -> pa.Array:
    """A column of a typed source (PostgreSQL through ADBC) as it lands in a batch.

    Dates, timestamps, integers and booleans keep their type: the source's own type
    system already guarantees each value, and the loader takes such a column as it is
    when it is what the catalog field wants (or writes it as text when it is not, with
    exactly the text ``text_column`` gives). Zone-aware timestamps land as Kaiping wall
    time, as text would. Every other type lands as text.
    """
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type):
        if array.type.tz is not None:
            local = array.cast(pa.timestamp(array.type.unit, tz=SOURCE_TIMEZONE))
            array = pc.local_timestamp(local)
        return array
    if any(is_type(array.type) for is_type in LANDED_TYPED):
        return array
    return text_column(array)


def _text_array(values: list) -> pa.Array:
    """A column of source values as Arrow text, converted in C where the types allow."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError):  # incl. UnicodeEncodeError
        return pa.array([_text(v) for v in values], type=pa.string())
    if pa.types.is_null(array.type):
        return array.cast(pa.string())
    try:
        return text_column(array)
    except (pa.ArrowException, NotImplementedError):
        return pa.array([_text(v) for v in values], type=pa.string())


class BatchWriter:
    """Streams extracted rows into Parquet parts in a scratch folder, then publishes them.

    One part per source stream, since streams (files) may differ in columns — that is
    schema drift, and it is the loader's job to judge it, not the extractor's. Rows of
    text sources (files, APIs, generic databases) land as text; typed sources may land
    dates, timestamps, integers and booleans typed (``add_arrays(typed=True)``).
    """

    def __init__(self, ref: BatchRef, store: ObjectStore, scratch: Path):
        from datetime import UTC

        self.ref = ref
        self.attempt = datetime.now(UTC).strftime("a%Y%m%dT%H%M%S%f")
        self.store = store
        self.scratch = scratch
        self.parts: list[dict] = []
        self.rejected = QuarantineSpool(scratch / "extract-quarantine.jsonl")
        self.source_files: list[dict] = []
        self.source_rows = 0
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._writer_key: tuple | None = None
        self._part_rows = 0
        self._part_path: Path | None = None

    def add_source_file(self, path: Path, encoding: str | None = None) -> None:
        """Keep the department's original file, unchanged, beside the parsed rows."""
        key = f"{self.ref.prefix}source/{self.attempt}/{path.name}"
        self.store.put_file(key, path)
        self.source_files.append(
            {
                "name": path.name,
                "key": key,
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
                "encoding": encoding,
            }
        )

    def reject(self, rejected: Rejected) -> None:
        self.source_rows += 1
        self.rejected.add(rejected)

    def add(self, chunk: RowChunk) -> None:
        if not chunk.rows:
            return
        arrays = [_text_array([row[i] for row in chunk.rows]) for i in range(len(chunk.columns))]
        self.add_arrays(chunk.stream, chunk.columns, arrays, chunk.first_row)

    def add_arrays(
        self,
        stream: str,
        columns: list[str],
        arrays: list[pa.Array],
        first_row: int,
        typed: bool = False,
    ) -> None:
        """Append columns read from ``stream``; row numbers continue from first_row.

        ``typed``: the arrays come from a typed source (see ``landed_column``); otherwise
        every column lands as text.
        """
        count = len(arrays[0]) if arrays else 0
        if count == 0:
            return
        arrays = [landed_column(a) if typed else text_column(a) for a in arrays]
        key = (stream, tuple(columns), tuple(a.type for a in arrays))
        if self._writer_key != key:
            self._close_part()
            self._open_part(stream, key[1], key[2])
        assert self._writer is not None
        arrays.append(pa.repeat(pa.scalar(stream, pa.string()), count))
        ones = pa.repeat(pa.scalar(1, pa.int64()), count)  # first_row, first_row + 1, …
        arrays.append(pc.add(pc.cumulative_sum(ones), first_row - 1))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._writer.schema))
        self.source_rows += count
        self.rows += count
        self._part_rows += count

    def _open_part(
        self, stream: str, columns: tuple[str, ...], types: tuple[pa.DataType, ...]
    ) -> None:
        schema = pa.schema(
            [pa.field(c, t) for c, t in zip(columns, types, strict=True)]
            + [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64())]
        )
        self._part_path = self.scratch / f"part-{self.attempt}-{len(self.parts):04d}.parquet"
        # Encodings for a file that is written once and read whole by the loader: no
        # dictionaries for the (mostly near-unique) source columns, where they cost time
        # both ways and zstd alone compresses as well; one for the file name, the same on
        # every row; row numbers as deltas; no min/max statistics, which nothing reads.
        self._writer = pq.ParquetWriter(
            self._part_path,
            schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=["_source_file"],
            column_encoding={"_source_row": "DELTA_BINARY_PACKED"},
            write_statistics=False,
        )
        self._writer_key = (stream, columns, types)
        self._part_rows = 0
        self.parts.append({"name": self._part_path.name, "stream": stream, "columns": columns})

    def _close_part(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        assert self._part_path is not None
        part = self.parts[-1]
        part.update(
            rows=self._part_rows,
            bytes=self._part_path.stat().st_size,
            sha256=_sha256(self._part_path),
            key=self.ref.prefix + self._part_path.name,
            columns=list(part["columns"]),
        )
        self.store.put_file(part["key"], self._part_path)
        self._writer = None
        self._writer_key = None

    def publish(self, manifest: Manifest) -> Manifest:
        """Upload the last part and the quarantine file, then the manifest (the commit),
        then remove what earlier, superseded attempts left."""
        self._close_part()
        quarantine_key = None
        self.rejected.close()
        if self.rejected.count:
            quarantine_key = self.ref.quarantine_key(f"extract-{self.attempt}")
            self.store.put_file(quarantine_key, self.rejected.path)
        manifest.attempt = self.attempt
        manifest.quarantine_key = quarantine_key
        manifest.parts = self.parts
        manifest.source_files = self.source_files
        manifest.source_rows = self.source_rows
        manifest.rows = self.rows
        manifest.extract_quarantined = self.rejected.count
        manifest.bytes = sum(p["bytes"] for p in self.parts)
        self.store.put_bytes(self.ref.manifest_key, manifest.to_json())
        keep = {self.ref.manifest_key, self.ref.quarantine_key("load"), quarantine_key}
        keep |= {p["key"] for p in self.parts} | {f["key"] for f in self.source_files}
        quarantine_prefix = self.ref.quarantine_key("").rsplit("/", 1)[0] + "/"
        for prefix in (self.ref.prefix, quarantine_prefix):
            for key in self.store.list(prefix):
                if key not in keep:
                    self.store.delete_prefix(key)
        return manifest


def read_manifest(store: ObjectStore, ref: BatchRef) -> Manifest | None:
    if not store.exists(ref.manifest_key):
        return None
    return Manifest.from_json(store.get_bytes(ref.manifest_key))


def download_quarantine(store: ObjectStore, key: str | None, scratch: Path) -> Path | None:
    """A batch's quarantine file on local scratch (read it with ``iter_rejected``)."""
    if not key or not store.exists(key):
        return None
    local = scratch / key.rsplit("/", 1)[1]
    store.download(key, local)
    return local


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` while a thread produces up to ``depth`` of them ahead.

    For pipelines whose stages release the GIL (Arrow, Parquet, ADBC): reading and
    decoding the next record batch overlaps with writing or sending this one. An error
    of the producing thread is raised here; leaving early stops the thread.
    """
    import queue
    import threading

    done = object()
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as error:  # handed to the consuming thread
            put((None, error))

    thread = threading.Thread(target=produce, name="govlake-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ahead.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def iter_parts(
    store: ObjectStore, manifest: Manifest, batch_size: int = ROWS_PER_RECORD_BATCH
) -> Iterator[tuple[dict, pa.RecordBatch]]:
    """Stream a batch's rows as (part, record batch), one part on local scratch at a time."""
    with tempfile.TemporaryDirectory(prefix="govlake-load-") as scratch:
        for part in manifest.parts:
            local = Path(scratch) / part["name"]
            store.download(part["key"], local)
            if _sha256(local) != part["sha256"]:
                raise ValueError(
                    f"batch {manifest.batch_id} part {part['key']} does not match its "
                    f"manifest checksum: the object store copy is damaged; re-extract with "
                    f"--force"
                )
            for record_batch in pq.ParquetFile(local).iter_batches(batch_size=batch_size):
                yield part, record_batch
            local.unlink()
