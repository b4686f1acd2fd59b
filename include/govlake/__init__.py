"""govlake — the Kaiping (开平市) government data platform.

The package is organised by what the data goes through: ``sources`` (departmental
systems) → ``lake`` (object store, raw batches) → ``load`` (PostgreSQL ``raw``) with
``catalog`` driving all of it, ``orchestration`` wiring it into Airflow and ``simulate``
standing in for the city's departments.
"""

__version__ = "0.1.0"
