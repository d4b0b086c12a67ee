"""Notification messages: the words, in Chinese (default) and English, and each receiver's JSON.

- ``wecom``: a WeCom (企业微信) group robot's markdown message,
  ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (at most 4096 bytes);
- ``dingtalk``: a DingTalk (钉钉) custom robot's markdown message,
  ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``; the
  title starts with 邻铺 so a robot guarded by a keyword accepts it;
- ``json``: our own shape for receivers of any kind, with an
  ``idempotency_key`` (also sent as the ``Idempotency-Key`` header) that
  stays the same for every retry of one notification to one webhook.

Times are shown in China time; a case links to ``LINPU_BASE_URL/?case=<number>``
and a grid to ``LINPU_BASE_URL/?grid=<code>``.  Text that users typed (titles,
comments, names) has the robots' markdown characters replaced by their
full-width forms, so it cannot become a link or a heading.  The category,
severity and state words are the UI's (``dashboard/i18n.py``; a test keeps
them equal).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from governance.clock import district_zone
from governance.words import CASE_WORDS

FORMATS = ("wecom", "dingtalk", "json")
LANGUAGES = ("zh", "en")
WECOM_MAX_BYTES = 4096

LABELS: dict[str, dict[str, str]] = CASE_WORDS

TEXTS: dict[str, dict[str, str]] = {
    "event.case_raised": {"zh": "新案件", "en": "New case"},
    "event.case_dispatched": {"zh": "派单", "en": "Case dispatched"},
    "event.case_reopened": {"zh": "案件重新处置", "en": "Case reopened"},
    "event.rated_poorly": {"zh": "群众差评", "en": "Poor rating"},
    "event.cases_imported": {"zh": "批量导入案件", "en": "Cases imported"},
    "event.due_soon": {"zh": "即将超期", "en": "Due soon"},
    "event.overdue": {"zh": "已超期", "en": "Overdue"},
    "event.check_due_tomorrow": {"zh": "明日到期检查", "en": "Check due tomorrow"},
    "event.daily_digest": {"zh": "每日简报", "en": "Daily digest"},
    "brand": {"zh": "邻铺", "en": "Linpu"},
    "case_no": {"zh": "案件号", "en": "Case"},
    "grid": {"zh": "网格", "en": "Grid"},
    "due": {"zh": "处置期限", "en": "Due"},
    "deadline": {"zh": "期限", "en": "Deadline"},
    "department": {"zh": "承办部门", "en": "Department"},
    "rating": {"zh": "评分", "en": "Rating"},
    "reopened": {"zh": "已退回重新处置", "en": "The case was reopened"},
    "shop": {"zh": "商铺", "en": "Shop"},
    "imported": {"zh": "新增案件 {n} 件", "en": "{n} new case(s)"},
    "open": {"zh": "未闭环", "en": "Open"},
    "due_today": {"zh": "今日到期", "en": "Due today"},
    "view": {"zh": "查看", "en": "Open"},
    "time": {"zh": "{t}（北京时间）", "en": "{t} China time"},
}

#: Markdown characters of the robots, and the full-width forms typed text gets instead.
_MARKDOWN = str.maketrans({"*": "＊", "_": "＿", "[": "［", "]": "］", "(": "（", ")": "）", "<": "＜",
                           ">": "＞", "#": "＃", "`": "｀", "\n": " ", "\r": " "})


def word(key: str, language: str, **values: Any) -> str:
    entry = TEXTS.get(key) or LABELS.get(key)
    return entry[language].format(**values) if entry else key


def typed(text: Any) -> str:
    """Text a user typed, made inert in the robots' markdown."""
    return str(text or "").translate(_MARKDOWN)


def china_time(value: str | None, language: str) -> str:
    if not value:
        return "—"
    zone = district_zone()
    moment = datetime.fromisoformat(value).astimezone(zone)
    if zone.key == "Asia/Shanghai":
        return word("time", language, t=f"{moment:%Y-%m-%d %H:%M}")
    # Another district's zone (LINPU_TIMEZONE) is not Beijing time: say its offset instead.
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def case_link(base_url: str, case_no: str) -> str:
    return f"{base_url.rstrip('/')}/?case={quote(case_no)}"


