"""What the warehouse needs before dbt builds the libraries: the catalog and the standards
in ``governance``, and the check functions (``standards.citizen_id_problem`` …) the
staging models call. Idempotent; every path that runs dbt calls it first."""

from __future__ import annotations


def prepare_warehouse() -> dict[str, int]:
    from govlake.catalog.loader import default_catalog
    from govlake.governance.store import connect, sync_catalog
    from govlake.standards.check_sql import apply_check_functions
    from govlake.standards.governance import load_into_governance
    from govlake.standards.registry import load_registry

    with connect() as conn:
        counts = sync_catalog(conn, default_catalog())
        counts["check_functions"] = apply_check_functions(conn)
        counts.update(load_into_governance(conn, load_registry()))
    return counts
