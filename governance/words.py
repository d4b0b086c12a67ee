"""The words of every coded value a user reads or writes, in Chinese and English.

One home for the words that the dashboard (``dashboard.i18n``), the files
read (``pipelines.ingest_field``, the register's trades, account and team
files) and the messages sent outside (``pipelines.notify_format``) all use,
so a category reads the same on the page, in a CSV and in a WeCom group,
and 一般 means one thing everywhere (low).  Files may also use a few plain
synonyms (``FILE_SYNONYMS``), none of which means something else on a page.
``PUBLIC_WORDS`` are also those of the printed boards (``pipelines.boards``)
and the public pages (``dashboard.public_pages``).
"""

from __future__ import annotations

from collections.abc import Iterable

from governance.catalog import Trade
from governance.trades import TRADE_NAMES

CASE_WORDS: dict[str, dict[str, str]] = {
    "category.electricity": {"zh": "用电", "en": "Electricity"},
    "category.gas": {"zh": "用气", "en": "Gas"},
    "category.construction": {"zh": "装修施工", "en": "Renovation"},
    "category.amusement_ride": {"zh": "游乐设施", "en": "Amusement rides"},
    "category.fire_exit": {"zh": "消防安全", "en": "Fire safety"},
    "category.sanitation": {"zh": "门前三包", "en": "Shop-front upkeep"},
    "category.road_occupation": {"zh": "占道经营", "en": "Road occupation"},
    "category.fumes": {"zh": "油烟", "en": "Cooking fumes"},
    "category.noise": {"zh": "噪音", "en": "Noise"},
    "category.other": {"zh": "其他", "en": "Other"},
    "category.policy": {"zh": "政策咨询", "en": "Policy advice"},
    "category.legal_advice": {"zh": "法律服务", "en": "Legal advice"},
    "category.finance": {"zh": "金融服务", "en": "Finance"},
    "category.jobs": {"zh": "就业服务", "en": "Jobs"},
    "category.culture": {"zh": "文化服务", "en": "Culture"},
    "category.hardship_aid": {"zh": "困难帮扶", "en": "Hardship aid"},
    "severity.low": {"zh": "一般", "en": "Low"},
    "severity.medium": {"zh": "较重", "en": "Medium"},
    "severity.high": {"zh": "严重", "en": "High"},
    "severity.urgent": {"zh": "紧急", "en": "Urgent"},
    # A road-occupation finding against the compact's stall zones (catalog.OccupationCheck).
    "occupation.permitted": {"zh": "摊区内·开放时段", "en": "Permitted stall zone, within hours"},
    "occupation.outside_zone": {"zh": "不在任何摊区", "en": "Outside any stall zone"},
    "occupation.outside_hours": {"zh": "摊区非开放时段", "en": "Stall zone outside its hours"},
    "state.warning": {"zh": "预警", "en": "Warning"},
    "state.in_progress": {"zh": "处置中", "en": "In progress"},
    "state.follow_up": {"zh": "回访", "en": "Follow-up"},
    "state.closed": {"zh": "闭环", "en": "Closed"},
    "state.overdue": {"zh": "超期", "en": "Overdue"},
    "kind.patrol": {"zh": "巡查发现", "en": "Patrol finding"},
    "kind.hazard_check": {"zh": "隐患排查", "en": "Hazard check"},
    "kind.service_request": {"zh": "群众点单", "en": "Service request"},
}

_TRADE_ENGLISH = {
    Trade.CATERING: "Catering", Trade.SNACKS: "Snacks", Trade.TEA: "Tea drinks", Trade.RETAIL: "Retail",
    Trade.CLOTHING: "Clothing", Trade.CRAFTS: "Crafts", Trade.CONVENIENCE: "Convenience store",
    Trade.PHARMACY: "Pharmacy", Trade.LODGING: "Guesthouse", Trade.ENTERTAINMENT: "Entertainment",
    Trade.AMUSEMENT: "Amusement", Trade.SERVICES: "Services",
}
#: A trade's words: Linpu's Chinese name (``trades.TRADE_NAMES``, also read from registers) and English.
TRADE_WORDS: dict[str, dict[str, str]] = {
    f"trade.{trade.value}": {"zh": TRADE_NAMES[trade], "en": _TRADE_ENGLISH[trade]} for trade in Trade
}

#: Plain words field exports use beside the shown ones; none of them is a shown word of another code.
FILE_SYNONYMS: dict[str, dict[str, str]] = {
    "severity": {"低": "low", "轻微": "low", "中": "medium", "较大": "high", "高": "high", "重大": "urgent"},
    # fire_exit's words before it became the fire-safety check (issue 20); files written then still read.
    "category": {"燃气": "gas", "装修": "construction", "消防通道": "fire_exit", "fire exits": "fire_exit",
                 "fire exit": "fire_exit"},
    "kind": {"巡查": "patrol", "点单": "service_request"},
}


