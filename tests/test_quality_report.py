"""Quality scores and the daily quality report, opened in a real (headless) Chromium.

The quality tables are filled directly with a few days of realistic audits (as the audits
write them), against real PostgreSQL. The report is checked in Chromium through the
DevTools protocol (the ``websockets`` client): no console error, no request leaving the
file, the key figures in the rendered DOM, the print and the dark stylesheets applied.
Chromium is Debian's package (``.ci/install-browser``); the browser tests FAIL when it is
missing.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from govlake import config
from govlake.catalog.loader import default_catalog
from govlake.governance.store import connect, sync_catalog
from govlake.quality.report import build_report
from govlake.quality.scores import compute_scores, score_trend
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

pytestmark = pytest.mark.integration

DAY = date(2025, 3, 14)
TZ = ZoneInfo(config.TIMEZONE)
CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1920,1080", "--hide-scrollbars",
)  # fmt: skip
OVERDUE_TITLE = "社会保险参保信息 身份证号码校验无法执行"


# ---------------------------------------------------------------------------------------
# Audit data, as the audits write it


def _rule(rule_id: str, dimension: str, severity: str, evaluated: int, failed: int, **extra):
    table, template, column = rule_id.split(":")
    return {
        "rule_id": rule_id, "table": table, "template": template, "column": column,
        "dimension": dimension, "severity": severity, "evaluated": evaluated, "failed": failed,
        "success": extra.get("success", failed == 0 and not extra.get("error")),
        "sample": extra.get("sample"), "error": extra.get("error"),
    }  # fmt: skip


def _run(
    conn,
    run_id: str,
    table: str,
    department: str,
    day: date,
    hour: int,
    results: list[dict],
    *,
    trigger: str = "batch",
    finished: bool = True,
    data_docs: str | None = None,
) -> None:
    started = datetime(day.year, day.month, day.day, hour, tzinfo=TZ)
    failed = [r for r in results if not r["success"]]
    conn.execute(
        "insert into governance.quality_run (run_id, suite, table_name, resource_id, batch_id, "
        "trigger, business_date, started_at, finished_at, rows_audited, rules, rules_failed, "
        "blocking_failed, success, data_docs) values "
        "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            run_id, table, table, None, None, trigger, day, started,
            started + timedelta(minutes=3) if finished else None,
            max((r["evaluated"] for r in results), default=0), len(results), len(failed),
            sum(1 for r in failed if r["severity"] == "blocking"), not failed, data_docs,
        ),
    )  # fmt: skip
    for r in results:
        conn.execute(
            "insert into governance.quality_result (run_id, rule_id, suite, table_name, "
            "department, column_name, template, dimension, severity, evaluated, failed, success, "
            "sample, error) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id, r["rule_id"], table, table, department, r["column"], r["template"],
                r["dimension"], r["severity"], r["evaluated"], r["failed"], r["success"],
                json.dumps(r["sample"], ensure_ascii=False) if r["sample"] else None, r["error"],
            ),
        )  # fmt: skip


POLICE_ID = "raw.police__person:check_algorithm:id_number"
POLICE_BIRTH = "raw.police__person:value_domain:birth_date"
POPULATION_ADDRESS = "basic.population:referential:address_code"
HRSS_ID = "raw.hrss__social_insurance:check_algorithm:id_number"
HRSS_MONTH = "raw.hrss__social_insurance:timeliness:pay_month"
RULE_TEXT = {
    POLICE_ID: ("公民身份号码校验码检查", "id_number passes the GB 11643 check character"),
    POLICE_BIRTH: ("出生日期值域检查", "birth_date within 1900 and the business date"),
    HRSS_ID: ("参保人身份证号码校验码检查", "id_number passes the GB 11643 check character"),
}


def fill_quality_tables(conn, output: Path) -> None:
    """Three business days of audits, work orders and a blocked batch.

    On ``DAY`` (the hand-computed example of docs/quality.md):
    - raw.police__person (police): accuracy blocking 10/100 failed, accuracy warning 0/100
      → accuracy 100 × (3 × 0.9 + 1 × 1) / 4 = 92.5; the table 92.5. An earlier run of the
      day (50 failed) is superseded.
    - basic.population (police): consistency warning 20/80 failed → 75; the table 75.
      Police: (92.5 + 75) / 2 = 83.75.
    - raw.market__enterprise (market): nothing fails (one rule evaluated nothing) → 100. A
      later run that never finished is ignored.
    - raw.hrss__social_insurance (hrss): accuracy blocking errored → 0; timeliness warning
      5/20 failed → 75; the table and hrss (0 + 75) / 2 = 37.5.
    - overall: (83.75 + 100 + 37.5) / 3 = 73.75.
    """
    sync_catalog(conn, default_catalog())
    for rule_id, (zh, en) in RULE_TEXT.items():
        table, template, column = rule_id.split(":")
        conn.execute(
            "insert into governance.quality_rule (rule_id, suite, table_name, department, "
            "column_name, template, dimension, severity, stage, origin, expectation_type, "
            "kwargs, description_zh, description_en) values (%s, %s, %s, %s, %s, %s, "
            "'accuracy', 'blocking', 'batch', 'generated', 'ExpectColumnValuesToMatchRegex', "
            "'{}', %s, %s)",
            (rule_id, table, table, rule_id.split(".")[1].split("__")[0], column, template,
             zh, en),
        )  # fmt: skip
    docs = output / "gx" / "data_docs" / "local_site" / "validations" / "police_person.html"
    masked = ["440783********123X", "440783********4521"]
    for back, police_failed, hrss_failed in ((2, 30, 2), (1, 20, 4), (0, 10, 5)):
        day = DAY - timedelta(days=back)
        tag = f"{day:%Y%m%d}"
        if back == 0:
            _run(conn, f"{tag}-batch-police-early", "raw.police__person", "police", day, 6, [
                _rule(POLICE_ID, "accuracy", "blocking", 100, 50, sample=masked),
                _rule(POLICE_BIRTH, "accuracy", "warning", 100, 0),
            ])  # fmt: skip
        _run(conn, f"{tag}-batch-police", "raw.police__person", "police", day, 7, [
            _rule(POLICE_ID, "accuracy", "blocking", 100, police_failed, sample=masked),
            _rule(POLICE_BIRTH, "accuracy", "warning", 100, 0),
        ], data_docs=str(docs) if back == 0 else None)  # fmt: skip
        _run(conn, f"{tag}-libraries-population", "basic.population", "police", day, 9, [
            _rule(POPULATION_ADDRESS, "consistency", "warning", 80, 20,
                  sample=["开平市三埠街道**路", "开平市长沙街道**号"]),
        ], trigger="libraries")  # fmt: skip
        _run(conn, f"{tag}-batch-market", "raw.market__enterprise", "market", day, 7, [
            _rule("raw.market__enterprise:completeness:uscc", "completeness", "blocking", 50, 0),
            _rule("raw.market__enterprise:format:uscc", "normativity", "warning", 50, 0),
            _rule("raw.market__enterprise:timeliness:establish_date", "timeliness", "warning",
                  0, 0),
        ])  # fmt: skip
        if back == 0:
            _run(conn, f"{tag}-manual-market", "raw.market__enterprise", "market", day, 11, [
                _rule("raw.market__enterprise:completeness:uscc", "completeness", "blocking",
                      50, 50),
            ], trigger="manual", finished=False)  # fmt: skip
        _run(conn, f"{tag}-batch-hrss", "raw.hrss__social_insurance", "hrss", day, 8, [
            _rule(HRSS_ID, "accuracy", "blocking", 0, 0, success=False,
                  error='column "id_number" does not exist'),
            _rule(HRSS_MONTH, "timeliness", "warning", 20, hrss_failed,
                  sample=["2024-11", "2024-12"]),
        ], data_docs="/srv/gx-elsewhere/hrss.html" if back == 0 else None)  # fmt: skip
    orders = [
        (HRSS_ID, "hrss", "accuracy", "blocking", "open", OVERDUE_TITLE, -10, -3),
        (POLICE_ID, "police", "accuracy", "blocking", "in_progress",
         "户籍人口基本信息 公民身份号码校验未通过", -2, 5),
        (POPULATION_ADDRESS, "police", "consistency", "warning", "resolved",
         "人口库 地址编码参照不一致", -6, 1),
        ("raw.market__enterprise:format:uscc", "market", "normativity", "warning", "closed",
         "市场主体登记信息 统一社会信用代码格式", -20, -13),
    ]  # fmt: skip
    for rule_id, department, dimension, severity, state, title, opened, due in orders:
        conn.execute(
            "insert into governance.work_order (rule_id, table_name, department, assignee, "
            "dimension, severity, state, title, opened_at, due_at, first_run_id, last_run_id, "
            "last_failed) values (%s, %s, %s, %s, %s, %s, %s, %s, now() + %s, now() + %s, "
            "'r0', 'r1', 7)",
            (rule_id, rule_id.split(":")[0], department, f"{department}-数据科", dimension,
             severity, state, title, timedelta(days=opened), timedelta(days=due)),
        )  # fmt: skip
    conn.execute(
        "insert into governance.batch (resource_id, batch_id, ingest_date, mode, window_end, "
        "object_prefix, source_rows, landed_rows, extract_quarantined, loaded_rows, "
        "load_quarantined, state, audit_state, audit_run_id) values ('police.person', "
        "'b20250314T070000', %s, 'incremental', %s, 'raw/police/person/2025-03-14', 100, 100, "
        "0, 100, 0, 'loaded', 'blocked', %s)",
        (DAY, datetime(2025, 3, 15), f"{DAY:%Y%m%d}-batch-police"),
    )


@pytest.fixture
def quality_day(platform: dict) -> Iterator[dict]:
    """The platform with the quality tables filled and the three days scored."""
    with connect() as conn:
        fill_quality_tables(conn, config.output_dir())
        written = [compute_scores(conn, DAY - timedelta(days=back)) for back in (2, 1, 0)]
    yield {**platform, "written": written}


def _scores(day: date = DAY) -> dict[tuple[str, str, str], dict[str, Any]]:
    with connect() as conn:
        cursor = conn.execute(
            "select scope, scope_key, dimension, score::float8, rules, rules_failed, evaluated, "
            "failed from governance.quality_score where business_date = %s",
            (day,),
        )
        return {
            tuple(row[:3]): dict(zip(("score", "rules", "rules_failed", "evaluated", "failed"),
                                     row[3:], strict=True))
            for row in cursor.fetchall()
        }  # fmt: skip


# ---------------------------------------------------------------------------------------
# Scores


def test_scores_follow_the_formula(quality_day: dict) -> None:
    scores = _scores()
    score = {key: value["score"] for key, value in scores.items()}
    # two rules in one dimension: blocking 10/100 failed (0.9, weight 3), warning 0 (1, weight 1)
    assert score["table", "raw.police__person", "accuracy"] == 92.5
    assert score["table", "raw.police__person", "all"] == 92.5
    assert score["table", "basic.population", "consistency"] == 75.0
    assert score["department", "police", "all"] == 83.75
    assert score["department", "police", "accuracy"] == 92.5
    assert score["department", "police", "consistency"] == 75.0
    # the errored rule counts as 0: accuracy 0, timeliness 5/20 failed → 75
    assert score["table", "raw.hrss__social_insurance", "accuracy"] == 0.0
    assert score["department", "hrss", "all"] == 37.5
    # the department with no failures is 100 in every dimension it has (the later,
    # unfinished run of the market table does not count)
    market = {k[2]: v for k, v in score.items() if k[:2] == ("department", "market")}
    assert market == {"all": 100.0, "completeness": 100.0, "normativity": 100.0,
                      "timeliness": 100.0}  # fmt: skip
    assert score["overall", "*", "all"] == 73.75
    assert score["overall", "*", "accuracy"] == 46.25  # (police 92.5 + hrss 0) / 2
    assert score["overall", "*", "timeliness"] == 87.5  # (market 100 + hrss 75) / 2
    assert ("overall", "*", "accessibility") not in score  # no rules: absent, not 0

    police = scores["department", "police", "all"]
    assert (police["rules"], police["rules_failed"], police["evaluated"], police["failed"]) == (
        3, 2, 280, 30)  # fmt: skip
    overall = scores["overall", "*", "all"]
    assert (overall["rules"], overall["rules_failed"], overall["evaluated"], overall["failed"]) == (
        8, 4, 400, 35)  # fmt: skip
    assert quality_day["written"][-1] == len(scores)

    with connect() as conn:  # recomputing replaces the day's rows
        assert compute_scores(conn, DAY) == len(scores)
        trend = score_trend(conn, "department", "police", 5)
        overall_trend = score_trend(conn, "overall", days=3, end=DAY)
    assert [d for d, _ in trend] == [DAY - timedelta(days=i) for i in range(4, -1, -1)]
    assert trend[:2] == [(DAY - timedelta(days=4), None), (DAY - timedelta(days=3), None)]
    # police person 30, 20, 10 failed of 100 (blocking) → 77.5, 85, 92.5; population 75
    assert [s for _, s in trend[2:]] == [76.25, 80.0, 83.75]
    assert overall_trend[-1] == (DAY, 73.75)
    assert _scores(DAY - timedelta(days=7)) == {}


def test_a_day_without_runs_has_no_scores(platform: dict) -> None:
    with connect() as conn:
        assert compute_scores(conn, DAY) == 0
        trend = score_trend(conn, "overall", "*", 3, end=DAY)
    assert trend == [(DAY - timedelta(days=i), None) for i in (2, 1, 0)]


# ---------------------------------------------------------------------------------------
# The page as a file


def test_report_is_one_self_contained_printable_file(quality_day: dict) -> None:
    with connect() as conn:
        path = build_report(conn, DAY)
        older = build_report(conn, DAY - timedelta(days=1))
    out = config.output_dir() / "quality"
    assert path == out / "quality-report-2025-03-14.html"
    assert older.exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    page = path.read_text(encoding="utf-8")
    assert index == page, "index.html is the latest day's report, whatever was built last"
    assert "《开平市政务数据质量日报》" in page
    assert "@media print" in page and "break-before: page" in page
    assert "prefers-color-scheme: dark" in page
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    # GX data docs: relative under the output folder, a file URI elsewhere
    assert 'href="../gx/data_docs/local_site/validations/police_person.html"' in page
    assert 'href="file:///srv/gx-elsewhere/hrss.html"' in page


# ---------------------------------------------------------------------------------------
# The page in Chromium (DevTools protocol)


class Chromium:
    """A headless Chromium of the test's own, driven over the DevTools protocol."""

    def __init__(self, profile: Path):
        self.profile = profile
        self.log = profile.parent / "chromium.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._ids = itertools.count(1)
        self.events: list[dict] = []
        self.ws = self._connect()

    def _connect(self) -> ClientConnection:
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) >= 2:
                return ws_connect(f"ws://127.0.0.1:{lines[0]}{lines[1]}", max_size=None,
                                  open_timeout=20)  # fmt: skip
            time.sleep(0.1)
        self.close()
        pytest.fail(f"chromium did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == message_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict:
        seen = [e for e in self.events if e.get("method") == method and
                e.get("sessionId") == session]  # fmt: skip
        deadline = time.monotonic() + timeout
        while not seen:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {method}"
            event = json.loads(self.ws.recv(timeout=left))
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
        return seen[0]

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False},
                  session)  # fmt: skip
        self.send("Page.navigate", {"url": url}, session)
        self.wait_for("Page.loadEventFired", session)
        self.drain(0.5)
        return Page(self, session)

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                self.send("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self._log_file.close()


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def evaluate(self, expression: str) -> Any:
        reply = self.browser.send("Runtime.evaluate", {"expression": expression,
                                  "returnByValue": True}, self.session)  # fmt: skip
        assert "exceptionDetails" not in reply, reply["exceptionDetails"]
        return reply["result"].get("value")

    def media(self, media: str = "", dark: bool = False) -> None:
        features = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
        self.browser.send("Emulation.setEmulatedMedia", {"media": media, "features": features},
                          self.session)  # fmt: skip

    def events(self) -> list[dict]:
        return [e for e in self.browser.events if e.get("sessionId") == self.session]

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events():
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params["exceptionDetails"], ensure_ascii=False)[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args"), ensure_ascii=False)[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return errors  # fmt: skip

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events()
                if e.get("method") == "Network.requestWillBeSent"]  # fmt: skip


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """Headless Chromium (Debian's package); FAILS, never skips, when it is not installed."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"Chromium is required for the quality-report browser tests and is not at "
            f"{CHROMIUM}: install it with .ci/install-browser "
            f"(apt-get install -y chromium chromium-driver)."
        )
    folder = Path(tempfile.mkdtemp(prefix="govlake-test-chromium-"))
    browser = Chromium(folder / "profile")
    try:
        yield browser
    finally:
        browser.close()
        shutil.rmtree(folder, ignore_errors=True)


def _check_clean(page: Page, url: str) -> None:
    assert page.console_errors() == [], f"console errors in {url}"
    leaving = [u for u in page.requests() if not u.startswith(("file:", "data:", "about:"))]
    assert leaving == [], "the report must not load anything from outside its file"


def test_report_renders_in_chromium(quality_day: dict, chromium: Chromium) -> None:
    with connect() as conn:
        path = build_report(conn, DAY)
    url = path.as_uri()
    page = chromium.open(url)
    _check_clean(page, url)
    text = page.evaluate("document.body.innerText")
    assert "《开平市政务数据质量日报》" in text
    assert page.evaluate("document.getElementById('overall-score').innerText") == "73.8"
    assert page.evaluate("document.getElementById('business-date').innerText") == "2025-03-14"
    for figure in (
        "开平市公安局", "开平市市场监督管理局", "开平市人力资源和社会保障局",  # departments
        "完整性", "准确性", "时效性", "可访问性",  # the GB/T 36344 dimensions
        OVERDUE_TITLE,  # the overdue work order
        "公民身份号码校验码检查", "440783********123X", "10 / 100",  # a top failing rule
        'column "id_number" does not exist',  # the errored rule
        "b20250314T070000",  # the blocked batch
        "数据文档 data docs",
    ):  # fmt: skip
        assert figure in text, f"{figure!r} is not on the rendered page"
    assert "人口库 地址编码参照不一致" not in text, "a resolved order is not overdue"
    assert "未关闭工单 open work orders" in text
    # one chart per score view and one line per series in the trend (overall + 3 departments)
    assert page.evaluate("document.querySelectorAll('svg.chart').length") == 4
    assert page.evaluate("document.querySelectorAll('#trends polyline').length") == 4
    # 1920×1080 big screen: nothing wider than the screen, charts inside their cards
    assert page.evaluate("document.documentElement.scrollWidth") <= 1920
    assert page.evaluate(
        "[...document.querySelectorAll('svg.chart')].every(s => { const r = "
        "s.getBoundingClientRect(), c = s.closest('.card').getBoundingClientRect(); "
        "return r.width > 100 && r.left >= c.left && r.right <= c.right + 0.5; })"
    )
    background = "getComputedStyle(document.body).backgroundColor"
    page.media(dark=True)
    assert page.evaluate(background) == "rgb(7, 16, 31)", "the dark (大屏) theme"
    page.media(dark=False)
    assert page.evaluate(background) == "rgb(243, 245, 249)"
    page.media("print", dark=True)
    assert page.evaluate(background) == "rgb(255, 255, 255)", "print is light, even on dark"
    assert page.evaluate("getComputedStyle(document.querySelector('nav')).display") == "none"
    assert page.evaluate("getComputedStyle(document.getElementById('rules')).breakBefore") == "page"
    pdf = base64.b64decode(
        chromium.send("Page.printToPDF", {"printBackground": True}, page.session)["data"]
    )
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000, "Chromium prints the report"
    _check_clean(page, url)


def test_empty_report_says_so(platform: dict, chromium: Chromium) -> None:
    with connect() as conn:
        assert compute_scores(conn, DAY) == 0
        path = build_report(conn, DAY)
    page = chromium.open(path.as_uri())
    _check_clean(page, path.as_uri())
    text = page.evaluate("document.body.innerText")
    assert "该业务日暂无质量审计结果" in text and "No quality audit results" in text
    assert page.evaluate("document.getElementById('overall-score').innerText") == "—"
    assert "无逾期工单 No overdue work orders." in text
    assert "无被阻断的批次 No batch is blocked." in text
