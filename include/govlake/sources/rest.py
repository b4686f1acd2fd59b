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
from govlake.lake.batch import BatchWriter, Rejected, Window
from govlake.sources.files import _chunks, _json_text, json_columns

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
    """Page through the window; start again if the window's total moves while paging.

    Offset paging over a live system skips or repeats rows when records change during the
    read (an updated ticket leaves the window and every later row shifts up a place). The
    API announces the window's total on every page; if it changes, the pages read so far
    are discarded and the window is read again, up to RETRIES times.
    """
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
    for _attempt in range(RETRIES):
        pages = _read_window(session, url, params, conn_id)
        if pages is not None:
            break
    else:
        raise SourceAPIError(
            f"{url}: the window kept changing while it was read ({RETRIES} attempts); "
            f"run the task again when the source is quieter"
        )
    stream = resource.extract.path or "api"
    high = None
    position = 1
    for page_number, items in pages:
        objects: list[tuple[int, dict]] = []
        for offset, item in enumerate(items):
            row = position + offset
            if isinstance(item, dict):
                objects.append((row, item))
                stamp = item.get(resource.extract.watermark or "")
                if isinstance(stamp, str) and (high is None or stamp > high):
                    high = stamp
            else:
                writer.reject(
                    Rejected(
                        f"{stream}?page={page_number}",
                        row,
                        f"格式错误 malformed record: item {offset + 1} of page {page_number} is "
                        f"not an object",
                        record=str(item)[:2000],
                    )
                )
        columns = json_columns(resource, (obj for _, obj in objects))
        rows = ((n, [_json_text(obj.get(c)) for c in columns]) for n, obj in objects)
        for chunk in _chunks(stream, columns, rows):
            writer.add(chunk)
        position += len(items)
    return {
        "location": url,
        "pages": len(pages),
        "announced_total": position - 1,
        "watermark": {
            "column": resource.extract.watermark,
            "low": params.get("updated_from"),
            "high": params.get("updated_to"),
            "max_seen": high,
        },
    }


def _read_window(
    session: requests.Session, url: str, params: dict, conn_id: str
) -> list[tuple[int, list]] | None:
    """All pages of the window, or None if its announced total changed while paging."""
    pages: list[tuple[int, list]] = []
    page, seen, total = 1, 0, None
    while True:
        body = _get(session, url, {**params, "page": page}, conn_id)
        items = body.get("items") or []
        announced = body.get("total")
        if total is not None and announced != total:
            return None
        total = announced
        pages.append((page, items))
        seen += len(items)
        if not items or (total is not None and seen >= total):
            break
        page += 1
    if total is not None and seen != total:
        raise SourceAPIError(f"{url}: the API announced {total} records but served {seen}")
    return pages