def file_words(prefix: str) -> dict[str, str]:
    """Every word a file may give for a ``prefix`` code (``severity``, ``category``, ``kind``):
    its Chinese and English words as shown, and the synonyms; keys lower-cased."""
    words = {}
    for key, entry in {**CASE_WORDS, **TRADE_WORDS}.items():
        group, _, code = key.partition(".")
        if group == prefix:
            words.update({entry["zh"].lower(): code, entry["en"].lower(): code})
    return {**words, **FILE_SYNONYMS.get(prefix, {})}


def accepted(prefix: str, codes: Iterable[str]) -> list[str]:
    """The accepted values of ``codes`` as a message lists them: ``low (一般, Low)``."""
    table = {**CASE_WORDS, **TRADE_WORDS}
    out = []
    for code in codes:
        entry = table.get(f"{prefix}.{code}")
        out.append(f"{code} ({entry['zh']}, {entry['en']})" if entry else code)
    return out

#: What a case's first history row says about where it was filed (``governance.finding_place``);
#: stored once, so both languages are kept in it.
PLACE_WORDS: dict[str, dict[str, str]] = {
    "place.snapped": {"zh": "点位在网格范围外 {metres} 米，已归入最近的网格 {grid}",
                      "en": "the point lay {metres} m outside the grids; filed in the nearest grid {grid}"},
    "place.other_grid": {"zh": "点位在网格 {grid}，所指店铺 {shop} 属网格 {shop_grid}",
                         "en": "the point lies in grid {grid}; the named shop {shop} is in grid {shop_grid}"},
}


def both_words(key: str, **values: object) -> str:
    """A stored note in Chinese and English ("中文 / English"): it is written once and read in either."""
    words = PLACE_WORDS[key]
    return f"{words['zh'].format(**values)} / {words['en'].format(**values)}"


#: Roles and grid-team member kinds: the UI's labels and the words an account or team file may use.
TEAM_WORDS: dict[str, dict[str, str]] = {
    "role.grid_leader": {"zh": "邻铺长", "en": "Grid leader"},
    "role.member": {"zh": "网格成员", "en": "Team member"},
    "role.department": {"zh": "职能部门", "en": "Department"},
    "role.supervisor": {"zh": "督办员", "en": "Supervisor"},
    "role.analyst": {"zh": "分析员", "en": "Analyst"},
    "role.admin": {"zh": "管理员", "en": "Administrator"},
    "member.leader": {"zh": "邻铺长", "en": "Grid leader"},
    "member.property": {"zh": "物业", "en": "Property"},
    "member.security": {"zh": "治安", "en": "Public security"},
    "member.fire": {"zh": "消防", "en": "Fire safety"},
}

#: What the public pages and the printed boards say: badges, services, the board's lines.
PUBLIC_WORDS: dict[str, dict[str, str]] = {
    "badge.party_member_operator": {"zh": "党员经营户", "en": "Party-member operator"},
    "badge.model_shop": {"zh": "示范户", "en": "Model shop"},
    "badge.trusted_shop": {"zh": "放心店", "en": "Trusted shop"},
    "badge.pioneer": {"zh": "先锋商户", "en": "Pioneer merchant"},
    "service.policy": {"zh": "政策咨询", "en": "Policy advice"},
    "service.legal_advice": {"zh": "法律咨询", "en": "Legal advice"},
    "service.finance": {"zh": "金融服务", "en": "Finance"},
    "service.jobs": {"zh": "就业服务", "en": "Jobs"},
    "service.culture": {"zh": "文化服务", "en": "Culture"},
    "service.hardship_aid": {"zh": "困难帮扶", "en": "Hardship aid"},
    "public.kind.order": {"zh": "请求服务", "en": "Ask for a service"},
    "public.kind.complaint": {"zh": "投诉本店", "en": "Complain about this shop"},
    "public.promise": {"zh": "亮身份、亮职责、亮承诺：诚信经营，明码标价，接受群众监督。",
                       "en": "Showing identity, duties and promise: honest trade, clear prices, open to the public's supervision."},
    "public.grid": {"zh": "网格", "en": "Grid"},
    "public.leader": {"zh": "邻铺长", "en": "Grid leader"},
    "public.scan": {"zh": "扫码请求服务或投诉，可跟踪办理进度", "en": "Scan to ask for a service or complain, and follow it"},
    "public.board_title": {"zh": "邻铺公示牌", "en": "Neighbourhood shop board"},
}


def code_for_word(prefix: str, text: str) -> str | None:
    """The code whose ``<prefix>.<code>`` entry is ``text`` (the code itself, its Chinese or English
    word, any case), or None.  How files written in either language are read."""
    wanted = (text or "").strip().lower()
    for key, words in {**CASE_WORDS, **TEAM_WORDS}.items():
        group, _, code = key.partition(".")
        if group == prefix and wanted in {code, words["zh"].lower(), words["en"].lower()}:
            return code
    return None
