"""govlake — the Kaiping (开平市) government data platform.

The package is organised by what the data goes through: ``sources`` (departmental
systems) → ``lake`` (object store, raw batches) → ``load`` (PostgreSQL ``raw``) with
``catalog`` driving all of it, ``orchestration`` wiring it into Airflow and ``simulate``
standing in for the city's departments.
"""

import os

__version__ = "0.1.0"

# Great Expectations draws tqdm progress bars for some metric computations whatever its
# context says; the platform runs in DAG tasks and CI logs, where bars are noise. tqdm
# reads TQDM_* when it is first imported, so this is set as early as the package loads.
os.environ.setdefault("TQDM_DISABLE", "1")
