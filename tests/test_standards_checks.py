"""Check algorithms of GB 11643 (citizen ID), GB 32100 (USCC) and mobile numbers."""

from __future__ import annotations

import itertools
import random
from datetime import date

import pytest
import yaml
from govlake import config
from govlake.standards import (
    CHECKS,
    id_check_char,
    org_code_check_char,
    uscc_check_char,
    validate_citizen_id,
    validate_cn_mobile,
    validate_uscc,
)
from govlake.standards.checks import USCC_ALPHABET

# --- GB 11643 citizen identity numbers ------------------------------------------------------


def test_the_standards_own_example_is_valid():
    # GB 11643-1999, appendix: 11010519491231002X (check character X)
    assert id_check_char("11010519491231002") == "X"
    assert validate_citizen_id("11010519491231002X") is None


@pytest.mark.parametrize(
    "value",
    [
        "440783199011238279",  # Kaiping, male (odd sequence)
        "440783196502274828",  # Kaiping, female
        "44078319440413825X",  # check character X
        "440106200002291234"[:17] + id_check_char("44010620000229123"),  # 29 Feb of a leap year
    ],
)
def test_valid_identity_numbers(value):
    assert validate_citizen_id(value) is None


def test_check_character_by_hand():
    # weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, sum mod 11 -> "10X98765432"
    first17 = "44078319901123827"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    assert id_check_char(first17) == "10X98765432"[total % 11] == "9"


def test_every_check_character_occurs_and_validates():
    rng = random.Random(11643)
    seen = set()
    for _ in range(2000):
        first17 = "440783" + f"{rng.randint(1930, 2020)}0615" + f"{rng.randrange(1000):03d}"
        char = id_check_char(first17)
        seen.add(char)
        assert validate_citizen_id(first17 + char) is None
        wrong = next(c for c in "0123456789X" if c != char)
        assert (
            validate_citizen_id(first17 + wrong)
            == f"校验码错误 wrong check character: expected {char}"
        )
    assert seen == set("0123456789X")


def test_lowercase_x_is_rejected_not_normalised():
    reason = validate_citizen_id("11010519491231002x")
    assert reason is not None and "uppercase X" in reason


def test_fifteen_digit_numbers_are_reported_as_legacy():
    reason = validate_citizen_id("110105491231002")
    assert reason is not None and reason.startswith("15位旧号码") and "legacy" in reason


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("44078319990230001", "invalid birth date 19990230"),  # 30 February
        ("44078320230229001", "invalid birth date 20230229"),  # not a leap year
        ("44078319991301001", "invalid birth date 19991301"),  # month 13
        ("44078318991231001", "invalid birth date 18991231"),  # before 1900
    ],
)
def test_impossible_birth_dates(first17, expected):
    value = first17 + id_check_char(first17)  # a correct check character does not save it
    reason = validate_citizen_id(value)
    assert reason is not None and expected in reason


def test_birth_date_after_as_of_is_rejected_only_when_asked():
    first17 = "44078320270101001"
    value = first17 + id_check_char(first17)
    assert validate_citizen_id(value) is None
    assert "after 2026-11-01" in validate_citizen_id(value, as_of=date(2026, 11, 1))


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "empty"),
        ("", "empty"),
        (440783199011238279, "not a string"),
        ("44078319901123827", "wrong length: 17"),
        ("4407831990112382790", "wrong length: 19"),
        ("44078319901123827A", "wrong format"),
        ("4407831990112382 9", "wrong format"),
        (" 44078319901123827", "wrong format"),
        ("990783199011238279", "unknown province code 99"),
        ("440783199011238270", "expected 9"),
    ],
)
def test_invalid_identity_numbers(value, fragment):
    reason = validate_citizen_id(value)
    assert reason is not None and fragment in reason


def test_id_check_char_needs_17_digits():
    with pytest.raises(ValueError):
        id_check_char("4407831990112382")
    with pytest.raises(ValueError):
        id_check_char("4407831990112382X")


# --- GB 32100 unified social credit codes ---------------------------------------------------


def test_a_real_format_uscc_is_valid():
    assert org_code_check_char("M000100Y") == "4"
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert validate_uscc("91350100M000100Y43") is None


def test_gb11714_organisation_code_example():
    # GB 11714's example organisation code D2143569-X
    assert org_code_check_char("D2143569") == "X"


def _uscc(prefix: str, body: str) -> str:
    first17 = prefix + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


