"""The one rule table from an office's trade word to a Linpu trade.

A register writes trade as the office keeps it: one of Linpu's codes
(``catering``), a common Chinese name (餐饮, 中餐厅, 奶茶店), or AMap's POI
category string ``大类;中类;小类`` (``餐饮服务;中餐厅;中餐厅``; several
joined by ``|``).  :func:`trade_of` reads such a word by these rules, first
match wins:

1. a Linpu code or the Chinese name of one (``TRADE_NAMES``);
2. an exact word of ``WORDS``;
3. for an AMap string, each level from the most specific (小类, then 中类,
   then 大类) by rules 1–2, then by rule 4;
4. the first keyword of ``KEYWORDS`` the word contains (茶 → tea, 药 → pharmacy …).

The office's word is kept as the shop's trade label (:func:`label_of`; not
when it is Linpu's own code or name).  A word no rule knows gives ``None``:
the shop keeps the word as its trade label and has no Linpu trade (counted in the ingest's report as
``without_trade``); its routine checks are the general ones (electricity,
and gas when its 用气 column says so).
"""

from __future__ import annotations

from governance.catalog import Trade

#: Linpu's own Chinese name of each trade: the word shown in the UI and accepted in files.
TRADE_NAMES: dict[Trade, str] = {
    Trade.CATERING: "餐饮", Trade.SNACKS: "小吃", Trade.TEA: "茶饮", Trade.RETAIL: "零售",
    Trade.CLOTHING: "服装", Trade.CRAFTS: "文创", Trade.CONVENIENCE: "便利店", Trade.PHARMACY: "药店",
    Trade.LODGING: "民宿", Trade.ENTERTAINMENT: "娱乐", Trade.AMUSEMENT: "游乐", Trade.SERVICES: "生活服务",
}

_T = Trade
#: Exact words of registers and of AMap's categories (any level), beyond TRADE_NAMES.
WORDS: dict[str, Trade] = {
    # AMap 大类 / 中类
    "餐饮服务": _T.CATERING, "中餐厅": _T.CATERING, "外国餐厅": _T.CATERING, "快餐厅": _T.SNACKS,
    "休闲餐饮场所": _T.SNACKS, "咖啡厅": _T.TEA, "茶艺馆": _T.TEA, "冷饮店": _T.TEA, "糕饼店": _T.SNACKS,
    "甜品店": _T.SNACKS, "购物服务": _T.RETAIL, "商场": _T.RETAIL, "超级市场": _T.CONVENIENCE,
    "便民商店/便利店": _T.CONVENIENCE, "服装鞋帽皮具店": _T.CLOTHING, "专卖店": _T.RETAIL,
    "综合市场": _T.RETAIL, "文化用品店": _T.CRAFTS, "特色商业街": _T.RETAIL, "个人用品/化妆品店": _T.RETAIL,
    "医疗保健服务": _T.PHARMACY, "医药保健销售店": _T.PHARMACY, "住宿服务": _T.LODGING,
    "宾馆酒店": _T.LODGING, "旅馆招待所": _T.LODGING, "体育休闲服务": _T.ENTERTAINMENT,
    "娱乐场所": _T.ENTERTAINMENT, "休闲场所": _T.ENTERTAINMENT, "度假疗养场所": _T.LODGING,
    "生活服务": _T.SERVICES, "美容美发店": _T.SERVICES, "洗衣店": _T.SERVICES, "摄影冲印店": _T.SERVICES,
    # common names in office registers
    "餐馆": _T.CATERING, "饭店": _T.CATERING, "酒楼": _T.CATERING, "快餐": _T.SNACKS, "奶茶": _T.TEA,
    "奶茶店": _T.TEA, "茶叶": _T.TEA, "超市": _T.CONVENIENCE, "便利": _T.CONVENIENCE, "百货": _T.RETAIL,
    "服装店": _T.CLOTHING, "鞋帽": _T.CLOTHING, "文创店": _T.CRAFTS, "工艺品": _T.CRAFTS, "药房": _T.PHARMACY,
    "医药": _T.PHARMACY, "旅馆": _T.LODGING, "宾馆": _T.LODGING, "酒店": _T.LODGING, "客栈": _T.LODGING,
    "歌厅": _T.ENTERTAINMENT, "酒吧": _T.ENTERTAINMENT, "网吧": _T.ENTERTAINMENT, "游乐场": _T.AMUSEMENT,
    "游乐设施": _T.AMUSEMENT, "理发": _T.SERVICES, "美发": _T.SERVICES, "维修": _T.SERVICES,
}

#: Keywords, tried in this order, for words no exact rule knows.
KEYWORDS: tuple[tuple[str, Trade], ...] = (
    ("游乐", _T.AMUSEMENT), ("小吃", _T.SNACKS), ("奶茶", _T.TEA), ("茶", _T.TEA), ("咖啡", _T.TEA),
    ("餐", _T.CATERING), ("饭", _T.CATERING), ("面馆", _T.SNACKS), ("药", _T.PHARMACY),
    ("便利", _T.CONVENIENCE), ("超市", _T.CONVENIENCE), ("服装", _T.CLOTHING), ("服饰", _T.CLOTHING),
    ("鞋", _T.CLOTHING), ("文创", _T.CRAFTS), ("工艺", _T.CRAFTS), ("民宿", _T.LODGING), ("住宿", _T.LODGING),
    ("酒店", _T.LODGING), ("KTV", _T.ENTERTAINMENT), ("娱乐", _T.ENTERTAINMENT), ("美容", _T.SERVICES),
    ("美发", _T.SERVICES), ("购物", _T.RETAIL), ("商店", _T.RETAIL),
)

_EXACT: dict[str, Trade] = {
    **{t.value: t for t in Trade}, **{name: t for t, name in TRADE_NAMES.items()}, **WORDS,
}


def _exact(word: str) -> Trade | None:
    return _EXACT.get(word) or _EXACT.get(word.lower())


def _keyword(word: str) -> Trade | None:
    upper = word.upper()
    return next((trade for key, trade in KEYWORDS if key in upper), None)


def trade_of(word: str) -> Trade | None:
    """The Linpu trade of an office's trade word, or None when no rule knows it.

    >>> trade_of("餐饮服务;中餐厅;中餐厅"), trade_of("奶茶店"), trade_of("catering")
    (<Trade.CATERING: 'catering'>, <Trade.TEA: 'tea'>, <Trade.CATERING: 'catering'>)
    >>> trade_of("殡葬用品") is None
    True
    """
    word = word.strip()
    if not word:
        return None
    found = _exact(word)
    if found is not None:
        return found
    levels = [part.strip() for part in word.split("|")[0].split(";") if part.strip()]
    if len(levels) > 1:
        for level in reversed(levels):
            found = _exact(level)
            if found is not None:
                return found
        return next((t for t in map(_keyword, reversed(levels)) if t is not None), None)
    return _keyword(word)


def label_of(word: str) -> str | None:
    """The trade label kept for an office's word: the word itself, unless it is Linpu's own code or name.

    >>> label_of("中餐厅"), label_of("餐饮"), label_of("catering")
    ('中餐厅', None, None)
    """
    word = word.strip()
    if not word or word.lower() in {t.value for t in Trade} or word in TRADE_NAMES.values():
        return None
    return word


def accepted_words() -> str:
    """The accepted trade words, Chinese and English, for refusals and help texts."""
    return "、".join(f"{name} ({trade.value})" for trade, name in TRADE_NAMES.items())


__all__ = ["KEYWORDS", "TRADE_NAMES", "WORDS", "accepted_words", "label_of", "trade_of"]
