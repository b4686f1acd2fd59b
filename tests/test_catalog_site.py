"""The catalog site (数据目录网站), built from a real metadata store.

A day of the civil affairs bureau's low-income roster lands through the real extract and
load; the catalog, the standards and dbt's manifest are harvested into the store by the
real harvester; quality scores and a work order are recorded as the audits write them.
The site is then checked as files and in headless Chromium (the quality report's
DevTools helper): a page per dataset, the search index, masked samples for ``public``,
the search working from ``file://``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from govlake import config
from govlake.cli import app
from govlake.governance.store import connect
from govlake.lineage import access
from govlake.lineage.site import build_site, page_name
from govlake.lineage.store import harvest
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.transform.prepare import prepare_warehouse
from typer.testing import CliRunner

from tests.test_quality_report import Chromium, _check_clean, chromium  # noqa: F401

runner = CliRunner()
DAY = date(2026, 11, 1)
RAW = "raw.civil__low_income"
LAKE = "lake:raw/civil/low_income"
ID_NUMBER = "440783199001011234"
ROSTER = (
    "recipient_id,name,id_number,town_code,category,household_size,monthly_amount,"
    "start_date,status\n"
    f"R1,关志强,{ID_NUMBER},440783001,低保,3,800,2024-01-01,在册\n"
    "R2,司徒美玲,440783198505056789,440783002,特困,1,1200,2023-06-01,在册\n"
)
HOSTILE = "</script><script>alert('x')</script> & <b>bold</b>"


@pytest.fixture
def store(platform: dict, dbt_manifest: Path) -> Iterator[psycopg.Connection]:
    """Catalog and standards in governance, one loaded batch, the store harvested, and
    the quality records of the raw table."""
    prepare_warehouse()
    folder = config.landing_dir() / "civil" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "low_income_20261101.csv").write_text(ROSTER, encoding="utf-8")
    batch = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, batch["batch_id"])
    with connect(autocommit=True) as conn:
        harvest(conn, by="test", sources=("catalog", "dbt", "information_schema"),
                dbt_target=dbt_manifest.parent)  # fmt: skip
        conn.execute(
            "update governance.md_dataset set description = %s where dataset = %s",
            (HOSTILE, "basic.town"),
        )
        for day, dimension, score in (
            ("2026-10-31", "all", 55.0),  # an older day: not shown
            ("2026-11-01", "all", 87.5),
            ("2026-11-01", "completeness", 100.0),
            ("2026-11-01", "accuracy", 75.0),
        ):
            conn.execute(
                "insert into governance.quality_score (business_date, scope, scope_key, "
                "dimension, score, rules, rules_failed, evaluated, failed) "
                "values (%s, 'table', %s, %s, %s, 8, 1, 16, 1)",
                (day, RAW, dimension, score),
            )
        conn.execute(
            "insert into governance.work_order (rule_id, table_name, resource_id, department, "
            "dimension, severity, state, title, due_at, first_run_id, last_run_id, "
            "last_failed) values ('raw.civil__low_income:check_algorithm:id_number', %s, "
            "'civil.low_income', 'civil', 'accuracy', 'blocking', 'open', %s, "
            "now() - interval '1 day', 'r1', 'r1', 1)",
            (RAW, "低保名册 公民身份号码校验码错误"),
        )
        yield conn


def _index(folder: Path) -> list[dict]:
    page = (folder / "index.html").read_text(encoding="utf-8")
    match = re.search(
        r'<script type="application/json" id="search-index">(.*?)</script>', page, re.S
    )
    assert match, "the index page embeds its search index"
    return json.loads(match.group(1))


def test_a_page_per_dataset_and_a_search_index(store, tmp_path):
    out = tmp_path / "site"
    (out / "datasets").mkdir(parents=True)
    (out / "datasets" / "gone.table.html").write_text("stale", encoding="utf-8")
    built = build_site(store, out)
    datasets = [r[0] for r in store.execute(
        "select dataset from governance.md_dataset where dropped_at is null")]  # fmt: skip
    assert built.pages == len(datasets) > 50
    pages = {p.name for p in (out / "datasets").glob("*.html")}
    assert pages == {page_name(d) for d in datasets}  # one each, the stale one removed
    assert page_name(RAW) == "raw.civil__low_income.html"
    assert re.fullmatch(r"lake~raw~civil~low_income-[0-9a-f]{8}\.html", page_name(LAKE))
    assert page_name("report:a/b") != page_name("report:a~b")

    index = {e["key"]: e for e in _index(out)}
    assert set(index) == set(datasets)
    roster = index[RAW]
    assert (roster["zh"], roster["en"]) == (
        "低收入人口救助对象",
        "low-income assistance recipients",
    )
    assert {"id_number", "name", "town_code"} <= set(roster["fields"])
    assert "KP.DE.0102 公民身份号码 citizen identity number" in roster["elements"]
    assert any(t.startswith("户籍人口 registered population") for t in roster["terms"])
    assert roster["owner"] == "开平市民政局社会救助股"
    assert roster["department"] == "civil 开平市民政局 Kaiping Civil Affairs Bureau"
    assert roster["code_sets"] == ["kp_town 开平市镇（街道）代码"]
    assert roster["url"] == "datasets/raw.civil__low_income.html"
    exposure = index["export:open_data_export"]
    assert exposure["zh"] == "公共数据开放（非敏感库）" and exposure["layer"] == "export"
    # a hostile description cannot end the script element that holds the index
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count("</script>") == 2 and "\\u003c/script\\u003e" in page
    assert index["basic.town"]["description"].startswith("</script><script>")


def test_the_dataset_page_joins_entry_terms_fields_lineage_quality(store, tmp_path):
    out = tmp_path / "site"
    build_site(store, out)
    page = (out / "datasets" / "raw.civil__low_income.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    # catalog entry from governance.resource
    assert '<span id="sharing-type">有条件共享</span>' in page
    assert '<span id="open-type">不予开放</span>' in page
    assert "社会救助报送文件" in page and "daily" in page
    assert '<span id="owner">开平市民政局社会救助股</span>' in page
    # terms (through the fields' data elements), data elements, fields with grades
    assert "户籍人口" in page and "KP.DE.0102" in page and "公民身份号码" in page
    assert 'id="field-id_number"' in page and "kp_town" in page
    # samples as the public may see them: the L4 identity number masked, L1 codes clear
    row = re.search(r'<tr><td><code id="field-id_number">.*?</tr>', page, re.S).group(0)
    assert ID_NUMBER not in page and "已脱敏 masked" in row and "4407" in row
    town = re.search(r'<tr><td><code id="field-town_code">.*?</tr>', page, re.S).group(0)
    assert "440783001" in town and "masked" not in town
    assert "关志强" not in page  # names are L3
    # L2 is internal (内部): the recipient number is masked for the public …
    recipient = re.search(r'<tr><td><code id="field-recipient_id">.*?</tr>', page, re.S)
    assert "已脱敏 masked" in recipient.group(0)
    # … and shown to staff, whose default clearance is L2, with no read to record
    build_site(store, tmp_path / "staff", principal="staff.chen")
    staff = (tmp_path / "staff" / "datasets" / "raw.civil__low_income.html").read_text("utf-8")
    staff_row = re.search(r'<tr><td><code id="field-recipient_id">.*?</tr>', staff, re.S)
    assert "已脱敏 masked" not in staff_row.group(0)
    assert ID_NUMBER not in staff  # L4 stays masked without a grant
    # lineage: upstream to the lake and the department's drop, links to their pages
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    root = ET.fromstring(svg)
    boxes = {g.get("data-dataset") for g in root.iter("{http://www.w3.org/2000/svg}g")
             if g.get("data-dataset")}  # fmt: skip
    assert {RAW, LAKE, "staging.stg_civil__low_income"} <= boxes
    assert f'href="{page_name(LAKE)}"' in page
    assert any(b.startswith("source:") for b in boxes)
    # the latest day's quality score and the open work order
    assert '<span class="score fair" id="quality-score">87.50</span>' in page
    assert "2026-11-01" in page and "55.00" not in page
    assert "低保名册 公民身份号码校验码错误" in page and "逾期 overdue" in page
    # the hostile description is text, not markup
    town_page = (out / "datasets" / "basic.town.html").read_text(encoding="utf-8")
    assert "<script>alert" not in town_page and "&lt;/script&gt;&lt;script&gt;" in town_page


def test_a_granted_principal_sees_values_and_the_read_is_recorded(store, tmp_path):
    access.grant(store, "auditor.li", "L4", RAW, by="test")
    build_site(store, tmp_path / "auditor", principal="auditor.li")
    page = (tmp_path / "auditor" / "datasets" / "raw.civil__low_income.html").read_text("utf-8")
    assert ID_NUMBER in page and "关志强" in page
    reads = store.execute(
        "select changed_by, object from governance.md_change where action = 'read' order by object"
    ).fetchall()
    assert ("auditor.li", f"{RAW}.id_number") in reads


def test_the_command_writes_the_site_to_the_output_folder(store):
    result = runner.invoke(app, ["catalog", "site"])
    assert result.exit_code == 0, result.output
    index = config.output_dir() / "catalog" / "index.html"
    assert index.exists() and str(index) in result.output.replace("\n", "")
    assert "个数据集页面 dataset pages" in result.output


def test_the_command_says_what_to_do_before_a_harvest(platform):
    empty = runner.invoke(app, ["catalog", "site"])
    assert empty.exit_code == 1
    assert "元数据库为空" in empty.output and "govlake metadata harvest" in empty.output
    nobody = runner.invoke(app, ["catalog", "site", "--as", " "])
    assert nobody.exit_code == 1 and "a principal is required" in nobody.output


def test_search_works_in_chromium_from_file(store, tmp_path, chromium):  # noqa: F811
    out = tmp_path / "site"
    build_site(store, out)
    url = (out / "index.html").as_uri()
    page = chromium.open(url)
    _check_clean(page, url)
    total = len(_index(out))
    assert page.evaluate("document.getElementById('count').textContent") == str(total)

    def search(text: str) -> list[str]:
        page.evaluate(
            f"(() => {{ const q = document.getElementById('q'); q.value = {json.dumps(text)}; "
            "q.dispatchEvent(new Event('input')); })()"
        )
        return page.evaluate(
            "[...document.querySelectorAll('li[data-i]')].filter(li => !li.hidden)"
            ".map(li => li.querySelector('code').textContent)"
        )

    by_element = search("公民身份号码")  # a data element's Chinese name
    assert RAW in by_element and "sensor.air_quality_hourly" not in by_element
    assert page.evaluate("document.getElementById('count').textContent") == str(len(by_element))
    why = page.evaluate(
        "[...document.querySelectorAll('li[data-i]')].find(li => !li.hidden && "
        "li.querySelector('code').textContent === 'raw.civil__low_income')"
        ".querySelector('.why').textContent"
    )
    assert why.startswith("匹配 matched") and "公民身份号码" in why
    # every word must match: the bureau's own datasets that carry id_number
    assert set(search("社会救助股 id_number")) == {RAW, LAKE, "source:civil_drop/low_income_*.csv"}
    assert set(search("热线 看板")) == {"report:hotline_performance_dashboard"}  # a report
    assert search("户籍人口") and RAW in search("registered population")  # business terms
    assert search("no-such-thing-at-all") == []
    assert page.evaluate("document.getElementById('no-results').hidden") is False
    # hidden groups: only layers with a match stay on screen
    assert page.evaluate("[...document.querySelectorAll('.layer-group')].every(g => g.hidden)")
    search("")
    assert page.evaluate("document.getElementById('count').textContent") == str(total)

    # a link into the search, and a dataset page: no errors, nothing from outside
    linked = chromium.open(url + "#q=low_income")
    assert set(linked.evaluate(
        "[...document.querySelectorAll('li[data-i]')].filter(li => !li.hidden)"
        ".map(li => li.querySelector('code').textContent)")) >= {RAW, LAKE}  # fmt: skip
    detail_url = (out / "datasets" / "raw.civil__low_income.html").as_uri()
    detail = chromium.open(detail_url)
    _check_clean(detail, detail_url)
    assert detail.evaluate("document.querySelectorAll('#lineage svg g[data-dataset]').length") >= 3
    assert detail.evaluate("document.getElementById('quality-score').textContent") == "87.50"
