"""The fixed vocabularies of the domain: states, kinds, categories, roles.

They are ``StrEnum`` so that their values are what the database, files and
exports hold, and so that a typo in a file is caught by a lookup rather than
stored.  Display names (Chinese and English) live in ``dashboard/i18n.py``;
here only the codes and the rules that depend on them.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class CaseState(StrEnum):
    WARNING = "warning"  # 预警
    IN_PROGRESS = "in_progress"  # 处置中
    FOLLOW_UP = "follow_up"  # 回访
    CLOSED = "closed"  # 闭环


OPEN_STATES: tuple[CaseState, ...] = (
    CaseState.WARNING,
    CaseState.IN_PROGRESS,
    CaseState.FOLLOW_UP,
)

#: Worst first: a grid is coloured by the worst state among its open cases.
STATE_SEVERITY_ORDER: tuple[CaseState, ...] = (
    CaseState.WARNING,
    CaseState.IN_PROGRESS,
    CaseState.FOLLOW_UP,
    CaseState.CLOSED,
)


class Outcome(StrEnum):
    """How a closed case ended: "closed" is kept apart from "fixed"."""

    FIXED = "fixed"
    NO_ACTION_NEEDED = "no_action_needed"
    NOT_RESPONSIBLE = "not_responsible"
    DUPLICATE = "duplicate"


class CaseKind(StrEnum):
    PATROL = "patrol"  # 巡查发现
    HAZARD_CHECK = "hazard_check"  # 隐患排查
    SERVICE_REQUEST = "service_request"  # 四单: 群众点单


class Category(StrEnum):
    ELECTRICITY = "electricity"  # 用电
    GAS = "gas"  # 用气
    CONSTRUCTION = "construction"  # 装修施工
    AMUSEMENT_RIDE = "amusement_ride"  # 游乐设施
    FIRE_EXIT = "fire_exit"  # 消防安全 (the code keeps its first name: fire exits were its first finding)
    SANITATION = "sanitation"  # 门前三包
    ROAD_OCCUPATION = "road_occupation"  # 占道经营
    FUMES = "fumes"  # 油烟
    NOISE = "noise"  # 噪音
    OTHER = "other"
    # The six services of the practice (四单 service requests only, SERVICE_CATEGORIES).
    POLICY = "policy"  # 政策咨询
    LEGAL_ADVICE = "legal_advice"  # 法律服务
    FINANCE = "finance"  # 金融服务
    JOBS = "jobs"  # 就业服务
    CULTURE = "culture"  # 文化服务
    HARDSHIP_AID = "hardship_aid"  # 困难帮扶


#: The routine hazard checks: the four of the seed practice and fire safety (消防安全检查, issue 20),
#: which every open shop gets.
CHECK_CATEGORIES: tuple[Category, ...] = (
    Category.ELECTRICITY,
    Category.GAS,
    Category.CONSTRUCTION,
    Category.AMUSEMENT_RIDE,
    Category.FIRE_EXIT,
)


#: The six service categories of the practice: valid for service requests only.
SERVICE_CATEGORIES: tuple[Category, ...] = (
    Category.POLICY,
    Category.LEGAL_ADVICE,
    Category.FINANCE,
    Category.JOBS,
    Category.CULTURE,
    Category.HARDSHIP_AID,
)

#: The department prefilled in the dispatch form for a service category when no
#: department of the database claims it (``linpu departments add NAME --default CATEGORY``).
DEFAULT_SERVICE_DEPARTMENTS: dict[Category, str] = {
    Category.POLICY: "街道党政综合办",
    Category.LEGAL_ADVICE: "街道司法所",
    Category.FINANCE: "街道经济服务中心",
    Category.JOBS: "街道劳动保障所",
    Category.CULTURE: "街道综合文化站",
    Category.HARDSHIP_AID: "街道社会事务办",
}


class PublicKind(StrEnum):
    """What the public placed from a shop's page (governance.public_requests)."""

    ORDER = "order"  # 请求服务 (群众点单)
    COMPLAINT = "complaint"  # 投诉 about this shop


#: Safety cases: resolving one asks for an "after" photo of the fix or a stated reason (governance.photos).
SAFETY_CATEGORIES: tuple[Category, ...] = (
    Category.ELECTRICITY,
    Category.GAS,
    Category.FIRE_EXIT,
    Category.AMUSEMENT_RIDE,
)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


#: Time allowed from a warning being raised to the case being resolved
#: (moved to follow-up), per severity.  Modelled on city-management practice:
#: urgent items handled within hours, routine ones within days.
DEFAULT_RESOLVE_LIMITS: dict[Severity, timedelta] = {
    Severity.URGENT: timedelta(hours=4),
    Severity.HIGH: timedelta(hours=24),
    Severity.MEDIUM: timedelta(days=3),
    Severity.LOW: timedelta(days=7),
}

#: Safety categories are tighter than nuisances: the limit is the smaller of
#: the severity limit and this one.
DEFAULT_CATEGORY_LIMITS: dict[Category, timedelta] = {
    Category.GAS: timedelta(hours=24),
    Category.ELECTRICITY: timedelta(days=2),
    Category.FIRE_EXIT: timedelta(days=2),
    Category.AMUSEMENT_RIDE: timedelta(days=2),
}

class LimitUnit(StrEnum):
    """How a category's time limits are counted (``governance.working_time``)."""

    WORKING_HOURS = "working_hours"  # 工作小时: every hour of the limit is a working hour
    WORKING_DAYS = "working_days"  # 工作日: a day of the limit is one working day, hours below a day working hours
    CALENDAR_HOURS = "calendar_hours"  # 自然小时: the clock on the wall, holidays included (emergencies)


