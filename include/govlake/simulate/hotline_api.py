"""The 12345 hotline system: its ticket store and its REST API.

Store: a SQLite file (``<simulation_dir>/hotline.sqlite3``) rewritten by each simulation run
(atomically: a new file replaces the old one), holding each ticket's latest version.

API::

    GET /api/v1/tickets?updated_from=<ISO>&updated_to=<ISO>&page=<n>&page_size=<n>
    Authorization: Bearer <token>

    200 {"page": 1, "page_size": 200, "total": 523, "items": [{...catalog fields...}]}

* Window: ``updated_from <= updated_at < updated_to`` (half-open; either bound optional).
  Bounds are ISO 8601 local times (``2026-11-01T00:00:00``, a date alone meaning its
  midnight); a bound with an offset (``+08:00``, ``Z``) is converted to local time.
* Items are ordered by ``updated_at, ticket_id``; ``page`` starts at 1; ``page_size``
  defaults to 200, at most 500. Timestamps are naive local times ``YYYY-MM-DDTHH:MM:SS``.
* 401 without a valid bearer token, 400 on a bad or unknown parameter, 404 on other
  paths, 503 while no store exists. ``GET /api/v1/health`` needs no token.

Run: ``python -m govlake.simulate.hotline_api --port 18765`` with the token in
``GOVLAKE_HOTLINE_TOKEN``; it serves until killed.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import sqlite3
import sys
import threading
from datetime import datetime, timedelta, timezone
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from govlake import config
from govlake.simulate import schema
from govlake.simulate.tickets import RESOURCE

STORE_NAME = "hotline.sqlite3"
TOKEN_ENV = "GOVLAKE_HOTLINE_TOKEN"
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500
LOCAL = timezone(timedelta(hours=8))  # Asia/Shanghai has no daylight saving time
PARAMETERS = ("updated_from", "updated_to", "page", "page_size")


@cache
def columns() -> tuple[tuple[str, str], ...]:
    """(name, SQLite type) of the store's columns: the catalog fields of the tickets.

    Integer fields are ``integer``, the others ``text``; the primary key is the table's,
    and the watermark (``updated_at``) the API windows on is ``not null``.
    """
    spec = schema.resource(RESOURCE)
    result = []
    for field in spec.fields:
        kind = "integer" if field.type == "integer" else "text"
        if field.name == spec.key:
            kind += " primary key"
        elif field.name == spec.extract.watermark:
            kind += " not null"
        result.append((field.name, kind))
    return tuple(result)


def store_path() -> Path:
    return config.simulation_dir() / STORE_NAME


def _stamp(value: object) -> object:
    return value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(value, datetime) else value


def write_store(path: Path, rows: list[dict], day: int) -> None:
    """Replace the store at ``path`` with ``rows`` (the tickets as of the end of ``day``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    conn = sqlite3.connect(temporary)
    try:
        definitions = ", ".join(f"{name} {kind}" for name, kind in columns())
        conn.execute(f"create table tickets ({definitions})")
        conn.execute("create index ix_tickets_updated on tickets (updated_at, ticket_id)")
        conn.execute("create table meta (key text primary key, value text)")
        conn.execute("insert into meta values ('day', ?)", (str(day),))
        names = [name for name, _ in columns()]
        marks = ", ".join("?" for _ in names)
        conn.executemany(
            f"insert into tickets ({', '.join(names)}) values ({marks})",
            [tuple(_stamp(row[n]) for n in names) for row in rows],
        )
        conn.commit()
    finally:
        conn.close()
    os.replace(temporary, path)


class RequestError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def parse_local(value: str) -> str:
    """An ISO 8601 bound as the store's local-time text ``YYYY-MM-DDTHH:MM:SS``."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(
            400, "bad_request", f"时间格式错误 not an ISO 8601 date-time: {value!r}"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _positive(params: dict, name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name, [str(default)])[0]
    if not raw.isdigit() or int(raw) < 1:
        raise RequestError(400, "bad_request", f"参数错误 {name} must be a positive integer")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise RequestError(400, "bad_request", f"参数错误 {name} must be at most {maximum}")
    return value


def query_tickets(db_path: Path, query: str) -> dict:
    """The API's answer to a query string (raises RequestError on bad parameters)."""
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise RequestError(
            400, "bad_request", f"未知参数 unknown parameter(s): {', '.join(unknown)}"
        )
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        raise RequestError(
            400, "bad_request", f"参数重复 repeated parameter(s): {', '.join(repeated)}"
        )
    page = _positive(params, "page", 1)
    page_size = _positive(params, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    where, args = [], []
    bounds = {}
    for name, operator in (("updated_from", ">="), ("updated_to", "<")):
        if name in params:
            bounds[name] = parse_local(params[name][0])
            where.append(f"updated_at {operator} ?")
            args.append(bounds[name])
    if len(bounds) == 2 and bounds["updated_from"] > bounds["updated_to"]:
        raise RequestError(400, "bad_request", "时间窗口错误 updated_from is after updated_to")
    if not db_path.exists():
        raise RequestError(
            503,
            "unavailable",
            "热线数据尚未生成 the hotline store does not exist yet: run the simulation",
        )
    clause = f"where {' and '.join(where)}" if where else ""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        total = conn.execute(f"select count(*) from tickets {clause}", args).fetchone()[0]
        rows = conn.execute(
            f"select {', '.join(n for n, _ in columns())} from tickets {clause} "
            "order by updated_at, ticket_id limit ? offset ?",
            [*args, page_size, (page - 1) * page_size],
        ).fetchall()
    finally:
        conn.close()
    return {"page": page, "page_size": page_size, "total": total, "items": [dict(r) for r in rows]}


class HotlineServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], token: str, db_path: Path) -> None:
        super().__init__(address, HotlineHandler)
        self.token = token
        self.db_path = db_path


class HotlineHandler(BaseHTTPRequestHandler):
    server: HotlineServer
    server_version = "KP12345/1.0"

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return hmac.compare_digest(token.strip().encode(), self.server.token.encode())

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/api/v1/health":
            self._send(200, {"status": "ok"})
            return
        if parts.path != "/api/v1/tickets":
            self._send(
                404, {"error": "not_found", "message": f"无此接口 no such path {parts.path}"}
            )
            return
        if not self._authorised():
            self._send(
                401,
                {
                    "error": "unauthorized",
                    "message": "缺少或无效的访问令牌 missing or invalid bearer token",
                },
                {"WWW-Authenticate": 'Bearer realm="kp12345"'},
            )
            return
        try:
            self._send(200, query_tickets(self.server.db_path, parts.query))
        except RequestError as error:
            self._send(error.status, {"error": error.error, "message": error.message})

    def log_message(self, format: str, *args: object) -> None:
        if os.environ.get("GOVLAKE_HOTLINE_LOG"):
            super().log_message(format, *args)


def create_hotline_server(
    port: int, token: str, db_path: Path, host: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (port 0: any free port); call ``serve_forever``."""
    if not token:
        raise ValueError("需要访问令牌 a non-empty token is required")
    return HotlineServer((host, port), token, Path(db_path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="12345热线模拟接口 simulated 12345 hotline API")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"未设置访问令牌 set {TOKEN_ENV} to the API token", file=sys.stderr)
        return 2
    server = create_hotline_server(args.port, token, store_path(), args.host)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"12345 hotline API on http://{args.host}:{server.server_port} (store {store_path()})")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
