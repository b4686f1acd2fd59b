"""Sensor streaming: the device catalog and the air quality index.

- :mod:`govlake.sensors.aqi`: HJ 633-2012 IAQI and AQI, reading the breakpoint table from
  ``include/standards/code_sets/hj_633_2012_iaqi.csv`` (the SQL function
  ``standards.iaqi`` reads the same table).
- :mod:`govlake.sensors.devices`: ``include/catalog/devices.yaml`` — device kinds, their
  metrics and valid ranges, and the fleet of stations, gauges and light poles.
- :mod:`govlake.sensors.cli`: ``govlake aqi``.
"""
