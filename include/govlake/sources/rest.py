"""REST APIs that page through JSON records (the 12345 hotline system, for one).

Contract: ``GET <path>?updated_from=&updated_to=&page=&page_size=`` with a bearer token
(the connection's password), answering ``{"page", "page_size", "total", "items": [...]}``.
Transient failures (connection errors, 429, 5xx) are retried with backoff; a 401/403 stops
the run with a message that says which connection to fix.
"""

from __future__ import annotations

import time

import requests

from govlake import config
from govlake.catalog.model import Resource
from govlake.lake.batch import BatchWriter, Rejected, RowChunk, Window
from govlake.sources.files import _json_text

RETRIES = 4


class SourceAPIError(RuntimeError):
    pass


def _get(session: requests.Session, url: str, params: dict, conn_id: str) -> dict:
    delay = 1.0
    for attempt in range(1, RETRIES + 1):
        try:
            response = session.get(url, params=params, timeout=30)
        except requests.RequestException as error:
            if attempt == RETRIES:
                raise SourceAPIError(f"{url} unreachable after {RETRIES} tries: {error}") from error
        else:
            if response.status_code in (401, 403):
                raise SourceAPIError(
                    f"{url} refused the credentials ({response.status_code}); check the token "
                    f"in {config.connection_env_var(conn_id)}"
                )
            if response.status_code < 400:
                return response.json()
            if response.status_code not in (429, 500, 502, 503, 504) or attempt == RETRIES:
                raise SourceAPIError(
                    f"{url} answered {response.status_code}: {response.text[:300]}"
                )
        time.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


def extract_api(resource: Resource, window: Window, writer: BatchWriter) -> dict:
    conn_id = resource.system.connection or ""
    connection = config.connection(conn_id)
    url = connection.base_url() + (resource.extract.path or "")
    session = requests.Session()
    if connection.password:
        session.headers["Authorization"] = f"Bearer {connection.password}"
    params: dict[str, str | int] = {"page_size": resource.extract.page_size}
    if window.mode == "incremental":
        if window.start is not None:
            params["updated_from"] = window.start.isoformat(timespec="seconds")
        params["updated_to"] = window.end.isoformat(timespec="seconds")
    columns = list(resource.field_names)
    page, seen, total, next_row = 1, 0, None, 1
    high = None
    while True:
        body = _get(session, url, {**params, "page": page}, conn_id)
        items = body.get("items") or []
        total = body.get("total", total)
        rows = []
        for offset, item in enumerate(items):
            if not isinstance(item, dict):
                writer.reject(
                    Rejected(
                        f"{resource.extract.path}?page={page}",
                        next_row + offset,
                        f"格式错误 malformed record: item {offset + 1} of page {page} is not "
                        f"an object",
                        record=str(item)[:2000],
                    )
                )
                continue
            for key in item:
                if key not in columns:
                    columns.append(key)
            rows.append([_json_text(item.get(c)) for c in columns])
            stamp = item.get(resource.extract.watermark or "")
            if isinstance(stamp, str) and (high is None or stamp > high):
                high = stamp
        if rows:
            # rows built before a new key appeared are shorter; pad them
            rows = [r + [None] * (len(columns) - len(r)) for r in rows]
            writer.add(RowChunk(resource.extract.path or "api", list(columns), rows, next_row))
        next_row += len(items)
        seen += len(items)
        if not items or (total is not None and seen >= total):
            break
        page += 1
    if total is not None and seen != total:
        raise SourceAPIError(f"{url}: the API announced {total} records but served {seen}")
    return {
        "location": url,
        "pages": page,
        "announced_total": total,
        "watermark": {
            "column": resource.extract.watermark,
            "low": params.get("updated_from"),
            "high": params.get("updated_to"),
            "max_seen": high,
        },
    }