def grid_link(base_url: str, grid_code: str) -> str:
    return f"{base_url.rstrip('/')}/?grid={quote(grid_code)}"


def message(event: str, data: dict[str, Any], language: str, base_url: str) -> tuple[str, list[str], str]:
    """Title, markdown lines and link of one notification."""
    title = f"{word('brand', language)} · {word('event.' + event, language)}"
    if event == "daily_digest":
        lines = [f"**{typed(data['leader'])} · {data['date']}**"]
        for grid in data["grids"]:
            lines.append(f"- {word('grid', language)} {typed(grid['grid_code'])}: {word('open', language)} "
                         f"{grid['open']} · {word('due_today', language)} {grid['due_today']} · "
                         f"{word('event.overdue', language)} {grid['overdue']}")
        link = grid_link(base_url, data["grids"][0]["grid_code"]) if data["grids"] else base_url
        return title, lines, link
    if event == "cases_imported":
        lines = [f"{word('grid', language)} {typed(data['grid_code'])}: {word('imported', language, n=data['count'])}",
                 ", ".join(typed(no) for no in data["case_nos"]) + (" …" if data["count"] > len(data["case_nos"]) else "")]
        return title, lines, grid_link(base_url, data["grid_code"])
    if event == "check_due_tomorrow":
        lines = [f"{word('shop', language)}: {typed(data['shop'])} ({typed(data['shop_code'])}) · "
                 f"{word('category.' + data['category'], language)}",
                 f"{word('grid', language)} {typed(data['grid_code'])} · {word('deadline', language)}: "
                 f"{china_time(data['due_at'], language)}"]
        return title, lines, grid_link(base_url, data["grid_code"])
    return title, _case_lines(event, data, language), case_link(base_url, data["case_no"])


def _case_lines(event: str, data: dict[str, Any], language: str) -> list[str]:
    lines = [
        f"**{typed(data['title'])}**",
        f"{word('case_no', language)} {typed(data['case_no'])} · {word('grid', language)} {typed(data['grid_code'])} · "
        f"{word('category.' + data['category'], language)} · {word('severity.' + data['severity'], language)}",
    ]
    if data.get("shop"):
        lines.append(f"{word('shop', language)}: {typed(data['shop'])}")
    if event == "case_dispatched" or (data.get("department") and event in ("overdue", "due_soon")):
        lines.append(f"{word('department', language)}: {typed(data['department'])}")
    if event == "rated_poorly":
        comment = f": {typed(data['comment'])}" if data.get("comment") else ""
        lines.append(f"{word('rating', language)} {data['rating']}/5{comment}")
        if data.get("reopened"):
            lines.append(word("reopened", language))
    deadline = data.get("deadline") or data.get("due_at")
    lines.append(f"{word('due', language)}: {china_time(deadline, language)}")
    return lines


def body(fmt: str, event: str, data: dict[str, Any], *, language: str, base_url: str, idempotency_key: str,
         created_at: datetime) -> dict[str, Any]:
    """The JSON a receiver of format ``fmt`` is sent."""
    title, lines, link = message(event, data, language, base_url)
    head, tail = f"### {title}\n\n", f"\n\n[{word('view', language)}]({link})"
    text = head + "\n\n".join(lines) + tail
    if fmt == "wecom":
        room = WECOM_MAX_BYTES - len((head + tail).encode("utf-8"))
        return {"msgtype": "markdown", "markdown": {"content": head + _truncate("\n\n".join(lines), room) + tail}}
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"idempotency_key": idempotency_key, "event": event, "created_at": created_at.isoformat(),
            "language": language, "title": title, "text": "\n".join(lines), "link": link, "data": data}


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "…"


__all__ = ["FORMATS", "LABELS", "LANGUAGES", "TEXTS", "body", "case_link", "china_time", "message", "typed", "word"]