#: Limits count working time on China's holiday calendar unless the category
#: is an emergency kept in calendar hours (DESIGN "Conventions").
DEFAULT_LIMIT_UNIT = LimitUnit.WORKING_DAYS
DEFAULT_CATEGORY_LIMIT_UNITS: dict[Category, LimitUnit] = {
    Category.GAS: LimitUnit.CALENDAR_HOURS,
}

#: After a case is resolved, the follow-up visit is due within this time.
DEFAULT_FOLLOW_UP_LIMIT = timedelta(days=3)


class Role(StrEnum):
    GRID_LEADER = "grid_leader"
    MEMBER = "member"  # 物业/治安/消防 team member; its kind is users.member_kind
    DEPARTMENT = "department"  # a person of a department (部门) that takes dispatched orders
    SUPERVISOR = "supervisor"
    ANALYST = "analyst"
    ADMIN = "admin"


class OrgLevel(StrEnum):
    """The levels of the organisation tree above the party-member shops, top down."""

    STREET_COMMITTEE = "street_committee"  # 街道党工委
    DISTRICT_COMMITTEE = "district_committee"  # 街区党委
    BRANCH = "branch"  # 支部


class MemberRole(StrEnum):
    LEADER = "leader"  # 邻铺长
    PROPERTY = "property"  # 物业
    SECURITY = "security"  # 治安
    FIRE = "fire"  # 消防


#: The kinds a member account may have (the leader is a role of its own).
MEMBER_KINDS: tuple[MemberRole, ...] = (MemberRole.PROPERTY, MemberRole.SECURITY, MemberRole.FIRE)

#: The one table of which team member answers for a category: the member page lists the routine checks
#: due of its kind's categories, and the notifications of a case go to its category's kind.
#: Fire safety: electricity, gas, fire safety (its checklist: governance.checklists); property: building work, rides, the rest;
#: security (治安): the nuisances. The six services have no member kind (departments serve them).
MEMBER_KIND_OF: dict[Category, MemberRole] = {
    Category.ELECTRICITY: MemberRole.FIRE, Category.GAS: MemberRole.FIRE, Category.FIRE_EXIT: MemberRole.FIRE,
    Category.CONSTRUCTION: MemberRole.PROPERTY, Category.AMUSEMENT_RIDE: MemberRole.PROPERTY,
    Category.OTHER: MemberRole.PROPERTY,
    Category.SANITATION: MemberRole.SECURITY, Category.ROAD_OCCUPATION: MemberRole.SECURITY,
    Category.FUMES: MemberRole.SECURITY, Category.NOISE: MemberRole.SECURITY,
}
MEMBER_KIND_CATEGORIES: dict[MemberRole, tuple[Category, ...]] = {
    kind: tuple(category for category, owner in MEMBER_KIND_OF.items() if owner is kind)
    for kind in (MemberRole.FIRE, MemberRole.PROPERTY, MemberRole.SECURITY)
}
#: The routine checks a member of each kind records (governance.permissions.require_check): its
#: categories that have a checklist; security has none.
MEMBER_CHECK_CATEGORIES: dict[MemberRole, tuple[Category, ...]] = {
    kind: tuple(c for c in categories if c in CHECK_CATEGORIES) for kind, categories in MEMBER_KIND_CATEGORIES.items()
}


class SubTaskState(StrEnum):
    """A sub-task's states: given to a member or a department, done, or handed back."""

    OPEN = "open"
    DONE = "done"
    RETURNED = "returned"


class Badge(StrEnum):
    PARTY_MEMBER_OPERATOR = "party_member_operator"  # 党员经营户
    MODEL_SHOP = "model_shop"  # 示范户
    TRUSTED_SHOP = "trusted_shop"  # 放心店
    PIONEER = "pioneer"  # 先锋商户


class Trade(StrEnum):
    CATERING = "catering"  # 餐饮
    SNACKS = "snacks"  # 小吃
    TEA = "tea"  # 茶饮
    RETAIL = "retail"  # 零售
    CLOTHING = "clothing"  # 服装
    CRAFTS = "crafts"  # 文创
    CONVENIENCE = "convenience"  # 便利店
    PHARMACY = "pharmacy"  # 药店
    LODGING = "lodging"  # 民宿
    ENTERTAINMENT = "entertainment"  # 娱乐
    AMUSEMENT = "amusement"  # 游乐
    SERVICES = "services"  # 生活服务


class StreetClass(StrEnum):
    MAIN = "main"  # 主干道
    STREET = "street"  # 街
    LANE = "lane"  # 巷


class OccupationCheck(StrEnum):
    """Where a road-occupation finding stands against the compact's stall zones, when filed."""

    PERMITTED = "permitted"  # 准许摆摊：在摊区内、开放时段内
    OUTSIDE_ZONE = "outside_zone"  # 不在任何摊区内
    OUTSIDE_HOURS = "outside_hours"  # 在摊区内但不在开放时段


def resolve_limit(category: Category, severity: Severity) -> timedelta:
    """Time allowed to resolve a case of this category and severity.

    >>> resolve_limit(Category.GAS, Severity.LOW)
    datetime.timedelta(days=1)
    """
    limit = DEFAULT_RESOLVE_LIMITS[Severity(severity)]
    category_limit = DEFAULT_CATEGORY_LIMITS.get(Category(category))
    return min(limit, category_limit) if category_limit else limit
