"""The words of the case categories, severities and occupation checks, roles and member kinds, in Chinese and English.

One home for the words that the dashboard (``dashboard.i18n``) and the
messages sent outside it (``pipelines.notify_format``) both show, so a
category reads the same on the page and in a WeCom group; ``PUBLIC_WORDS``
are also those of the printed boards (``pipelines.boards``) and the public
pages (``dashboard.public_pages``).
"""

from __future__ import annotations

CASE_WORDS: dict[str, dict[str, str]] = {
    "category.electricity": {"zh": "用电", "en": "Electricity"},
    "category.gas": {"zh": "用气", "en": "Gas"},
    "category.construction": {"zh": "装修施工", "en": "Renovation"},
    "category.amusement_ride": {"zh": "游乐设施", "en": "Amusement rides"},
    "category.fire_exit": {"zh": "消防通道", "en": "Fire exits"},
    "category.sanitation": {"zh": "门前三包", "en": "Shop-front upkeep"},
    "category.road_occupation": {"zh": "占道经营", "en": "Road occupation"},
    "category.fumes": {"zh": "油烟", "en": "Cooking fumes"},
    "category.noise": {"zh": "噪音", "en": "Noise"},
    "category.other": {"zh": "其他", "en": "Other"},
    "severity.low": {"zh": "一般", "en": "Low"},
    "severity.medium": {"zh": "较重", "en": "Medium"},
    "severity.high": {"zh": "严重", "en": "High"},
    "severity.urgent": {"zh": "紧急", "en": "Urgent"},
    # A road-occupation finding against the compact's stall zones (catalog.OccupationCheck).
    "occupation.permitted": {"zh": "摊区内·开放时段", "en": "Permitted stall zone, within hours"},
    "occupation.outside_zone": {"zh": "不在任何摊区", "en": "Outside any stall zone"},
    "occupation.outside_hours": {"zh": "摊区非开放时段", "en": "Stall zone outside its hours"},
}

#: Roles and grid-team member kinds: the UI's labels and the words an account or team file may use.
TEAM_WORDS: dict[str, dict[str, str]] = {
    "role.grid_leader": {"zh": "邻铺长", "en": "Grid leader"},
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
