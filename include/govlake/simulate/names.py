"""Vocabularies of the simulated city: names, places, industries, countries, hotline topics.

Everything here is plain data (and a few small pickers taking an explicit
``random.Random``); nothing depends on wall-clock time or global randomness. All strings
are encodable in GBK, since some departments export GBK files.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from functools import cache

from govlake import config

CITY = "开平市"
DIVISION = "440783"  # 开平市 administrative division code (GB/T 2260)

# Common surnames of Kaiping and Jiangmen (司徒, 关, 谢, 梁 ... are typical of the county).
SURNAMES: list[tuple[str, int]] = [
    ("关", 8), ("司徒", 6), ("谢", 6), ("张", 7), ("周", 5), ("梁", 8), ("黄", 7),
    ("李", 6), ("陈", 7), ("吴", 5), ("胡", 4), ("邓", 4), ("方", 4), ("许", 3),
    ("余", 3), ("劳", 2), ("何", 3), ("甄", 2), ("谭", 4), ("钟", 2), ("冯", 2),
    ("林", 2), ("刘", 2), ("杨", 2), ("区", 2), ("欧阳", 1), ("麦", 2), ("潘", 2),
]  # fmt: skip

COMPOUND_SURNAMES = frozenset(s for s, _ in SURNAMES if len(s) == 2)

# Given-name characters by generation (born before 1975 / after) and sex.
GIVEN_OLD_MALE = "国建华伟明强荣耀锦炳灿汉德添棠根全坤基文新成发达胜志光辉振礼祥"
GIVEN_OLD_FEMALE = "英玉凤桂群秀美燕丽芳娟兰珍霞彩娇月好爱金银带妹卿婵琼"
GIVEN_NEW_MALE = "浩宇轩俊杰嘉铭睿博豪健鸿晖泽皓朗宏锐鹏毅航彬涛勇斌"
GIVEN_NEW_FEMALE = "晴欣婷怡琳诗雅颖思佳倩妍琪悦蕾瑶敏洁静雯慧婉晓彤茵"


def person_name(rng: random.Random, sex: str, birth_year: int, surname: str | None = None) -> str:
    """A Chinese name: a Kaiping surname (or ``surname``) and a generation-typical given name."""
    surname = surname or weighted(rng, SURNAMES)
    if birth_year < 1975:
        pool = GIVEN_OLD_MALE if sex == "1" else GIVEN_OLD_FEMALE
    else:
        pool = GIVEN_NEW_MALE if sex == "1" else GIVEN_NEW_FEMALE
    length = 1 if rng.random() < 0.2 else 2
    return surname + "".join(rng.choice(pool) for _ in range(length))


def surname_of(name: str) -> str:
    """The surname of a generated name (compound surnames are two characters)."""
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


def weighted(rng: random.Random, options: list[tuple]) -> object:
    """Pick the first element of one ``(value, weight, ...)`` tuple by weight."""
    total = sum(option[1] for option in options)
    point = rng.random() * total
    for option in options:
        point -= option[1]
        if point < 0:
            return option[0]
    return options[-1][0]


# --- places -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    kind: str  # 街道 or 镇


@cache
def towns() -> tuple[Town, ...]:
    """The 15 towns and subdistricts of Kaiping, from the kp_town code set."""
    path = config.STANDARDS_DIR / "code_sets" / "kp_town.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(Town(r["code"], r["name"], r["kind"]) for r in csv.DictReader(handle))


# Population weights of the towns (the two urban subdistricts hold most people).
TOWN_WEIGHTS = {
    "440783001": 22, "440783002": 14, "440783100": 5, "440783101": 9, "440783102": 4,
    "440783103": 6, "440783104": 4, "440783105": 3, "440783106": 5, "440783107": 4,
    "440783108": 6, "440783109": 5, "440783110": 5, "440783111": 3, "440783112": 5,
}  # fmt: skip

# Communities (社区) of the subdistricts and villages (村) of the towns.
LOCALITIES = {
    "440783001": ["新昌社区", "荻海社区", "迳头社区", "长堤社区", "祥龙社区", "石海社区"],
    "440783002": ["幕沙社区", "东郊社区", "西郊社区", "楼冈社区", "梁金山社区", "三江社区"],
    "440783100": ["月山村", "水井村", "桥头村", "博健村", "小海村"],
    "440783101": ["水口社区", "泮村村", "龙塘村", "后溪村", "东埠村"],
    "440783102": ["沙塘村", "塘浪村", "红进村", "三和村", "中股村"],
    "440783103": ["苍城村", "东联村", "联竹村", "西郊村", "城西村"],
    "440783104": ["龙胜村", "篁湾村", "那汶村", "安居村", "红花村"],
    "440783105": ["大沙村", "大塘村", "竹莲村", "夹水村", "联山村"],
    "440783106": ["马冈村", "龙冈村", "南屏村", "东风村", "灯龙村"],
    "440783107": ["自力村", "仓前村", "强亚村", "北义村", "四九村"],
    "440783108": ["赤坎社区", "三门里村", "永坚村", "芦阳村", "石溪村"],
    "440783109": ["百合村", "齐塘村", "马降龙村", "茅冈村", "厚山村"],
    "440783110": ["蚬冈村", "锦湖村", "东和村", "春一村", "联兴村"],
    "440783111": ["金鸡村", "大同村", "锦江村", "石坑村", "新联村"],
    "440783112": ["赤水村", "龙美村", "三溪村", "冲口村", "东溪村"],
}
ROADS = [
    "中山", "新华", "人民", "建设", "东风", "教育", "光明", "幸福", "和平", "振华",
    "民族", "长安", "迎宾", "文化", "胜利", "侨乡", "祥龙", "港口", "新兴", "永安",
]  # fmt: skip


def pick_town(rng: random.Random) -> Town:
    return weighted(rng, [(t, TOWN_WEIGHTS[t.code]) for t in towns()])


def town_by_code(code: str) -> Town:
    for town in towns():
        if town.code == code:
            return town
    raise KeyError(code)


def address(rng: random.Random, town: Town) -> str:
    """``开平市<town><village/community><road>路<n>号``."""
    locality = rng.choice(LOCALITIES[town.code])
    return f"{CITY}{town.name}{locality}{rng.choice(ROADS)}路{rng.randint(1, 188)}号"


# Places outside Kaiping: (GB/T 2260 code, name) for persons born or moving elsewhere.
OTHER_AREAS = [
    ("440703", "广东省江门市蓬江区", 5), ("440704", "广东省江门市江海区", 2),
    ("440705", "广东省江门市新会区", 4), ("440781", "广东省台山市", 5),
    ("440784", "广东省鹤山市", 2), ("440785", "广东省恩平市", 3),
    ("440106", "广东省广州市天河区", 2), ("440104", "广东省广州市越秀区", 1),
    ("440105", "广东省广州市海珠区", 1), ("440111", "广东省广州市白云区", 1),
]  # fmt: skip
MOVE_DESTINATIONS = [
    "广东省广州市天河区", "广东省广州市番禺区", "广东省深圳市宝安区", "广东省深圳市龙岗区",
    "广东省佛山市南海区", "广东省江门市蓬江区", "广东省珠海市香洲区", "广东省东莞市",
    "广东省中山市", "广东省台山市",
]  # fmt: skip

ETHNICITIES = [("01", 970), ("08", 10), ("13", 5), ("15", 5), ("06", 4), ("12", 3), ("03", 3)]

MOBILE_PREFIXES = [
    "134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
    "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133",
    "153", "180", "181", "189", "177", "199", "166", "176", "198",
]  # fmt: skip


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


# --- enterprises ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Industry:
    code: str  # GB/T 4754-2017: section letter + 4-digit class
    word: str  # what goes into a company name
    shop: str  # suffix of an individual business's name
    weight: int
    food: bool = False  # needs a 食品经营许可证


INDUSTRIES = [
    Industry("C3072", "卫浴洁具", "陶瓷厂", 6),
    Industry("C3383", "水暖卫浴", "五金厂", 7),
    Industry("C3443", "阀门", "阀门厂", 4),
    Industry("C1713", "纺织印染", "印染厂", 3),
    Industry("C1819", "制衣", "制衣厂", 4),
    Industry("C1431", "食品", "米粉厂", 2, True),
    Industry("A0111", "农业发展", "种植场", 2),
    Industry("A0141", "蔬菜种植", "菜场", 3),
    Industry("A0313", "生猪养殖", "养猪场", 2),
    Industry("A0412", "水产养殖", "鱼塘", 3),
    Industry("F5211", "百货", "百货店", 6),
    Industry("F5212", "超市", "超市", 3, True),
    Industry("F5223", "果蔬", "果蔬店", 4, True),
    Industry("H6210", "餐饮", "饭店", 7, True),
    Industry("H6220", "快餐", "快餐店", 4, True),
    Industry("H6110", "酒店", "酒店", 2, True),
    Industry("H6129", "旅馆", "旅馆", 2),
    Industry("L7291", "旅行社", "旅游服务部", 1),
    Industry("N7861", "旅游开发", "景区服务部", 1),
    Industry("E4710", "建筑工程", "建筑队", 3),
    Industry("E5012", "装饰工程", "装饰部", 3),
    Industry("G5431", "物流", "货运部", 2),
    Industry("O8111", "汽车维修", "汽车维修店", 3),
    Industry("O8040", "美发", "美发店", 2),
]

# Which industries each entity type plausibly has (codes), and the type weights.
ENTITY_TYPES = [
    ("个体工商户", 45,
     "C1819 C1431 A0141 A0412 F5211 F5212 F5223 H6210 H6220 H6129 E5012 G5431 O8111 O8040"),
    ("有限责任公司", 38,
     "C3072 C3383 C3443 C1713 C1819 C1431 A0111 A0313 F5211 F5212 H6210 H6110 H6129 L7291 "
     "N7861 E4710 E5012 G5431 O8111"),
    ("个人独资企业", 5, "C3383 C1819 F5211 F5223 H6210 E5012 G5431"),
    ("合伙企业", 2, "C3383 F5211 H6210 L7291 E5012"),
    ("股份有限公司", 2, "C3072 C3383 C3443 C1713 H6110 N7861 E4710"),
    ("农民专业合作社", 8, "A0111 A0141 A0313 A0412"),
]  # fmt: skip
# GB 32100 registration authority + category by entity type: 9 = market regulation;
# 1 = enterprise, 2 = individual business, 3 = farmers' cooperative.
USCC_PREFIX = {
    "个体工商户": "92",
    "农民专业合作社": "93",
    "有限责任公司": "91",
    "个人独资企业": "91",
    "合伙企业": "91",
    "股份有限公司": "91",
}
TRADE_NAMES = [
    "华盛",
    "金利",
    "宏达",
    "恒丰",
    "鸿运",
    "永兴",
    "嘉华",
    "富来",
    "美达",
    "骏业",
    "广源",
    "南方",
    "侨乡",
    "立园",
    "潭江",
    "开侨",
    "新昌",
    "荻海",
    "锦江",
    "百合",
    "赤坎",
    "长沙",
    "祥龙",
    "汇丰",
    "利华",
    "俊豪",
    "顺景",
    "瑞丰",
    "兴隆",
    "盛世",
    "宏图",
    "佳美",
    "金冠",
    "银河",
    "东成",
    "德信",
    "荣昌",
    "富华",
    "联兴",
    "安达",
    "海通",
    "华美",
    "雅居",
    "恒通",
    "裕丰",
    "金源",
]


def industry(code: str) -> Industry:
    for item in INDUSTRIES:
        if item.code == code:
            return item
    raise KeyError(code)


def enterprise_name(rng: random.Random, entity_type: str, ind: Industry, town: Town) -> str:
    trade = rng.choice(TRADE_NAMES)
    if entity_type == "有限责任公司":
        return f"{CITY}{trade}{ind.word}有限公司"
    if entity_type == "股份有限公司":
        return f"广东{trade}{ind.word}股份有限公司"
    if entity_type == "个人独资企业":
        return f"{CITY}{trade}{ind.word}商行"
    if entity_type == "合伙企业":
        return f"{CITY}{trade}{ind.word}中心（普通合伙）"
    if entity_type == "农民专业合作社":
        return f"{CITY}{rng.choice(LOCALITIES[town.code])}{ind.word}专业合作社"
    return f"{CITY}{town.name}{trade}{ind.shop}"


# --- overseas ---------------------------------------------------------------------------

COUNTRIES = [
    ("美国", 35, [
        "{n} Grant Ave, San Francisco, CA 94108", "{n} Stockton St, San Francisco, CA 94133",
        "{n} N Broadway, Los Angeles, CA 90012", "{n} Mott St, New York, NY 10013",
        "{n} Webster St, Oakland, CA 94607", "{n} I St, Sacramento, CA 95814",
    ]),
    ("加拿大", 15, [
        "{n} E Pender St, Vancouver, BC V6A 1V6", "{n} Dundas St W, Toronto, ON M5T 1H1",
        "{n} Fisgard St, Victoria, BC V8W 1R3",
    ]),
    ("中国香港", 15, ["香港九龙旺角弥敦道{n}号", "香港新界荃湾沙咀道{n}号", "香港北角英皇道{n}号"]),
    ("中国澳门", 5, ["澳门高士德大马路{n}号", "澳门氹仔地堡街{n}号"]),
    ("澳大利亚", 6, [
        "{n} Dixon St, Haymarket NSW 2000", "{n} Little Bourke St, Melbourne VIC 3000",
    ]),
    ("马来西亚", 4, [
        "{n} Jalan Petaling, 50000 Kuala Lumpur", "{n} Lebuh Chulia, 10200 George Town",
    ]),
    ("秘鲁", 2, ["Jr. Ucayali {n}, Lima 15001"]),
    ("新西兰", 3, ["{n} Dominion Rd, Auckland 1024"]),
    ("英国", 3, ["{n} Gerrard St, London W1D 5QD"]),
    ("新加坡", 2, ["{n} South Bridge Rd, Singapore 058700"]),
    ("巴西", 1, ["Rua {n} de Maio, Sao Paulo"]),
]  # fmt: skip
ROSTER_CATEGORIES = ["华侨", "外籍华人", "港澳同胞", "归侨", "侨眷"]


def overseas_address(rng: random.Random, country: str) -> str:
    for name, _weight, formats in COUNTRIES:
        if name == country:
            return rng.choice(formats).format(n=rng.randint(2, 1888))
    raise KeyError(country)


# --- 12345 hotline ------------------------------------------------------------------------

# category -> (weight, handling department (None: the town government), working days due,
#              request templates with {place})
HOTLINE_TOPICS: dict[str, tuple[int, str | None, int, list[str]]] = {
    "城市管理": (20, None, 5, [
        "{place}附近有流动摊贩占道经营，影响通行，请求处理。",
        "{place}路灯不亮已有多日，夜间出行不便，请尽快维修。",
        "{place}垃圾堆放多日无人清运，气味很大。",
        "{place}有商户违规设置户外广告牌，存在安全隐患。",
    ]),
    "环境保护": (10, "江门市生态环境局开平分局", 10, [
        "{place}附近工厂夜间排放刺鼻气味，请求查处。",
        "{place}附近工地夜间施工噪音扰民，影响休息。",
        "{place}河涌水体发黑发臭，怀疑有污水直排。",
    ]),
    "交通运输": (9, "开平市交通运输局", 10, [
        "{place}公交车班次太少，候车时间过长。",
        "{place}路段路面坑洼严重，请求修补。",
        "反映出租车在{place}拒载、不打表。",
    ]),
    "住房城乡建设": (10, "开平市住房和城乡建设局", 15, [
        "{place}小区物业管理不到位，电梯经常故障。",
        "{place}有人违章搭建，请求核查。",
        "{place}楼盘逾期交房，请求协调。",
    ]),
    "市场监管": (12, "开平市市场监督管理局", 7, [
        "在{place}一商店购买的商品有质量问题，商家拒绝退换。",
        "{place}一餐馆卫生条件差，请求检查。",
        "{place}一药店价格标示不清，涉嫌价格欺诈。",
    ]),
    "人力社保": (10, "开平市人力资源和社会保障局", 10, [
        "{place}一家公司拖欠工资两个月，请求帮助追讨。",
        "咨询社保卡办理和养老保险转移事宜，住址{place}。",
        "反映{place}一企业未依法为员工缴纳社会保险。",
    ]),
    "教育": (6, "开平市教育局", 10, [
        "咨询{place}附近小学的学位申请条件。",
        "反映{place}一校外培训机构收费不规范。",
    ]),
    "卫生健康": (7, "开平市卫生健康局", 7, [
        "咨询{place}附近社区卫生服务中心的疫苗接种时间。",
        "反映{place}一诊所服务态度差、收费不透明。",
    ]),
    "水务": (9, "开平市水务局", 3, [
        "{place}停水未提前通知，请求尽快恢复供水。",
        "{place}水压过低，高层住户用水困难。",
        "{place}路边水管爆裂，大量自来水外流。",
    ]),
    "民政": (4, "开平市民政局", 10, [
        "咨询低保申请的条件和办理流程，住址{place}。",
        "{place}有独居老人生活困难，请求关注。",
    ]),
    "自然资源": (3, "开平市自然资源局", 15, [
        "咨询{place}房屋不动产权证办理进度。",
        "反映{place}有人非法占用耕地建房。",
    ]),
}  # fmt: skip
