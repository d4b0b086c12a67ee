"""The demo's public side (issue 23): orders and complaints placed on shops' pages, and their ratings.

Each request is a plan of steps taken from the rules table (``demo_loop.Walk``);
the load files it through ``governance.public_requests`` as the public would
(so each gets its tracking token and short code) and plays the staff's steps
and the ratings through the workflow at their times.  One complaint is rated
poorly once closed, which reopens it by the table; it is handled again and
rated anew.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import numpy as np

from governance.catalog import PublicKind
from pipelines.demo_draws import DEMO_NOW
from pipelines.demo_loop import Walk
from pipelines.demo_shops import Shop

PUBLIC_COLUMNS = ("request_id", "shop_id", "kind", "topic", "text", "phone")
PUBLIC_HISTORY_COLUMNS = ("request_id", "seq", "at", "actor", "from_state", "to_state", "action", "note", "rating")

# (kind, topic, text, phone, days before the demo's instant it was placed, the steps after it:
#  (step, hours after the previous one, note or the rating's comment, rating))
_PLANS = (
    (PublicKind.ORDER, "legal_advice", "想咨询一下店铺租赁合同续签的问题，房东要涨租三成，是否合理？", "138-0000-9001", 21, (
        ("take_on", 22, "已联系街道法律顾问", None), ("resolve", 50, "法律顾问已上门解答", None),
        ("confirm", 30, "回访商户，问题已解答", None), ("rate_closed", 6, "解答很耐心，谢谢", 5))),
    (PublicKind.COMPLAINT, "fumes", "这家店油烟直排到后巷，楼上住户晚上没法开窗。", "138-0000-9002", 15, (
        ("take_on", 4, "已告知店主整改", None), ("resolve", 45, "店主称已清洗排烟管道", None),
        ("confirm", 26, "回访时未见油烟", None), ("reopen_after_rating", 20, "晚上还是一样呛，根本没改", 2),
        ("resolve", 44, "加装油烟净化器并验收", None), ("confirm", 28, "夜间回访，油烟已达标", None),
        ("rate_closed", 10, "装了净化器，好多了", 4))),
    (PublicKind.ORDER, "jobs", "我是退役军人，想了解街区有没有招店员的岗位信息。", "", 6, (
        ("take_on", 5, "转街区党群服务中心", None), ("resolve", 70, "已推荐三家招聘商户", None),
        ("rate", 20, "信息有用", 4))),
    (PublicKind.ORDER, "sanitation", "店门口的垃圾桶两天没人清运了，味道很大。", "138-0000-9003", 3, (
        ("take_on", 3, "已通知环卫", None),)),
    (PublicKind.COMPLAINT, "road_occupation", "店家把桌椅摆到人行道上，推婴儿车过不去。", "", 1, ()),
)


def build_public(seed: int, shops: Sequence[Shop], handler: str, roles: Mapping[str, str]) -> tuple[list[dict], list[dict]]:
    """The requests' rows and their histories (``handler``, a supervisor, takes the staff's steps).

    Draws from a generator of its own (the shops only), so the rest of the demo keeps its draws.
    """
    rng = np.random.default_rng([seed, 23])
    picked = rng.choice(len(shops), size=len(_PLANS), replace=False)
    requests, history = [], []
    for i, ((kind, topic, text, phone, days, steps), s) in enumerate(zip(_PLANS, picked, strict=True), start=1):
        request_id = f"P{i:03d}"
        walk = Walk(roles)
        at = (DEMO_NOW - timedelta(days=days)).replace(hour=10) + timedelta(minutes=int(rng.integers(0, 300)))
        walk.take("request", at, "", "")
        for step, hours, note, rating in steps:
            at += timedelta(hours=hours)
            walk.take(step, at, "" if rating else handler, note, rating=rating)
        if walk.events[-1][0] >= DEMO_NOW:
            raise RuntimeError(f"demo generator: public request {request_id} runs past the demo's instant")
        requests.append({"request_id": request_id, "shop_id": shops[s].shop_id, "kind": kind.value, "topic": topic,
                         "text": text, "phone": phone})
        history += [{"request_id": request_id, "seq": seq, "at": at, "actor": actor,
                     "from_state": src.value if src else "", "to_state": dst.value, "action": action, "note": note,
                     "rating": "" if rating is None else str(rating)}
                    for seq, (at, actor, src, dst, action, note, rating) in enumerate(walk.events, start=1)]
    return requests, history
