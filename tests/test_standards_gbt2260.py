"""The GB/T 2260 code set: built from the pinned packages, right about Kaiping.

Also records where a well-kept library, python-stdnum, differs from the standards'
checks (its ``cn.ric`` and ``cn.uscc``), so that nobody swaps it in unawares.
"""

from __future__ import annotations

import pytest
from govlake import config
from govlake.simulate.names import DIVISION, OTHER_AREAS
from govlake.standards.checks import id_check_char, validate_citizen_id, validate_uscc
from govlake.standards.files import read_csv
from govlake.standards.gbt2260_build import COLUMNS, NOT_DIVISIONS, build_rows
from stdnum.cn import ric, uscc


def _rows() -> dict[str, dict[str, str]]:
    header, rows = read_csv(config.STANDARDS_DIR / "code_sets" / "gbt_2260.csv")
    assert tuple(header) == COLUMNS
    return {row["code"]: row for row in rows}


def test_the_csv_is_what_the_pinned_packages_give():
    assert list(_rows().values()) == build_rows(), (
        "gbt_2260.csv differs from its sources: run python -m govlake.standards.gbt2260_build"
    )


def test_kaiping_current_and_historical_codes():
    rows = _rows()
    assert rows["440783"]["name"] == "开平市" and rows["440783"]["status"] == "current"
    assert rows["440700"]["name"] == "江门市" and rows["440700"]["level"] == "prefecture"
    assert rows["440783"]["parent_code"] == "440700"
    county = rows["440724"]
    assert (county["name"], county["valid_from"], county["valid_to"]) == ("开平县", "1983", "1992")
    assert rows["449007"]["name"] == "开平市" and rows["449007"]["valid_to"] == "1994"
    assert rows["442729"]["name"] == "开平县" and rows["442729"]["status"] == "historical"
    assert rows["440106"]["history"] == "1985-1987 芳村区; 1988- 天河区"


def test_all_of_guangdong_at_county_level():
    rows = _rows()
    guangdong = [r for c, r in rows.items() if c.startswith("44")]
    current_counties = [
        r
        for r in guangdong
        if r["level"] == "county" and r["status"] == "current" and r["name"] != "市辖区"
    ]
    # 21 prefecture-level cities with 122 county-level divisions in the 2020 list
    assert (
        len([r for r in guangdong if r["level"] == "prefecture" and r["status"] == "current"]) == 21
    )
    assert len(current_counties) == 122
    assert len(guangdong) > 400  # with the historical ones


def test_codes_the_simulator_uses_are_current():
    rows = _rows()
    for code in [DIVISION] + [code for code, _, _ in OTHER_AREAS]:
        assert rows[code]["status"] == "current", code


def test_830000_is_a_permit_prefix_not_a_division():
    rows = _rows()
    assert "830000" not in rows and "830000" in NOT_DIVISIONS
    assert rows["710000"]["name"] == "台湾省"
    first17 = "83000019800101001"
    assert validate_citizen_id(first17 + id_check_char(first17)) is None


# --- python-stdnum compared with the standards ---------------------------------------------


def _id(area: str, birth: str, sequence: str = "001") -> str:
    first17 = area + birth + sequence
    return first17 + id_check_char(first17)


@pytest.mark.parametrize(
    ("value", "ours", "stdnum_says"),
    [
        # stdnum wants the area code in force in the birth year; GB 11643 numbers carry the
        # code of the place where the number was issued, so older people born before their
        # county's code existed have valid numbers it rejects
        (_id("440783", "19501231"), None, False),
        (_id("440724", "19950101"), None, False),
        # stdnum upper-cases and strips separators before checking; we check as given
        ("11010519491231002x", "uppercase X", True),
        (" 11010519491231002X", "wrong length", True),
        # stdnum has no legacy-number reason, no 1900 floor and no residence permits
        ("110105491231002", "legacy 15-digit", False),
        (_id("110105", "18991231"), "invalid birth date", True),
        (_id("830000", "19800101"), None, False),
        # both agree
        ("11010519491231002X", None, True),
        (_id("440783", "19990230"), "invalid birth date", False),
        # an unknown county code in a known province makes stdnum 2.2 raise KeyError
        (_id("449999", "19900101"), "unknown area code", KeyError),
    ],
)
def test_stdnum_ric_differences_are_recorded(value, ours, stdnum_says):
    reason = validate_citizen_id(value)
    assert (reason is None) if ours is None else (ours in reason)
    if stdnum_says is KeyError:
        with pytest.raises(KeyError):
            ric.is_valid(value)
    else:
        assert ric.is_valid(value) is stdnum_says


@pytest.mark.parametrize(
    ("value", "ours", "stdnum_says"),
    [
        ("91350100M000100Y43", None, True),
        # stdnum requires 8 leading digits: GB 32100 authorities A, N and Y are letters
        ("N2440783" + "MA0000XA" + "8" + "8", None, None),
        # stdnum checks neither the authority/category table nor the organisation code
        ("94350100M000100Y43", "category 4 not issued by authority 9", None),
        ("91350100M000100Y53", "organisation-code check character", None),
        # stdnum upper-cases first
        ("91350100m000100y43", "outside the code alphabet", True),
    ],
)
def test_stdnum_uscc_differences_are_recorded(value, ours, stdnum_says):
    from govlake.standards.checks import org_code_check_char, uscc_check_char

    if value.startswith("N2"):
        body = value[8:16]
        first17 = value[:8] + body + org_code_check_char(body)
        value = first17 + uscc_check_char(first17)
    reason = validate_uscc(value)
    assert (reason is None) if ours is None else (ours in reason)
    if stdnum_says is None:  # what stdnum says depends on the check character it computes
        stdnum_says = value[:8].isdigit() and uscc.calc_check_digit(value[:17]) == value[17]
    assert uscc.is_valid(value) is stdnum_says
