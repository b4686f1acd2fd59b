"""The ingestion summary of a business day: per resource, what came in and where it went."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from govlake.governance.store import connect, ensure_schema


@dataclass
class ResourceDay:
    resource_id: str
    batch_id: str | None
    source_rows: int
    landed_rows: int
    loaded_rows: int
    quarantined: int
    seconds: float
    state: str
    drift: str
    message: str | None

    @property
    def reconciled(self) -> bool:
        return self.state != "loaded" or self.source_rows == self.loaded_rows + self.quarantined


def day_summary(ingest_date: date, resource_ids: list[str]) -> list[ResourceDay]:
    with connect() as conn:
        ensure_schema(conn)
        rows = conn.execute(
            "select b.resource_id, b.batch_id, b.source_rows, b.landed_rows, "
            "coalesce(b.loaded_rows, 0), b.extract_quarantined + coalesce(b.load_quarantined, 0),"
            " coalesce(b.extract_seconds, 0) + coalesce(b.load_seconds, 0), b.state, "
            " (select string_agg(d.change || ':' || d.column_name, ', ' order by d.column_name) "
            "    from governance.schema_drift d "
            "   where d.resource_id = b.resource_id and d.batch_id = b.batch_id), b.message "
            "from governance.batch b where b.ingest_date = %s",
            (ingest_date,),
        ).fetchall()
    found: dict[str, list[ResourceDay]] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        found.setdefault(row[0], []).append(ResourceDay(*row[:8], drift=row[8] or "",
                                                       message=row[9]))  # fmt: skip
    days: list[ResourceDay] = []
    for rid in resource_ids:  # every batch of the day (an incremental and a full one, say)
        days.extend(
            found.get(rid)
            or [
                ResourceDay(
                    rid, None, 0, 0, 0, 0, 0.0, "missing", "", "未运行 no batch for this date"
                )
            ]
        )
    return days


def write_summary(ingest_date: date, days: list[ResourceDay], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"ingest_summary_{ingest_date:%Y-%m-%d}.json"
    json_path.write_text(
        json.dumps(
            {"ingest_date": ingest_date.isoformat(),
             "resources": [{**asdict(d), "reconciled": d.reconciled} for d in days]},
            ensure_ascii=False, indent=2, default=str,
        ),
        encoding="utf-8",
    )  # fmt: skip
    lines = [
        f"# 数据归集日报 Ingestion summary — {ingest_date:%Y-%m-%d}",
        "",
        "| 资源 resource | 源行数 source | 落地 landed | 入库 loaded | 隔离 quarantined "
        "| 对账 reconciled | 耗时 s | 状态 state | 结构变化 drift |",
        "|---|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for d in days:
        lines.append(
            f"| {d.resource_id} | {d.source_rows} | {d.landed_rows} | {d.loaded_rows} | "
            f"{d.quarantined} | {'✓' if d.reconciled else '✗'} | {d.seconds:.2f} | {d.state} "
            f"| {d.drift} |"
        )
    md_path = folder / f"ingest_summary_{ingest_date:%Y-%m-%d}.md"
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [json_path, md_path]
