"""National and local data standards: check algorithms of identifiers (GB 11643, GB 32100)."""

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