@pytest.mark.parametrize(
    ("prefix", "body"),
    [
        ("91440783", "MA4UXK1B"),  # enterprise, Kaiping
        ("92440783", "L1234567"),  # individual business
        ("93440783", "MA1QTRAY"),  # farmers' cooperative
        ("12440783", "45678901"),  # public institution (机构编制, 事业单位)
        ("51440783", "MJ0000A1"),  # social organisation (民政)
        ("Y1440783", "MA00001R"),
    ],
)
def test_computed_codes_are_valid(prefix, body):
    assert validate_uscc(_uscc(prefix, body)) is None


def test_check_character_31_maps_to_0():
    # find a body whose weighted sum is a multiple of 31: the check is then "0", not "Y"+1
    for body in ("".join(p) for p in itertools.product("0123456789", repeat=4)):
        first17 = "91440783" + body + "0000" + "0"
        weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
        total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True))
        if total % 31 == 0:
            assert uscc_check_char(first17) == "0"
            return
    pytest.fail("no body with a weighted sum divisible by 31 found")


def test_every_uscc_check_character_occurs():
    rng = random.Random(32100)
    seen = set()
    for _ in range(3000):
        body = "".join(rng.choice(USCC_ALPHABET) for _ in range(8))
        value = _uscc("91440783", body)
        assert validate_uscc(value) is None
        seen.add(value[-1])
    assert seen == set(USCC_ALPHABET)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (None, "empty"),
        ("", "empty"),
        ("91350100M000100Y4", "wrong length: 17"),
        ("91350100M000100Y44", "wrong check character: expected 3"),
        ("91350100m000100y43", "outside the code alphabet: my"),
        ("91350100M0001O0Y43", "outside the code alphabet: O"),
        ("B1350100M000100Y43", "unknown registration authority B"),
        ("94350100M000100Y43", "category 4 not issued by authority 9"),
        ("913501A0M000100Y43", "division code 3501A0"),
        ("91350100M000100Y53", "wrong organisation-code check character: expected 4"),
    ],
)
def test_invalid_usccs(value, fragment):
    reason = validate_uscc(value)
    assert reason is not None and fragment in reason


def test_uscc_check_char_rejects_characters_outside_the_alphabet():
    with pytest.raises(ValueError):
        uscc_check_char("91350100M000100I4")


# --- mobile numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13800138000", "19912345678", "16612345678", "15012345678"])
def test_valid_mobiles(value):
    assert validate_cn_mobile(value) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "12345678901",
        "1380013800",
        "138001380000",
        "+8613800138000",
        "138-0013-8000",
        "０１３８００１３８００",
        13800138000,
        "0750-2212345",
    ],
)
def test_invalid_mobiles(value):
    assert validate_cn_mobile(value) is not None


def test_checks_cover_the_data_elements():
    elements = yaml.safe_load((config.STANDARDS_DIR / "data_elements.yaml").read_text("utf-8"))
    used = {e["check"] for e in elements["data_elements"] if "check" in e}
    assert used <= set(CHECKS)


# --- added with the GB/T 2260 area check ---------------------------------------------------


@pytest.mark.parametrize(
    "area",
    ["440783", "440724", "449007", "442729", "440106", "710000", "810000", "820000", "830000"],
)
def test_current_historical_and_permit_area_codes_are_accepted(area):
    first17 = area + "19800101001"
    assert validate_citizen_id(first17 + id_check_char(first17)) is None


@pytest.mark.parametrize("area", ["449999", "440799", "110099", "319901"])
def test_area_codes_never_in_gbt_2260_are_rejected(area):
    first17 = area + "19800101001"
    reason = validate_citizen_id(first17 + id_check_char(first17))
    assert reason == (
        f"行政区划代码不存在 unknown area code {area}: not in GB/T 2260, current or historical"
    )


def test_only_ascii_digits_count():
    # full-width digits are a wrong format (Python's \d would have taken them)
    assert "wrong format" in validate_citizen_id("１１０１０５１９４９１２３１００２Ｘ"[:17] + "X")
    assert validate_cn_mobile("13800138000\n") is not None  # no trailing newline either


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("21", None), ("35", None), ("62", None), ("72", None), ("81", None), ("A1", None),
     ("N3", None), ("29", None), ("22", "category 2 not issued by authority 2"),
     ("36", "category 6 not issued by authority 3"), ("Y9", "category 9 not issued by authority Y"),
     ("B1", "unknown registration authority B")],
)  # fmt: skip
def test_every_authority_has_its_own_categories(prefix, expected):
    reason = validate_uscc(_uscc(prefix + "440783", "MA4UXK1B"))
    assert reason is None if expected is None else expected in reason
