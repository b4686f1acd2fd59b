"""Airflow DAGs of the sensor stream (物联感知数据): load each committed micro-batch into
`raw.sensor__<kind>` when the consumer announces it on MQTT, refresh the sensor models,
and compact each day's micro-batches at night. See govlake.orchestration.sensor_dag and
docs/streaming.md.
"""

from __future__ import annotations

from govlake.orchestration.sensor_dag import build_sensor_compaction_dag, build_sensor_load_dag

load_sensor_batches = build_sensor_load_dag()
compact_sensor_batches = build_sensor_compaction_dag()
