"""Is the district ready to run?  What ``linpu status`` and the admin page report.

Each item counts one thing the office needs (the map, the register, the
grids, the teams, the check schedules, the accounts) and, when it is
missing or incomplete, names the command that fills it; the admin page shows
the same items beside the forms that do the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.catalog import MemberRole, Role
from governance.clock import clock, district_zone
from governance.grids import current_generation_id
from governance.models import CheckSchedule, DistrictFeature, Grid, GridMember, Shop, User
from governance.org import unassigned_grids
from governance.working_time import calendar_coverage


@dataclass(frozen=True)
class ReadinessItem:
    """One thing checked: ``ok`` when nothing is missing; ``fix`` is the command that fills the gap."""

    key: str
    count: int
    missing: int
    ok: bool
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


def _grids_without(session: Session, generation: int | None, *, leader: bool) -> int:
    kinds = [MemberRole.LEADER] if leader else [MemberRole.PROPERTY, MemberRole.SECURITY, MemberRole.FIRE]
    staffed = select(GridMember.grid_id).where(GridMember.role.in_(kinds))
    return session.scalar(select(func.count()).select_from(Grid).where(
        Grid.generation_id == generation, Grid.id.not_in(staffed))) or 0


def readiness(session: Session, *, now=None) -> list[ReadinessItem]:
    """The district's readiness, item by item, in the order an office sets it up.

    ``holiday_calendar`` counts the last year the working-time clock knows; past it the
    clock counts weekends only, so the item is a gap once today lies past it.
    ``org_unassigned_grids`` counts current grids no node of the organisation tree holds
    (new codes after a re-gridding; none while no tree is stored)."""
    def count(statement) -> int:
        return session.scalar(statement) or 0

    generation = current_generation_id(session)
    boundary = count(select(func.count()).where(DistrictFeature.kind == "boundary"))
    streets = count(select(func.count()).where(DistrictFeature.kind == "street"))
    open_shops = count(select(func.count()).select_from(Shop).where(Shop.closed_at.is_(None)))
    no_trade = count(select(func.count()).select_from(Shop).where(Shop.closed_at.is_(None), Shop.trade.is_(None)))
    no_grid = count(select(func.count()).select_from(Shop).where(Shop.closed_at.is_(None), Shop.grid_id.is_(None)))
    grids = count(select(func.count()).select_from(Grid).where(Grid.generation_id == generation))
    no_leader = _grids_without(session, generation, leader=True) if grids else 0
    no_members = _grids_without(session, generation, leader=False) if grids else 0
    schedules = count(select(func.count()).select_from(CheckSchedule))
    supervisors = count(select(func.count()).select_from(User).where(User.role == Role.SUPERVISOR,
                                                                     User.is_active.is_(True)))
    coverage = calendar_coverage(session)
    today = clock(now).astimezone(district_zone()).date()
    unassigned = len(unassigned_grids(session)) if grids else 0
    return [
        ReadinessItem("boundary", boundary, int(not boundary), bool(boundary),
                      "linpu district import FILE --layer boundary"),
        ReadinessItem("streets", streets, int(not streets), bool(streets),
                      "linpu district import FILE.osm.pbf --layer streets"),
        ReadinessItem("shops", open_shops, int(not open_shops), bool(open_shops), "linpu ingest shops FILE"),
        ReadinessItem("shops_without_trade", no_trade, no_trade, not no_trade,
                      "linpu ingest shops FILE (a trade word in the 行业 column)"),
        ReadinessItem("shops_without_grid", no_grid, no_grid, not no_grid, "linpu grids save --update"),
        ReadinessItem("grids", grids, int(not grids), bool(grids), "linpu grids save (or linpu grids import FILE)"),
        ReadinessItem("grids_without_leader", no_leader, no_leader, not no_leader,
                      "linpu users import FILE --passwords-out FILE"),
        ReadinessItem("grids_without_members", no_members, no_members, not no_members, "linpu members import FILE"),
        ReadinessItem("schedules", schedules, int(not schedules), bool(schedules),
                      "linpu schedules set CATEGORY DAYS"),
        ReadinessItem("supervisors", supervisors, int(not supervisors), bool(supervisors),
                      "linpu users import FILE --passwords-out FILE"),
        ReadinessItem("holiday_calendar", coverage.last_known_year, int(not coverage.covers(today)),
                      coverage.covers(today),
                      f"linpu calendar import FILE (from {coverage.weekends_only_from} the clock counts "
                      "weekends only)"),
        ReadinessItem("org_unassigned_grids", unassigned, unassigned, not unassigned,
                      "linpu org import FILE --replace (give the new grid codes their branch)"),
    ]
