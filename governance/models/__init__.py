"""The stored record: shops, grids, people, cases and their history.

Typed SQLAlchemy 2 models.  The schema itself is created and upgraded only
by the Alembic migrations in ``governance/migrations`` (``linpu db upgrade``);
a test checks that the migrations and these models agree.

The tables live in one module per concept (``base``, ``register``, ``cases``,
``office``); this package gathers them, so ``from governance.models import
Case`` works and importing it registers every table on ``Base.metadata``
(Alembic, backups).
"""

from governance.models.base import NAMING, Base, code_enum, new_public_id, utcnow
from governance.models.cases import (
    Attachment,
    Case,
    CaseHistory,
    CheckDue,
    CheckSchedule,
    GridCategoryStats,
    GridStats,
    HazardCheck,
    LoopFigures,
    PublicRequest,
    Rating,
    SubTask,
    SubTaskHistory,
)
from governance.models.office import (
    AdminLogEntry,
    CalendarDay,
    Delivery,
    Notification,
    OrgNode,
    OrgNodeGrid,
    OrgNodeShop,
    Webhook,
    WebSession,
)
from governance.models.register import (
    Department,
    DistrictFeature,
    Grid,
    GridGeneration,
    GridMember,
    Shop,
    ShopBadge,
    User,
)

__all__ = [
    "AdminLogEntry",
    "Attachment",
    "Base",
    "CalendarDay",
    "Case",
    "CaseHistory",
    "CheckDue",
    "CheckSchedule",
    "Delivery",
    "Department",
    "DistrictFeature",
    "Grid",
    "GridCategoryStats",
    "GridGeneration",
    "GridMember",
    "GridStats",
    "HazardCheck",
    "LoopFigures",
    "NAMING",
    "Notification",
    "OrgNode",
    "OrgNodeGrid",
    "OrgNodeShop",
    "PublicRequest",
    "Rating",
    "SubTask",
    "SubTaskHistory",
    "Shop",
    "ShopBadge",
    "User",
    "WebSession",
    "Webhook",
    "code_enum",
    "new_public_id",
    "utcnow",
]
