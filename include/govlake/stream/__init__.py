"""Sensor streaming: MQTT messages into the lake with an exactly-once effect.

- ``messages``  the message contract (topic, JSON payload) and its parser
- ``devices``   the device catalog as the stream sees it (kinds, metrics, valid ranges)
- ``simulator`` Kaiping's sensors on MQTT, with faults at known rates and a truth file
- ``consumer``  the long-running consumer: micro-batches, dedup, quarantine, manual acks
- ``checks``    real-time checks over a sliding state per device and metric
- ``landing``   writing a micro-batch into the object store (Parquet + manifest)
- ``load``      loading a landed micro-batch into ``raw.sensor__<kind>``
- ``broker``    which MQTT broker to use (``GOVLAKE_MQTT_URL`` or an embedded Mosquitto)

See docs/streaming.md for the design and the exactly-once argument.
"""
