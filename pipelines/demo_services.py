"""The demo's four orders in the six services, and cases split into sub-tasks (issue 20).

*Service requests* (``services.csv``, ``service_history.csv``): the public
orders one of the six services from a shop's page (群众点单), a supervisor
dispatches it to a department (党委派单), the department accepts or returns it
(部门接单) and resolves it, and the requester rates it (群众评单).  Each
service has requests waiting for acceptance (one dispatched at the demo's
last minutes, one days past its acceptance limit, an early warning),
accepted and in progress, returned with a reason, and resolved and rated.
The load files each through ``public_requests.place_request`` and plays
every later step through the workflow and ``orders`` at its time.

*Split cases* (``split_cases.csv``, ``split_history.csv``, ``sub_tasks.csv``):
patrol findings a grid leader takes on and splits between a member account of
the grid and a department; one sub-task done, one open, one returned, and one
case whose last sub-task done resolved it (the server's step, by whoever
completed it).  A split case names its grid by code, not a shop: which shops a
grid holds is known only once the load has gridded them, so the load files it
at the grid's first shop (by code) as its leader would.

Every case row is a step of the rules table (``demo_loop.Walk`` refuses any
other).  Draws from a generator of its own (which shops), so the rest of the
demo keeps its draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

from governance.catalog import DEFAULT_SERVICE_DEPARTMENTS, Category, MemberRole
from pipelines.demo_draws import DEMO_NOW
from pipelines.demo_loop import Walk
from pipelines.demo_org import grid_codes
from pipelines.demo_shops import Shop
from pipelines.demo_team import DEPARTMENT_USERS, ENFORCEMENT, MARKET

SERVICE_COLUMNS = ("request_id", "shop_id", "topic", "text", "phone")
SERVICE_HISTORY_COLUMNS = ("request_id", "seq", "at", "actor", "from_state", "to_state", "action", "note",
                           "rating", "department")
SPLIT_COLUMNS = ("case_id", "grid", "category", "severity", "title", "description")
SPLIT_HISTORY_COLUMNS = ("case_id", "seq", "at", "actor", "from_state", "to_state", "action", "note")
SUB_TASK_COLUMNS = ("case_id", "task", "seq", "at", "actor", "action", "assignee", "department", "title", "note")

#: The supervisor who dispatches and confirms the service requests.
DISPATCHER = "supervisor1"

_D = DEFAULT_SERVICE_DEPARTMENTS
_C = Category
# (topic, text, phone, when it was placed, the steps after it: (step, when, note, rating, department of a
#  dispatch)); "when" is (days before the demo's day, China time of day).
_SERVICES = (
    (_C.POLICY, "想了解个体工商户今年有没有新的减税政策，怎么申请？", "138-0000-9101", (0, "12:05"), (
        ("dispatch_order", (0, "16:40"), "请党政综合办解读政策", None, _D[_C.POLICY]),)),
    (_C.FINANCE, "小店想申请创业担保贷款，需要准备哪些材料？", "138-0000-9102", (4, "09:40"), (
        ("dispatch_order", (4, "11:00"), "请经济服务中心对接银行", None, _D[_C.FINANCE]),)),
    (_C.JOBS, "店里想招两名导购，能不能帮忙发布到街道的招聘平台？", "", (3, "10:20"), (
        ("dispatch_order", (3, "11:10"), "", None, _D[_C.JOBS]),
        ("accept", (3, "14:30"), "已联系商户核实岗位", None, ""))),
    (_C.CULTURE, "想在店门口办一场南音小型演出，需要向哪里报备？", "138-0000-9104", (2, "09:15"), (
        ("dispatch_order", (2, "10:00"), "", None, _D[_C.CULTURE]), ("accept", (2, "11:20"), "", None, ""))),
    (_C.HARDSHIP_AID, "隔壁摆摊的独居老人生活困难，想帮他申请帮扶。", "", (1, "15:10"), (
        ("dispatch_order", (1, "16:00"), "", None, _D[_C.HARDSHIP_AID]),
        ("accept", (1, "17:10"), "明早入户走访", None, ""))),
    (_C.LEGAL_ADVICE, "店员说被拖欠了两个月工资，想请人帮忙维权。", "138-0000-9106", (4, "14:00"), (
        ("dispatch_order", (4, "15:30"), "", None, _D[_C.LEGAL_ADVICE]),
        ("return", (4, "17:20"), "经核实属劳动报酬争议，由劳动保障监察受理，请改派劳动保障所", None, ""))),
    (_C.HARDSHIP_AID, "家里老人重病，店铺经营困难，想了解临时救助怎么申请。", "138-0000-9107", (9, "10:30"), (
        ("dispatch_order", (9, "11:15"), "", None, _D[_C.FINANCE]),
        ("return", (9, "15:00"), "临时救助由社会事务办受理，请改派", None, ""),
        ("dispatch_order", (9, "15:40"), "改派社会事务办", None, _D[_C.HARDSHIP_AID]),
        ("accept", (9, "16:30"), "", None, ""), ("resolve", (8, "16:00"), "已协助提交临时救助申请并获批", None, ""),
        ("confirm", (7, "10:30"), "回访商户，救助金已到账", None, ""),
        ("rate_closed", (7, "19:20"), "很及时，谢谢街道", 5, ""))),
    (_C.POLICY, "店里做消防改造，有没有补贴政策？", "", (11, "09:30"), (
        ("dispatch_order", (11, "10:10"), "", None, _D[_C.POLICY]), ("accept", (11, "11:00"), "", None, ""),
        ("resolve", (10, "15:30"), "已送达补贴政策解读并协助填报", None, ""),
        ("rate", (10, "20:10"), "讲得很清楚", 4, ""), ("confirm", (9, "10:00"), "回访商户，材料已递交", None, ""))),
    (_C.FINANCE, "想了解商户收款码手续费减免政策。", "138-0000-9109", (10, "14:20"), (
        ("dispatch_order", (10, "15:00"), "", None, _D[_C.FINANCE]), ("accept", (10, "16:40"), "", None, ""),
        ("resolve", (9, "11:30"), "已联系银行网点为商户办理费率优惠", None, ""),
        ("confirm", (8, "10:00"), "回访商户，费率已下调", None, ""), ("rate_closed", (8, "12:30"), "", 5, ""))),
    (_C.JOBS, "退役军人想参加街道的技能培训，哪里报名？", "", (14, "10:00"), (
        ("dispatch_order", (14, "14:30"), "", None, _D[_C.JOBS]), ("accept", (11, "09:00"), "", None, ""),
        ("resolve", (8, "15:00"), "已报名下期电工培训班", None, ""),
        ("confirm", (7, "16:00"), "回访，已收到开班通知", None, ""),
        ("rate_closed", (6, "10:30"), "信息有用，就是等得有点久", 3, ""))),
    (_C.CULTURE, "店铺想参加国潮市集的文创展位，怎么报名？", "138-0000-9111", (8, "11:00"), (
        ("dispatch_order", (8, "14:20"), "", None, _D[_C.CULTURE]), ("accept", (8, "15:00"), "", None, ""),
        ("resolve", (7, "11:00"), "已安排下月市集展位", None, ""), ("rate", (6, "09:40"), "很满意", 5, ""))),
    (_C.LEGAL_ADVICE, "租约到期，房东不退押金怎么办？", "138-0000-9112", (7, "14:00"), (
        ("dispatch_order", (7, "15:00"), "", None, _D[_C.LEGAL_ADVICE]), ("accept", (7, "16:10"), "", None, ""),
        ("resolve", (4, "10:30"), "法律顾问已电话解答并出具书面意见", None, ""))),
    (_C.FINANCE, "想开通数字人民币收款，能不能请银行上门指导？", "138-0000-9113", (1, "09:20"), (
        ("dispatch_order", (1, "10:00"), "", None, _D[_C.FINANCE]),
        ("accept", (1, "11:10"), "已约银行客户经理明天上门", None, ""))),
)

# The split cases: (grid position among the codes, category, severity, title, description, raised, taken
# on, sub-tasks: (owner: a member kind or a department, title, given, its end: (step, when, note) or None
# while open)).
_SPLITS = (
    (2, _C.FIRE_EXIT, "high", "后门消防通道堆放纸箱", "店铺后门消防通道堆放大量纸箱和杂物，通道宽度不足一米。",
     (2, "15:00"), (2, "15:40"), (
         (ENFORCEMENT, "清理后巷占道堆放的纸箱杂物", (2, "16:00"), ("done", (1, "11:30"), "已清运纸箱三车，通道已畅通")),
         (MemberRole.FIRE, "复查消防通道并张贴消防安全告知书", (2, "16:05"), None))),
    (7, _C.CONSTRUCTION, "medium", "夜间装修施工未备案", "店铺夜间装修施工，现场未见装修备案和动火审批。",
     (1, "10:10"), (1, "10:50"), (
         (MemberRole.PROPERTY, "核对装修备案与动火审批材料", (1, "11:00"), None),
         (MARKET, "核查营业执照经营范围变更", (1, "11:02"),
          ("return", (1, "16:20"), "装修备案不属市场监管职责，请转住建部门")),
         (ENFORCEMENT, "夜间施工噪音取证", (1, "11:05"), None))),
    (-12, _C.FUMES, "medium", "油烟直排后巷", "店铺排烟管道直通后巷，晚市油烟扰民，住户多次反映。",
     (3, "14:00"), (3, "14:30"), (
         (MemberRole.SECURITY, "夜间复查油烟排放情况", (3, "15:00"), ("done", (2, "21:30"), "晚市复查，油烟已明显减少")),
         (MARKET, "查验油烟净化设备及清洗记录", (3, "15:02"), ("done", (1, "10:40"), "净化器已更换，清洗记录齐全")))),
)


def _at(when: tuple[int, str]) -> datetime:
    days, clock_time = when
    hour, minute = map(int, clock_time.split(":"))
    return DEMO_NOW.replace(hour=hour, minute=minute) - timedelta(days=days)


def build_service_orders(seed: int, shops: Sequence[Shop], roles: Mapping[str, str]) -> tuple[list[dict], list[dict]]:
    """The rows of ``services.csv`` and ``service_history.csv``."""
    rng = np.random.default_rng([seed, 20, 1])
    picked = rng.choice(len(shops), size=len(_SERVICES), replace=False)
    requests, history = [], []
    for i, ((topic, text, phone, placed, steps), s) in enumerate(zip(_SERVICES, picked, strict=True), start=1):
        request_id = f"S{i:03d}"
        walk, department, departments = Walk(roles), "", [""]
        walk.take("request", _at(placed), "", "")
        for step, when, note, rating, dispatched_to in steps:
            department = dispatched_to or department
            actor = "" if rating else (DEPARTMENT_USERS[department] if step in ("accept", "return", "resolve")
                                       else DISPATCHER)
            walk.take(step, _at(when), actor, note, rating=rating)
            departments.append(department)
            department = "" if step == "return" else department
        times = [event[0] for event in walk.events]
        if times != sorted(times) or times[-1] > DEMO_NOW:
            raise RuntimeError(f"demo generator: service request {request_id} runs backwards or past the demo's end")
        requests.append({"request_id": request_id, "shop_id": shops[s].shop_id, "topic": topic.value,
                         "text": text, "phone": phone})
        history += [{"request_id": request_id, "seq": seq, "at": at, "actor": actor,
                     "from_state": src.value if src else "", "to_state": dst.value, "action": action, "note": note,
                     "rating": "" if rating is None else str(rating), "department": dept}
                    for seq, ((at, actor, src, dst, action, note, rating), dept)
                    in enumerate(zip(walk.events, departments, strict=True), start=1)]
    return requests, history


def _holder(accounts: Sequence[dict], code: str, kind: MemberRole | None = None) -> str:
    """The account of ``kind`` (None: the grid leader) whose grids hold ``code``."""
    return next(a["username"] for a in accounts if code in a["grids"].split(";")
                and a["member_kind"] == (kind.value if kind else "") and a["role"] in ("grid_leader", "member"))


def build_split_cases(n_grids: int, accounts: Sequence[dict],
                      roles: Mapping[str, str]) -> tuple[list[dict], list[dict], list[dict]]:
    """The rows of ``split_cases.csv``, ``split_history.csv`` and ``sub_tasks.csv``."""
    codes = grid_codes(n_grids)
    cases, history, tasks = [], [], []
    for i, (position, category, severity, title, description, raised, taken, parts) in enumerate(_SPLITS, start=1):
        case_id, code = f"T{i:03d}", codes[position]
        leader = _holder(accounts, code)
        walk = Walk(roles)
        walk.take("raise", _at(raised), leader, "巡查发现")
        walk.take("take_on", _at(taken), leader, "拆分给网格成员和部门协同处置")
        done = []
        for task, (owner, task_title, given, end) in enumerate(parts, start=1):
            assignee = _holder(accounts, code, owner) if isinstance(owner, MemberRole) else ""
            department = "" if assignee else owner
            rows = [(_at(given), leader, "give", "")]
            if end is not None:
                step, when, note = end
                rows.append((_at(when), assignee or DEPARTMENT_USERS[department], step, note))
                if step == "done":
                    done.append((_at(when), rows[-1][1], task_title))
            tasks += [{"case_id": case_id, "task": task, "seq": seq, "at": at, "actor": actor, "action": action,
                       "assignee": assignee, "department": department, "title": task_title, "note": note}
                      for seq, (at, actor, action, note) in enumerate(rows, start=1)]
        if len(done) == len(parts):  # every sub-task done: the last one done resolved the case
            at, actor, last = max(done)
            walk.take("resolve_by_sub_tasks", at, actor, f"every sub-task done; the last: {last}")
        if max(t["at"] for t in tasks) > DEMO_NOW:
            raise RuntimeError(f"demo generator: split case {case_id} runs past the demo's instant")
        cases.append({"case_id": case_id, "grid": code, "category": category.value, "severity": severity,
                      "title": title, "description": description})
        history += [{"case_id": case_id, "seq": seq, "at": at, "actor": actor,
                     "from_state": src.value if src else "", "to_state": dst.value, "action": action, "note": note}
                    for seq, (at, actor, src, dst, action, note, _) in enumerate(walk.events, start=1)]
    return cases, history, tasks


__all__ = [
    "DISPATCHER", "SERVICE_COLUMNS", "SERVICE_HISTORY_COLUMNS", "SPLIT_COLUMNS", "SPLIT_HISTORY_COLUMNS",
    "SUB_TASK_COLUMNS", "build_service_orders", "build_split_cases",
]
