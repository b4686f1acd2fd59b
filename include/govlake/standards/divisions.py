"""GB/T 2260 administrative division codes, as the citizen-ID check needs them.

The codes come from the code set ``gbt_2260`` (``code_sets/gbt_2260.csv``): every code in
force now or at any time since 1980. The SQL check functions read the same CSV, loaded
into ``standards.gbt_2260``, so Python and SQL decide on the same list.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from govlake import config

GBT_2260_FILE = "gbt_2260.csv"
# Hong Kong, Macao and Taiwan residents' residence permits (港澳台居民居住证) carry an
# identity number of the GB 11643 format with these area codes; 830000 is no division.
RESIDENCE_PERMIT_AREAS = frozenset({"810000", "820000", "830000"})


def gbt_2260_path(standards_root: Path | None = None) -> Path:
    return Path(standards_root or config.STANDARDS_DIR) / "code_sets" / GBT_2260_FILE


@lru_cache(maxsize=4)
def division_codes(standards_root: Path | None = None) -> frozenset[str]:
    """Every GB/T 2260 code, current and historical."""
    with gbt_2260_path(standards_root).open(encoding="utf-8", newline="") as handle:
        return frozenset(row["code"] for row in csv.DictReader(handle))
