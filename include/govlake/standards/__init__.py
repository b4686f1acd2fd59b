"""National and local data standards (数据标准).

* ``checks`` — check algorithms of identifiers (GB 11643, GB 32100, mobile numbers); the
  same algorithms in SQL are ``sql/check_functions.sql``, installed by ``check_sql``.
* ``registry`` — code sets, data elements, business terms and departmental mappings under
  ``include/standards/``: ``files`` reads and writes them, ``validate`` checks them,
  ``edit`` changes them, ``exchange`` imports and exports CSV and Excel, ``governance``
  loads them into the governance schema, ``search`` and ``domain`` answer the CLI
  (``cli``, registered as ``govlake standards``).
"""

from govlake.standards.checks import (
    CHECKS,
    id_check_char,
    org_code_check_char,
    uscc_check_char,
    validate_citizen_id,
    validate_cn_mobile,
    validate_uscc,
)

__all__ = [
    "CHECKS",
    "id_check_char",
    "org_code_check_char",
    "uscc_check_char",
    "validate_citizen_id",
    "validate_cn_mobile",
    "validate_uscc",
]
