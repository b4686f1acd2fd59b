"""Cross-department conflicts (多元校核): person attributes other departments record wrongly.

"One datum, one source" (一数一源): a person's name, sex and town are the police register's
(the authoritative source); other departments hold copies. The ``conflict`` defect kind
(see :mod:`govlake.simulate.defects`) makes another department's copy disagree with the
register, in a way departments really get it wrong:

* hrss ``social_insurance.name`` — one character of the given name replaced by a
  homophone (同音字: 建→健, 丽→莉, 婷→亭 ...), as when a name is taken down by ear;
* civil ``low_income.town_code`` — another town than the police register's;
* overseas ``overseas_chinese.sex`` — the other sex ('1' ↔ '2').

The conflicting value is always a valid value (it loads; only a cross-check against the
register finds it). Only rows that agree with the register to begin with, and whose
person's police record currently carries no defect and has no duplicate, are eligible: so
every injected conflict can be found by joining on ``id_number`` to one clean police row.
The truth file records the police value as ``authoritative_value`` and the person's
``id_number`` (:func:`truth_extra`).

Not injected, hence not in the truth file: a low-income recipient whose household moved
within the city after the assistance started keeps the town civil affairs registered
(the register moved on, civil affairs did not hear of it) — a natural disagreement a
cross-check also finds, explained by the police ``residence_move`` records.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from govlake.simulate.city import City
    from govlake.simulate.people import Person

AUTHORITY = "police.person"
# resource -> the field another department records for a police person (same name there)
CONFLICT_FIELDS = {
    "hrss.social_insurance": "name",
    "civil.low_income": "town_code",
    "overseas.overseas_chinese": "sex",
}
# resource -> the police person a record is about (person_id), or None
PERSON_OF: dict[str, Callable[[object], str | None]] = {
    "hrss.social_insurance": lambda record: record.job.person_id,
    "civil.low_income": lambda record: record.person_id,
    "overseas.overseas_chinese": lambda record: record.person_id,
}

# Given-name characters of :mod:`govlake.simulate.names` and their homophones (same pinyin
# and tone), all encodable in GBK.
HOMOPHONES = {
    "国": "帼", "建": "健剑", "华": "骅", "伟": "玮炜", "明": "铭鸣", "强": "蔷", "荣": "容蓉",
    "耀": "曜", "锦": "瑾", "炳": "秉", "灿": "璨", "汉": "瀚", "德": "得", "添": "天",
    "棠": "堂", "全": "泉权", "坤": "昆", "基": "机", "文": "雯", "新": "欣鑫", "成": "诚",
    "胜": "盛", "志": "智", "辉": "晖徽", "振": "震镇", "礼": "理", "祥": "翔",
    "英": "瑛", "玉": "钰", "凤": "奉", "桂": "贵", "秀": "琇", "燕": "艳雁", "丽": "莉俐",
    "芳": "方", "娟": "鹃", "兰": "蓝岚", "珍": "贞", "霞": "侠", "彩": "采", "娇": "姣",
    "月": "悦", "好": "郝", "爱": "艾", "金": "津", "银": "寅", "带": "黛", "妹": "媚",
    "卿": "清青", "婵": "蝉",
    "浩": "昊皓", "宇": "羽", "轩": "宣", "俊": "骏峻", "杰": "洁捷", "嘉": "佳家",
    "铭": "明", "睿": "瑞", "博": "柏", "豪": "毫", "健": "建", "鸿": "宏洪", "晖": "辉",
    "泽": "择", "皓": "浩", "宏": "鸿", "锐": "瑞", "鹏": "朋", "毅": "益艺", "航": "杭",
    "彬": "斌", "涛": "滔", "勇": "永", "斌": "彬",
    "欣": "馨", "婷": "亭庭", "怡": "仪宜", "琳": "林霖", "诗": "施", "颖": "影", "思": "丝",
    "佳": "嘉", "倩": "茜", "妍": "研", "琪": "淇琦", "悦": "月", "蕾": "磊", "瑶": "遥",
    "敏": "闽", "洁": "杰", "静": "婧", "雯": "文", "慧": "惠蕙", "婉": "琬", "晓": "筱",
    "彤": "桐", "茵": "音",
}  # fmt: skip


def person_of(city: City, resource: str, key: str) -> Person | None:
    """The police person the record ``key`` of ``resource`` is about, if any."""
    person_id = PERSON_OF[resource](city.records(resource)[key])
    return city.persons[person_id] if person_id else None


def homophone_name(name: str, rng: random.Random) -> str | None:
    """``name`` with one given-name character replaced by a homophone (None: none known)."""
    from govlake.simulate.names import surname_of

    start = len(surname_of(name))
    places = [i for i in range(start, len(name)) if name[i] in HOMOPHONES]
    if not places:
        return None
    place = rng.choice(places)
    return name[:place] + rng.choice(HOMOPHONES[name[place]]) + name[place + 1 :]


def can_conflict(field: str, value: object) -> bool:
    """Whether :func:`conflict_value` can give a value for the register's ``value``."""
    if field == "name":
        from govlake.simulate.names import surname_of

        name = str(value)
        return any(c in HOMOPHONES for c in name[len(surname_of(name)) :])
    return field == "town_code" or str(value) in ("1", "2")


def conflict_value(field: str, value: object, rng: random.Random, town_codes) -> object | None:
    """The other department's value of ``field`` for the register's ``value`` (or None)."""
    if field == "name":
        return homophone_name(str(value), rng)
    if field == "sex":
        return {"1": "2", "2": "1"}.get(str(value))
    if field == "town_code":
        return rng.choice([code for code in town_codes if code != value])
    raise ValueError(field)


def truth_extra(city: City, person_id: str, field: str, value: object) -> dict | None:
    """The truth record's extra keys of a conflict: the police value and the id number.

    None when the register now agrees with the delivered value (the police record changed
    since the conflict was injected): there is no conflict left to find.
    """
    person = city.persons[person_id]
    authoritative = getattr(person, field)
    if authoritative == value:
        return None
    return {"authoritative_value": authoritative, "id_number": person.id_number}
