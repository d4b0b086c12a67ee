"""Hazard-check checklists (隐患排查清单) for the routine check categories.

Each item is one yes/no question the grid leader answers on site; ``True``
means the shop complies.  Codes are stable: they are stored in check results
(``failed_items``) and must never be renamed, only added.  ``severity`` is the
severity of the case a failure of that item raises, so the case raised by a
failed check takes the worst severity among its failed items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from governance.catalog import CHECK_CATEGORIES, Category, Severity, Trade


@dataclass(frozen=True)
class ChecklistItem:
    code: str
    zh: str
    en: str
    severity: Severity


def _item(code: str, zh: str, en: str, severity: Severity) -> ChecklistItem:
    return ChecklistItem(code, zh, en, severity)


_S = Severity

CHECKLISTS: dict[Category, tuple[ChecklistItem, ...]] = {
    Category.ELECTRICITY: (
        _item("elec.no_flying_wiring", "无私拉乱接、飞线，无超负荷用电",
              "No improvised or overloaded wiring", _S.MEDIUM),
        _item("elec.rcd", "安装漏电保护器并经测试有效",
              "Residual-current device (RCD) fitted and tested", _S.HIGH),
        _item("elec.no_ebike_indoor", "室内无电动车停放、充电",
              "No e-bike parking or charging indoors", _S.HIGH),
        _item("elec.box_closed", "配电箱关闭并有标识",
              "Distribution box closed and labelled", _S.LOW),
        _item("elec.lamp_clearance", "灯具周边无布料等可燃物",
              "No fabric or other combustibles near lamps", _S.MEDIUM),
    ),
    Category.GAS: (
        _item("gas.alarm", "安装燃气报警器且工作正常",
              "Gas alarm fitted and working", _S.HIGH),
        _item("gas.hose", "软管长度不超过2米且2年内更换",
              "Hose at most 2 m long and replaced within 2 years", _S.MEDIUM),
        _item("gas.regulator", "减压阀5年内更换",
              "Pressure regulator replaced within 5 years", _S.MEDIUM),
        _item("gas.extinguisher", "每50平方米配备1具灭火器",
              "One fire extinguisher per 50 m²", _S.MEDIUM),
        _item("gas.cylinder_storage", "气瓶未存放于地下室，直立放置并固定",
              "Cylinders not stored below ground, upright and secured", _S.URGENT),
        _item("gas.shutoff_valve", "燃气总阀便于操作，无遮挡",
              "Shut-off valve accessible", _S.MEDIUM),
    ),
    Category.CONSTRUCTION: (
        _item("cons.permit_posted", "装修许可/备案公示于门口",
              "Renovation permit posted at the door", _S.LOW),
        _item("cons.hot_work_permit", "动火作业持有动火证",
              "Hot-work permit held for welding or cutting", _S.HIGH),
        _item("cons.debris_cleared", "装修垃圾每日清运",
              "Debris cleared daily", _S.LOW),
        _item("cons.extinguisher", "施工现场配备灭火器",
              "Fire extinguisher on site", _S.MEDIUM),
        _item("cons.permitted_hours", "未在规定时段外施工",
              "No work outside permitted hours", _S.LOW),
    ),
    Category.AMUSEMENT_RIDE: (
        _item("ride.certificate", "特种设备检验合格证在有效期内",
              "Inspection certificate valid", _S.URGENT),
        _item("ride.daily_log", "每日运营前安全检查有记录",
              "Daily pre-opening check logged", _S.MEDIUM),
        _item("ride.operator_certified", "操作人员持证上岗",
              "Operator certified", _S.HIGH),
        _item("ride.restraints", "安全带、压杠等约束装置完好",
              "Safety restraints working", _S.URGENT),
        _item("ride.emergency_stop", "紧急停止按钮经测试有效",
              "Emergency stop tested", _S.URGENT),
        _item("ride.queue_barrier", "候乘区设置隔离护栏",
              "Queue barrier in place", _S.LOW),
    ),
    # 消防安全检查, stored as the category fire_exit.  A locked or blocked exit and people
    # sleeping in the shop (三合一) are what turn a fire into deaths: urgent.
    Category.FIRE_EXIT: (
        _item("fire.exits_clear", "安全出口、疏散通道畅通，未锁闭、未堵塞",
              "Exits and evacuation routes clear, not locked or blocked", _S.URGENT),
        _item("fire.extinguishers", "按规定配置灭火器，压力正常且在有效期内",
              "Fire extinguishers present, charged and in date", _S.MEDIUM),
        _item("fire.emergency_lighting", "应急照明、疏散指示标志完好有效",
              "Emergency lighting and exit signs working", _S.HIGH),
        _item("fire.no_combustibles", "出口、走道处未堆放可燃物",
              "No combustibles stored by exits or in corridors", _S.HIGH),
        _item("fire.no_sleeping", "经营场所内无人员住宿（无“三合一”）",
              "Nobody sleeps in the shop (no shop, store and home in one)", _S.URGENT),
        _item("fire.smoke_detector", "按要求安装独立式感烟报警器且工作正常",
              "Smoke detector fitted where required and working", _S.MEDIUM),
    ),
}

#: How often each check is due for a shop it applies to.  Construction is
#: checked only while a renovation is under way; fire safety is every shop's, quarterly.
CHECK_INTERVALS: dict[Category, timedelta] = {
    Category.ELECTRICITY: timedelta(days=90),
    Category.GAS: timedelta(days=30),
    Category.CONSTRUCTION: timedelta(days=14),
    Category.AMUSEMENT_RIDE: timedelta(days=30),
    Category.FIRE_EXIT: timedelta(days=90),
}

#: Trades that cook or boil on bottled or piped gas.
GAS_TRADES: frozenset[Trade] = frozenset({Trade.CATERING, Trade.SNACKS, Trade.TEA})

_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


def checklist_for(category: Category | str) -> tuple[ChecklistItem, ...]:
    """The checklist of a check category; ValueError for a non-check category."""
    cat = Category(category)
    if cat not in CHECK_CATEGORIES:
        raise ValueError(f"{cat.value!r} is not a hazard-check category")
    return CHECKLISTS[cat]


def categories_for_trade(trade: Trade | str | None, *, uses_gas: bool | None = None,
                         under_renovation: bool = False) -> tuple[Category, ...]:
    """The check categories that apply to a shop of this trade (None: no Linpu trade).

    Electricity and fire safety apply to every shop.  The gas check applies when the register's 用气 column says so (``uses_gas``),
    else when the trade cooks or boils on gas (``GAS_TRADES``).
    """
    t = None if trade is None else Trade(trade)
    cats = [Category.ELECTRICITY]
    if uses_gas or (uses_gas is None and t in GAS_TRADES):
        cats.append(Category.GAS)
    if under_renovation:
        cats.append(Category.CONSTRUCTION)
    if t is Trade.AMUSEMENT:
        cats.append(Category.AMUSEMENT_RIDE)
    cats.append(Category.FIRE_EXIT)
    return tuple(cats)


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    failed: tuple[str, ...]  # item codes, in checklist order
    severity: Severity | None  # worst severity among failed items

    @property
    def result(self) -> str:
        return "pass" if self.passed else "fail"


def evaluate(category: Category | str, answers: Mapping[str, bool]) -> CheckOutcome:
    """Judge one check from its answers ``{code: complies}``.

    Every item must be answered: a silently skipped item would read as a pass.
    """
    items = checklist_for(category)
    codes = {item.code for item in items}
    unknown = sorted(set(answers) - codes)
    if unknown:
        raise ValueError(f"unknown checklist item(s) for {Category(category).value}: {', '.join(unknown)}")
    missing = [item.code for item in items if item.code not in answers]
    if missing:
        raise ValueError(f"unanswered checklist item(s): {', '.join(missing)}")
    failed_items = [item for item in items if not answers[item.code]]
    worst = max((i.severity for i in failed_items), key=_SEVERITY_RANK.__getitem__, default=None)
    return CheckOutcome(not failed_items, tuple(i.code for i in failed_items), worst)
