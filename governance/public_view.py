"""What the public pages and the boards show of a shop and its grid: no account, no personal data.

Only the shop's name and the grid leader's name and masked phone are shown;
the team appears as roles.  Badges are read live, so a revoked badge is gone
even from the link of an old board.  The grid's figures cover the last 90
days: cases raised, cases closed, the on-time share of those closed, and the
mean of the public's ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from governance.catalog import Badge, CaseState, MemberRole
from governance.clock import clock
from governance.compact import ServicePoint, nearest_service_points
from governance.errors import NotFoundError
from governance.figures import on_time_condition
from governance.grids import current_generation_id
from governance.models import Case, Grid, GridMember, Rating, Shop, ShopBadge
from governance.phones import mask_phone
from governance.public_requests import open_shop
from governance.settings import Settings, get_settings

FIGURE_DAYS = 90
#: The public pages' paths (served by dashboard.public_pages); a board's QR code holds the shop's.
SHOP_PATH = "/p/s/{public_id}"
GRID_PATH = "/p/g/{code}"
TRACK_PATH = "/p/t/{token}"


def public_address(path: str, *, settings: Settings | None = None) -> str:
    """``path`` at ``LINPU_PUBLIC_URL`` (the staff address when unset)."""
    return (settings or get_settings()).resolved_public_url.rstrip("/") + path


@dataclass(frozen=True)
class GridFigures:
    raised: int
    closed: int
    on_time_share: float | None  # of the closed ones; None when none closed
    mean_rating: float | None


@dataclass(frozen=True)
class PublicShop:
    public_id: str
    name: str
    badges: tuple[str, ...]
    grid_code: str
    leader_name: str
    leader_phone: str  # masked


@dataclass(frozen=True)
class ShopPage:
    shop: PublicShop
    figures: GridFigures
    #: The district's service points nearest the shop (the compact's layer), nearest first.
    service_points: tuple[ServicePoint, ...] = ()


@dataclass(frozen=True)
class GridPage:
    code: str
    leader_name: str
    leader_phone: str
    team_roles: tuple[str, ...]  # member roles of the team beside the leader, one per member
    shops: tuple[PublicShop, ...]
    figures: GridFigures


def grid_figures(session: Session, grid_id: int, *, now: datetime | None = None) -> GridFigures:
    """The grid's loop over the last 90 days, as the public pages show it."""
    since = clock(now) - timedelta(days=FIGURE_DAYS)
    in_grid = Case.grid_id == grid_id
    raised = session.scalar(select(func.count()).where(in_grid, Case.created_at >= since)) or 0
    closed, on_time = session.execute(
        select(func.count(), func.count().filter(on_time_condition()))
        .where(in_grid, Case.state == CaseState.CLOSED, Case.closed_at >= since)
    ).one()
    mean = session.scalar(
        select(func.avg(Rating.rating)).join(Case, Case.id == Rating.case_id)
        .where(in_grid, Rating.rated_at >= since)
    )
    return GridFigures(raised=raised, closed=closed or 0, on_time_share=on_time / closed if closed else None,
                       mean_rating=round(float(mean), 1) if mean is not None else None)


def _leaders(session: Session, grid_ids: list[int]) -> dict[int, GridMember]:
    rows = session.scalars(
        select(GridMember).where(GridMember.grid_id.in_(grid_ids), GridMember.role == MemberRole.LEADER)
        .order_by(GridMember.id)
    ).all()
    leaders: dict[int, GridMember] = {}
    for row in rows:
        leaders.setdefault(row.grid_id, row)
    return leaders


def public_shops(session: Session, shops: list[Shop]) -> list[PublicShop]:
    """The shops as the public sees them: name, live badges, grid, leader's name and masked phone."""
    ids = [s.id for s in shops]
    badges: dict[int, list[str]] = {}
    for shop_id, badge in session.execute(
        select(ShopBadge.shop_id, ShopBadge.badge)
        .where(ShopBadge.shop_id.in_(ids), ShopBadge.revoked_at.is_(None)).order_by(ShopBadge.badge)
    ).all():
        badges.setdefault(shop_id, []).append(Badge(badge).value)
    grid_ids = sorted({s.grid_id for s in shops if s.grid_id is not None})
    codes = dict(session.execute(select(Grid.id, Grid.code).where(Grid.id.in_(grid_ids))).all())
    leaders = _leaders(session, grid_ids)
    out = []
    for shop in shops:
        leader = leaders.get(shop.grid_id)
        out.append(PublicShop(
            public_id=shop.public_id, name=shop.name, badges=tuple(badges.get(shop.id, ())),
            grid_code=codes.get(shop.grid_id, ""), leader_name=leader.name if leader else "",
            leader_phone=mask_phone(leader.phone) if leader else "",
        ))
    return out


def shop_page(session: Session, public_id: str, *, now: datetime | None = None) -> ShopPage:
    """The shop's public page; NotFoundError for an unknown or closed shop."""
    shop = open_shop(session, public_id)
    if shop.grid_id is None:
        raise NotFoundError(f"shop {public_id!r} lies in no grid")
    nearby = nearest_service_points(session, shop.geometry.x, shop.geometry.y, now=now)
    return ShopPage(shop=public_shops(session, [shop])[0], figures=grid_figures(session, shop.grid_id, now=now),
                    service_points=tuple(nearby))


def grid_page(session: Session, code: str, *, now: datetime | None = None) -> GridPage:
    """The grid's public page (current generation); NotFoundError for an unknown code."""
    grid = session.scalar(select(Grid).where(Grid.code == code, Grid.generation_id == current_generation_id(session)))
    if grid is None:
        raise NotFoundError(f"no current grid has the code {code!r}")
    leader = _leaders(session, [grid.id]).get(grid.id)
    team = session.scalars(
        select(GridMember.role).where(GridMember.grid_id == grid.id, GridMember.role != MemberRole.LEADER)
        .order_by(GridMember.role)
    ).all()
    shops = session.scalars(
        select(Shop).where(and_(Shop.grid_id == grid.id, Shop.closed_at.is_(None))).order_by(Shop.name)
    ).all()
    return GridPage(
        code=grid.code, leader_name=leader.name if leader else "",
        leader_phone=mask_phone(leader.phone) if leader else "",
        team_roles=tuple(MemberRole(r).value for r in team), shops=tuple(public_shops(session, list(shops))),
        figures=grid_figures(session, grid.id, now=now),
    )
