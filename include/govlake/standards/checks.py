"""Check algorithms of the national identifier standards the catalog's data elements name.

* ``gb11643`` — GB 11643-1999 citizen identity number (公民身份号码): 6-digit area code,
  8-digit birth date, 3-digit sequence (odd = male, even = female) and a check character
  computed with ISO 7064 MOD 11-2.
* ``gb32100`` — GB 32100-2015 unified social credit code (统一社会信用代码): registration
  authority, category, 6-digit administrative division, 9-character organisation code
  (GB 11714, with its own check character) and a MOD 31 check character. The division
  is only checked to be 6 digits: central registrations use 100000, not a GB/T 2260 code.
* ``cn_mobile`` — a mainland Chinese mobile number: 11 digits, ``1[3-9]`` then 9 digits.

Each ``validate_*`` function returns ``None`` for a valid value, otherwise one short reason,
Chinese first with English alongside (``"校验码错误 wrong check character: expected X"``).

Decisions, so every caller gets the same answer:

* Values are checked as given: no trimming, no case folding. A lowercase ``x`` check
  character is rejected (the data element pattern is ``^\\d{17}[\\dX]$``); normalise before
  validating if a source is known to write lowercase.
* Digits are the ASCII digits 0-9 only (full-width or other Unicode digits are a wrong
  format), and a trailing newline is not ignored: the SQL functions in
  ``standards/sql/check_functions.sql`` give the same verdict and reason for every value.
* The area code (first 6 digits) must be in the GB/T 2260 code set ``gbt_2260`` — a code
  in force now or at any time since 1980, since a number keeps the code it was issued
  with — or be a residence-permit prefix of Hong Kong, Macao or Taiwan residents
  (810000, 820000, 830000). It is not checked against the birth year: numbers issued
  from 1984 on to people born long before carry the code of that later year.
* A 15-digit all-numeric identity number is reported as a legacy number (the pre-1999
  format without century and check character), not as a wrong length.
* ``validate_citizen_id(value, as_of=date)`` also rejects birth dates after ``as_of``;
  without ``as_of`` only the calendar validity of the birth date (year >= 1900) is checked.
"""

from __future__ import annotations

import re
from datetime import date

from govlake.standards.divisions import RESIDENCE_PERMIT_AREAS, division_codes

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
_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")  # used with fullmatch: ASCII only


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
    if not _ID_FORMAT.fullmatch(value):
        if value[:17].isascii() and value[:17].isdigit() and value[17] == "x":
            return "校验码应为大写X lowercase check character x, expected uppercase X"
        return "格式错误 wrong format: expected 17 digits and a digit or X"
    if value[:2] not in ID_PROVINCES:
        return f"行政区划代码无效 unknown province code {value[:2]}"
    area = value[:6]
    if area not in RESIDENCE_PERMIT_AREAS and area not in division_codes():
        return (
            f"行政区划代码不存在 unknown area code {area}: not in GB/T 2260, current or historical"
        )
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
# Registration authorities (position 1) and the categories (position 2) each one issues:
# GB 32100-2015 table 1 with the authorities A and N added since (code set
# ``gb_32100_org_type`` lists the names). Taken from consistent transcriptions of the
# table, not from the standard's own text: see the code set's note.
USCC_CATEGORIES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商/市场监管: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
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
    if category not in USCC_CATEGORIES[authority]:
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

_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # used with fullmatch: ASCII, no trailing newline


def validate_cn_mobile(value: object) -> str | None:
    """None for an 11-digit mainland mobile number (1[3-9] + 9 digits), else a reason.

    Checked as given: a ``+86`` prefix, spaces or dashes make it invalid.
    """
    if value is None or value == "":
        return "空值 empty value"
    if not isinstance(value, str):
        return f"类型错误 not a string: {type(value).__name__}"
    if not _MOBILE.fullmatch(value):
        return "手机号码格式错误 not an 11-digit mobile number starting 13-19"
    return None


CHECKS = {
    "gb11643": validate_citizen_id,
    "gb32100": validate_uscc,
    "cn_mobile": validate_cn_mobile,
}
"""The check algorithms by the names ``data_elements.yaml`` uses in ``check:``."""
