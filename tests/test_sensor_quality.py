"""The stream consumer's real-time checks count as quality results and open work orders.

Simulated readings with faults go through the consumer's own flush (alerts raised by its
checks) and into raw; the day's library-stage audit of each sensor table turns the alerts
into results (accuracy: range, rate of change, stuck; timeliness: offline), which score and
open work orders assigned to the department owning the devices.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from govlake.governance.store import connect
from govlake.quality.audit import audit_library
from govlake.stream import simulator
from govlake.stream.devices import catalog_devices, sample
from govlake.stream.messages import KAIPING

from tests.test_libraries_sensor import land

START = datetime(2026, 11, 1, 0, 0, tzinfo=KAIPING)


def test_real_time_alerts_become_results_and_work_orders(platform, tmp_path):
    fleet = sample(catalog_devices(), {"air_quality": 3, "hydrology": 3, "light_pole": 3})
    emissions = list(simulator.generate(fleet, START, 24 * 60, seed=11, truth=[]))
    land(emissions, tmp_path)
    with connect() as conn:
        alerts = Counter(
            (kind, check)
            for kind, check in conn.execute(
                "select kind, check_name from governance.sensor_alert "
                "where (observed_at at time zone 'Asia/Shanghai')::date = date '2026-11-01'"
            )
        )
        readings = dict(
            conn.execute(
                "select 'air_quality', count(*) from raw.sensor__air_quality "
                "where (observed_at at time zone 'Asia/Shanghai')::date = date '2026-11-01'"
            ).fetchall()
        )
    assert sum(alerts.values()) > 0, "the simulator's faults raised alerts"

    owners = {"air_quality": "env", "hydrology": "water", "light_pole": "urban"}
    for kind, department in owners.items():
        result = audit_library(f"raw.sensor__{kind}", START.date())
        by_check = {o.rule_id.rsplit(":", 1)[1]: o for o in result.outcomes}
        assert set(by_check) == {"range", "rate_of_change", "stuck", "offline"}
        for check in ("range", "rate_of_change", "stuck"):
            outcome = by_check[check]
            assert outcome.failed == alerts[(kind, check)], (kind, check)
            assert outcome.success == (alerts[(kind, check)] == 0)
        if kind == "air_quality":
            assert by_check["range"].evaluated >= readings["air_quality"]
        with connect() as conn:
            orders = conn.execute(
                "select rule_id, department from governance.work_order where table_name = %s",
                (f"raw.sensor__{kind}",),
            ).fetchall()
        failing = {o.rule_id for o in result.outcomes if not o.success}
        assert {rule_id for rule_id, _ in orders} == failing
        assert all(dept == department for _, dept in orders)
    with connect() as conn:
        dimensions = dict(
            conn.execute(
                "select distinct rule_id, dimension from governance.quality_result "
                "where table_name like 'raw.sensor__%%'"
            ).fetchall()
        )
    assert dimensions["raw.sensor__hydrology:realtime:offline"] == "timeliness"
    assert dimensions["raw.sensor__hydrology:realtime:stuck"] == "accuracy"
