"""The simulated city of Kaiping: its departments' systems, written for real.

``simulate(scale, seed, day)`` replays a deterministic city to business day ``day`` (day 1
= 2026-11-01) and writes every departmental system: PostgreSQL/MySQL databases (police,
market, hrss, tax), dropped files (overseas, civil, natres, e-licences, emergency's
safety inspections) and the 12345 hotline store served by
:mod:`govlake.simulate.hotline_api`. Injected defects are listed in truth files. Modules:

* :mod:`~govlake.simulate.calendar` — business days, windows, working days
* :mod:`~govlake.simulate.names` — vocabularies (names, places, industries ...)
* :mod:`~govlake.simulate.city` — the model's state and day-by-day replay
* :mod:`~govlake.simulate.people`, :mod:`~govlake.simulate.economy`,
  :mod:`~govlake.simulate.registers`, :mod:`~govlake.simulate.tickets`,
  :mod:`~govlake.simulate.safety` — the departments
* :mod:`~govlake.simulate.defects` — defect kinds, rates and decisions
* :mod:`~govlake.simulate.conflicts` — cross-department conflicts with the police register
* :mod:`~govlake.simulate.schema` — catalog resources and database tables
* :mod:`~govlake.simulate.writers` — database and file writers
* :mod:`~govlake.simulate.truth` — truth and summary files
* :mod:`~govlake.simulate.run` — ``simulate()``
* :mod:`~govlake.simulate.hotline_api` — the 12345 store and REST API
"""

from govlake.simulate.calendar import business_date, history_start
from govlake.simulate.run import SimulationResult, file_path, simulate

__all__ = ["SimulationResult", "business_date", "file_path", "history_start", "simulate"]
