"""A tiny district for tests of governance and of its callers.

Two adjacent square grids G001 and G002 (about 1 km each, in Quanzhou), one
shop in each, a leader per grid, a supervisor, an analyst and an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import shapely
from sqlalchemy import Engine

from governance.catalog import MemberRole, Role
from governance.check_due import refresh_check_due
from governance.db import transaction
from governance.departments import add_department
from governance.figures import refresh_grid_stats
from governance.models import Grid, GridGeneration, GridMember, Shop, User
from governance.org import NodeRow, replace_tree
from governance.permissions import Viewer, system_viewer, viewer_for
from governance.team_accounts import save_team_account

G001_BOX = (118.90, 25.10, 118.91, 25.11)
G002_BOX = (118.91, 25.10, 118.92, 25.11)
IN_G001 = (118.905, 25.105)
IN_G002 = (118.915, 25.105)
OUTSIDE = (118.95, 25.105)  # about 3 km east of G002
USERS = {
    "leader1": Role.GRID_LEADER, "leader2": Role.GRID_LEADER, "supervisor": Role.SUPERVISOR,
    "analyst": Role.ANALYST, "admin": Role.ADMIN,
}


@dataclass(frozen=True)
class SmallDistrict:
    grid_ids: dict[str, int]
    shop_codes: dict[str, str]  # grid code -> shop code

    def viewer(self, engine: Engine, username: str) -> Viewer:
        with transaction(engine) as session:
            return viewer_for(session, username)


def seed_small_district(engine: Engine, *, now: datetime | None = None) -> SmallDistrict:
    now = now or datetime.now(UTC)
    with transaction(engine) as session:
        generation = GridGeneration(method="test", is_current=True, created_at=now - timedelta(days=400))
        session.add(generation)
        session.flush()
        grids = {
            code: Grid(generation_id=generation.id, code=code, n_shops=1, geometry=shapely.box(*box))
            for code, box in (("G001", G001_BOX), ("G002", G002_BOX))
        }
        session.add_all(grids.values())
        users = {name: User(username=name, display_name=name.title(), role=role) for name, role in USERS.items()}
        session.add_all(users.values())
        session.flush()
        for code, leader in (("G001", "leader1"), ("G002", "leader2")):
            session.add(GridMember(grid_id=grids[code].id, user_id=users[leader].id, role=MemberRole.LEADER,
                                   name=leader.title()))
            session.add(GridMember(grid_id=grids[code].id, role=MemberRole.FIRE, name=f"Fire {code}",
                                   phone="138-0000-0000"))
        shops = {}
        for code, (lon, lat), trade in (("G001", IN_G001, "catering"), ("G002", IN_G002, "retail")):
            shop = Shop(shop_code=f"S-{code}", name=f"Shop {code}", trade=trade, geometry=shapely.Point(lon, lat),
                        grid_id=grids[code].id, opened_at=now - timedelta(days=365))
            session.add(shop)
            shops[code] = shop.shop_code
        session.flush()
        refresh_grid_stats(session)
        refresh_check_due(session)
        return SmallDistrict(grid_ids={c: g.id for c, g in grids.items()}, shop_codes=shops)


def seed_two_branches(session) -> None:
    """The organisation over the small district: a street committee, a district committee and
    branches ``b1`` (answering for G001) and ``b2`` (G002)."""
    replace_tree(session, [NodeRow(2, "street", "", "street_committee", "街道党工委"),
                           NodeRow(3, "district", "street", "district_committee", "街区党委"),
                           NodeRow(4, "b1", "district", "branch", "第一支部", grids=("G001",)),
                           NodeRow(5, "b2", "district", "branch", "第二支部", grids=("G002",))])


#: The team over the small district (issue 20): department accounts and members with accounts.
TEAM = {
    "dept1": (Role.DEPARTMENT, None, "城管中队", ()),
    "dept2": (Role.DEPARTMENT, None, "街道司法所", ()),
    "fire1": (Role.MEMBER, "fire", None, ("G001",)),
    "prop1": (Role.MEMBER, "property", None, ("G001",)),
    "sec2": (Role.MEMBER, "security", None, ("G002",)),
}


def seed_team(engine: Engine) -> None:
    """Departments 城管中队 and 街道司法所 (legal advice, default), one account each, and members
    ``fire1``/``prop1`` (G001) and ``sec2`` (G002) with accounts."""
    with transaction(engine) as session:
        add_department(session, system_viewer(), "城管中队")
        add_department(session, system_viewer(), "街道司法所", default_for=("legal_advice",))
        for name, (role, kind, department, grids) in TEAM.items():
            session.add(User(username=name, display_name=name.title(), role=role))
            session.flush()
            save_team_account(session, name, role=role, member_kind=kind, department=department, grids=grids)
