"""Check algorithms of the national identifier standards the catalog's data elements name.

* ``gb11643`` — GB 11643-1999 citizen identity number (公民身份号码): 6-digit area code,
  8-digit birth date, 3-digit sequence (odd = male, even = female) and a check character
  computed with ISO 7064 MOD 11-2.
* ``gb32100`` — GB 32100-2015 unified social credit code (统一社会信用代码): registration
  authority, category, 6-digit administrative division, 9-character organisation code
  (GB 11714, with its own check character) and a MOD 31 check character.
* ``cn_mobile`` — a mainland Chinese mobile number: 11 digits, ``1[3-9]`` then 9 digits.

Each ``validate_*`` function returns ``None`` for a valid value, otherwise one short reason,
Chinese first with English alongside (``"校验码错误 wrong check character: expected X"``).

Decisions, so every caller gets the same answer:

* Values are checked as given: no trimming, no case folding. A lowercase ``x`` check
  character is rejected (the data element pattern is ``^\\d{17}[\\dX]$``); normalise before
  validating if a source is known to write lowercase.
* A 15-digit all-numeric identity number is reported as a legacy number (the pre-1999
  format without century and check character), not as a wrong length.
* ``validate_citizen_id(value, as_of=date)`` also rejects birth dates after ``as_of``;
  without ``as_of`` only the calendar validity of the birth date (year >= 1900) is checked.
"""

from __future__ import annotations

import re
from datetime import date

# --- GB 11643-1999 citizen identity number --------------------------------------------

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_MAP = "10X98765432"  # index = weighted sum mod 11
# Province-level prefixes of GB/T 2260 (81/82/83: residence permits of Hong Kong, Macao
# and Taiwan residents, which use the same number format).
ID_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
_ID_FORMAT = re.compile(r"^\d{17}[\dX]$")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') of the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_MAP[total % 11]


def id_birth_date(value: str) -> date | None:
    """The birth date encoded in an 18-character identity number, None when not a date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def validate_citizen_id(value: object, as_of: date | None = None) -> str | None:
    """None when ``value`` is a valid 18-character citizen identity number, else a reason."""
    if value is None or value == "":
        return "空值 empty value"
    if not isinstance(value, str):
        return f"类型错误 not a string: {type(value).__name__}"
    if len(value) == 15 and value.isascii() and value.isdigit():
        return "15位旧号码 legacy 15-digit number (pre-1999 format, no check character)"
    if len(value) != 18:
        return f"长度错误 wrong length: {len(value)} characters, expected 18"
    if not _ID_FORMAT.match(value):
        if value[:17].isascii() and value[:17].isdigit() and value[17] == "x":
            return "校验码应为大写X lowercase check character x, expected uppercase X"
        return "格式错误 wrong format: expected 17 digits and a digit or X"
    if value[:2] not in ID_PROVINCES:
        return f"行政区划代码无效 unknown province code {value[:2]}"
    birth = id_birth_date(value)
    if birth is None or birth.year < 1900:
        return f"出生日期无效 invalid birth date {value[6:14]}"
    if as_of is not None and birth > as_of:
        return f"出生日期晚于当前日期 birth date {birth.isoformat()} after {as_of.isoformat()}"
    expected = id_check_char(value[:17])
    if value[17] != expected:
        return f"校验码错误 wrong check character: expected {expected}"
    return None


# --- GB 32100-2015 unified social credit code ------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
# Registration authorities (position 1) and the categories (position 2) each one issues.
# None: the standard leaves the categories to that authority.
USCC_CATEGORIES: dict[str, str | None] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": None,  # 外交
    "3": None,  # 司法行政
    "4": None,  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": None,  # 旅游
    "7": None,  # 宗教
    "8": None,  # 工会
    "9": "123",  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
    "A": None,  # 中央军委改革和编制办公室
    "N": None,  # 农业
    "Y": "1",  # 其他
}

# GB 11714-1997 organisation code: 8 characters (digits, uppercase letters) + check.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10  # A=10 ... Z=35


def org_code_check_char(first8: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(first8) != 8 or not all(c.isdigit() or "A" <= c <= "Z" for c in first8):
        raise ValueError(f"need 8 digits or uppercase letters, got {first8!r}")
    total = sum(_org_value(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character (MOD 31) of the first 17 characters."""
    if len(first17) != 17 or any(c not in _USCC_VALUE for c in first17):
        raise ValueError(f"need 17 characters of {USCC_ALPHABET}, got {first17!r}")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: object) -> str | None:
    """None when ``value`` is a valid unified social credit code, else a reason."""
    if value is None or value == "":
        return "空值 empty value"
    if not isinstance(value, str):
        return f"类型错误 not a string: {type(value).__name__}"
    if len(value) != 18:
        return f"长度错误 wrong length: {len(value)} characters, expected 18"
    bad = [c for c in value if c not in _USCC_VALUE]
    if bad:
        return f"非法字符 characters outside the code alphabet: {''.join(bad)}"
    authority, category = value[0], value[1]
    if authority not in USCC_CATEGORIES:
        return f"登记管理部门代码无效 unknown registration authority {authority}"
    allowed = USCC_CATEGORIES[authority]
    if allowed is not None and category not in allowed:
        return f"机构类别代码无效 category {category} not issued by authority {authority}"
    if not value[2:8].isdigit():
        return f"行政区划码无效 division code {value[2:8]} is not 6 digits"
    org_expected = org_code_check_char(value[8:16])
    if value[16] != org_expected:
        return (
            "组织机构代码校验码错误 wrong organisation-code check character: "
            f"expected {org_expected}"
        )
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        return f"校验码错误 wrong check character: expected {expected}"
    return None


# --- mainland mobile numbers -----------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def validate_cn_mobile(value: object) -> str | None:
    """None for an 11-digit mainland mobile number (1[3-9] + 9 digits), else a reason.

    Checked as given: a ``+86`` prefix, spaces or dashes make it invalid.
    """
    if value is None or value == "":
        return "空值 empty value"
    if not isinstance(value, str):
        return f"类型错误 not a string: {type(value).__name__}"
    if not _MOBILE.match(value) or not value.isascii():
        return "手机号码格式错误 not an 11-digit mobile number starting 13-19"
    return None


CHECKS = {
    "gb11643": validate_citizen_id,
    "gb32100": validate_uscc,
    "cn_mobile": validate_cn_mobile,
}
"""The check algorithms by the names ``data_elements.yaml`` uses in ``check:``."""
