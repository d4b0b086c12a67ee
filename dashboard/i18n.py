"""Every string the UI shows, in Chinese (default) and English."""

from __future__ import annotations

from governance.settings import get_settings

LANGUAGES = {"zh": "中文", "en": "English"}

CATALOGUE: dict[str, dict[str, str]] = {
    "app.title": {"zh": "邻铺 · 网格治理", "en": "Linpu · Grid governance"},
    "nav.overview": {"zh": "街区总览", "en": "District overview"},
    "overview.title": {"zh": "街区网格闭环总览", "en": "District grids and the closed loop"},
    "overview.caption": {
        "zh": "{grids} 个网格 · {shops} 家商铺 · 未闭环案件 {open} 件，其中超期 {overdue} 件",
        "en": "{grids} grids · {shops} shops · {open} open cases, {overdue} overdue",
    },
    "overview.no_data": {
        "zh": "数据库中还没有网格。请先运行 `linpu demo load` 或 `make demo`。",
        "en": "The database has no grids yet. Run `linpu demo load` or `make demo` first.",
    },
    "overview.table": {"zh": "各网格闭环情况", "en": "Closed loop per grid"},
    "state.warning": {"zh": "预警", "en": "Warning"},
    "state.in_progress": {"zh": "处置中", "en": "In progress"},
    "state.follow_up": {"zh": "回访", "en": "Follow-up"},
    "state.closed": {"zh": "闭环", "en": "Closed"},
    "state.overdue": {"zh": "超期", "en": "Overdue"},
    "legend.title": {"zh": "网格状态（最差未闭环）", "en": "Grid status (worst open case)"},
    "legend.closed_only": {"zh": "全部闭环", "en": "All closed"},
    "legend.overdue": {"zh": "粗框 = 有超期案件", "en": "Thick outline = overdue cases"},
    "legend.shop": {"zh": "商铺", "en": "Shop"},
    "col.code": {"zh": "网格编号", "en": "Grid"},
    "col.n_shops": {"zh": "商铺数", "en": "Shops"},
    "col.open": {"zh": "未闭环", "en": "Open"},
    "col.worst_state": {"zh": "最差状态", "en": "Worst state"},
    "tooltip.grid": {"zh": "网格", "en": "Grid"},
    "tooltip.shops": {"zh": "商铺", "en": "Shops"},
    "tooltip.open": {"zh": "未闭环", "en": "Open"},
    "tooltip.overdue": {"zh": "超期", "en": "Overdue"},
    "language": {"zh": "语言 / Language", "en": "Language / 语言"},
    "error.database": {"zh": "数据库不可用：{reason}", "en": "Database unavailable: {reason}"},
}


def translate(key: str, language: str | None = None, **values: object) -> str:
    """The string for ``key`` in ``language``; the key itself if it is missing."""
    language = language or get_settings().language
    entry = CATALOGUE.get(key)
    text = key if entry is None else entry.get(language) or entry["zh"]
    return text.format(**values) if values else text
