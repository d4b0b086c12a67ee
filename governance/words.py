"""The words of the case categories and severities, in Chinese and English.

One home for the words that the dashboard (``dashboard.i18n``) and the
messages sent outside it (``pipelines.notify_format``) both show, so a
category reads the same on the page and in a WeCom group.
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
}
