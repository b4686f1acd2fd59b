"""Check one value against a data element's value domain, a check algorithm or a code set.

``value_problem(registry, target, value)`` returns None when the value is valid, else
the reason (Chinese, then English). ``target`` is a data element id (its type, check
algorithm, pattern, code set and range all apply, in that order), a check algorithm name
(``gb11643``, ``gb32100``, ``cn_mobile``) or a code set id.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from govlake.standards.checks import CHECKS, validate_citizen_id
from govlake.standards.model import Element, Registry


class UnknownTarget(KeyError):
    """Neither a data element, a check algorithm nor a code set."""


def _type_problem(element: Element, value: str) -> str | None:
    try:
        if element.type == "integer":
            int(value)
        elif element.type == "decimal":
            Decimal(value)
            if not Decimal(value).is_finite():
                raise InvalidOperation
        elif element.type == "date":
            date.fromisoformat(value)
        elif element.type == "timestamp":
            datetime.fromisoformat(value)
        elif element.type == "boolean" and value.lower() not in ("true", "false", "1", "0"):
            raise ValueError
    except (ValueError, InvalidOperation):
        return f"类型错误 not a valid {element.type}: {value!r}"
    return None


def _check(algorithm: str, value: str, as_of: date | None) -> str | None:
    if algorithm == "gb11643":
        return validate_citizen_id(value, as_of=as_of)
    return CHECKS[algorithm](value)


def element_problem(
    registry: Registry, element: Element, value: str, as_of: date | None = None
) -> str | None:
    if value == "":
        return "空值 empty value"
    problem = _type_problem(element, value)
    if problem:
        return problem
    if element.check:
        problem = _check(element.check, value, as_of)
        if problem:
            return problem
    if element.pattern and not re.fullmatch(element.pattern, value):
        return f"格式不符 does not match the pattern {element.pattern}"
    if element.code_set:
        code_set = registry.code_sets[element.code_set]
        if value not in code_set.codes():
            return f"不在代码集中 not a code of {element.code_set} ({code_set.name_zh})"
    if element.range_min is not None or element.range_max is not None:
        number = Decimal(value)
        if element.range_min is not None and number < Decimal(str(element.range_min)):
            return f"超出范围 below the minimum {element.range_min}"
        if element.range_max is not None and number > Decimal(str(element.range_max)):
            return f"超出范围 above the maximum {element.range_max}"
    return None


def value_problem(
    registry: Registry, target: str, value: str, as_of: date | None = None
) -> str | None:
    """None when ``value`` is valid for ``target``, else the reason."""
    if target in registry.elements:
        return element_problem(registry, registry.elements[target], value, as_of)
    if target in CHECKS:
        return _check(target, value, as_of)
    if target in registry.code_sets:
        code_set = registry.code_sets[target]
        if value in code_set.codes():
            return None
        return f"不在代码集中 not a code of {target} ({code_set.name_zh})"
    raise UnknownTarget(target)
