"""Mask sensitive values before they are shown: audit samples, failing values, data docs.

A column's sensitivity grade (L1-L4, from its data element) decides: L1 and L2 values are
shown as they are; L3 and L4 values are masked, keeping their length and just enough of
them for a department to recognise its own record:

- citizen identity numbers (18 characters, the legacy 15 digits, or malformed ones of 16
  or 17): the first 6 (the area code) and the last 1 — ``440783***********X``;
- telephone numbers: the first 3 and the last 4 — ``138****5678``;
- personal names (2-4 Chinese characters): the surname character — ``关**``;
- anything else: the first and the last character — ``开********号``.

A grade this module does not know is treated as sensitive: masking too much is the safe
mistake.
"""

from __future__ import annotations

import re
from typing import Any

MASK_CHAR = "*"
OPEN_GRADES = frozenset({"L1", "L2"})
SENSITIVE_GRADES = frozenset({"L3", "L4"})

# 15-18 characters: the legacy 15 digits, the 18 of GB 11643, and the malformed ones between
_IDENTITY_NUMBER = re.compile(r"[0-9]{14,17}[0-9Xx]")
_PHONE = re.compile(  # mainland mobile (+86 optional) or landline with its area code
    r"(?:\+?86[ -]?)?1[3-9][0-9]{9}|0[0-9]{2,3}[ -]?[0-9]{7,8}"
)
_CJK_NAME = re.compile(r"[\u3400-\u9fff\uf900-\ufaff·]{2,4}")


def is_sensitive(grade: str | None) -> bool:
    """Whether values of this grade are masked (L3, L4 and any unknown grade)."""
    return (grade or "").strip().upper() not in OPEN_GRADES


def _keep(text: str, head: int, tail: int) -> str:
    hidden = len(text) - head - tail
    if hidden <= 0:  # too short to keep both ends: keep the first character only
        return text[:1] + MASK_CHAR * (len(text) - 1)
    return text[:head] + MASK_CHAR * hidden + text[len(text) - tail :]


def mask_text(text: str) -> str:
    """Mask a sensitive value's text, keeping its length (see the module's rules)."""
    if not text:
        return text
    if _IDENTITY_NUMBER.fullmatch(text):
        return _keep(text, 6, 1)
    if _PHONE.fullmatch(text):
        return _keep(text, 3, 4)
    if _CJK_NAME.fullmatch(text):
        return text[0] + MASK_CHAR * (len(text) - 1)
    if len(text) == 1:
        return MASK_CHAR
    return _keep(text, 1, 1)


def mask(value: Any, grade: str | None) -> Any:
    """``value`` as it may be shown for a column of ``grade``.

    L1/L2: unchanged (whatever its type). L3/L4: its text, masked; ``None`` stays ``None``.
    """
    if value is None or not is_sensitive(grade):
        return value
    return mask_text(str(value))
