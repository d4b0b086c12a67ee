"""Shop badges (党员经营户, 示范户, 放心店, 先锋商户): award, revoke, and the 优进绌退 rule.

A badge row is never deleted: revoking fills ``revoked_*`` so the history of
awards and revocations stays readable.  A shop holds at most one active
badge of each kind; it may be awarded again after a revocation.

Revocation rule (the issue leaves it open; decided here): an active badge is
*due for revocation* when, within ``LINPU_BADGE_REVOKE_DAYS`` (90),

- at least ``LINPU_BADGE_REVOKE_CASES`` (3) cases naming the shop were
  closed as ``fixed`` — substantiated complaints or findings, as opposed to
  dismissed, duplicate or not-our-responsibility ones; or
- a hazard check of the shop failed an urgent item (a failed review).

The rule only lists; a supervisor decides and revokes with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.catalog import Badge, CaseState, Outcome, Severity
from governance.checklists import CHECKLISTS
from governance.errors import NotFoundError, ValidationError
from governance.models import Case, Grid, HazardCheck, Shop, ShopBadge
from governance.permissions import Viewer, require_grid, require_supervising
from governance.settings import get_settings

_URGENT_ITEMS = frozenset(
    item.code for items in CHECKLISTS.values() for item in items if item.severity == Severity.URGENT
)


def _shop(session: Session, shop_code: str) -> Shop:
    shop = session.scalar(select(Shop).where(Shop.shop_code == shop_code))
    if shop is None:
        raise NotFoundError(f"shop_code={shop_code!r}: no such shop")
    return shop


def _badge(value) -> Badge:
    try:
        return Badge(value)
    except ValueError:
        raise ValidationError(
            f"badge={value!r} is not known; allowed: {', '.join(b.value for b in Badge)}"
        ) from None


def _active(session: Session, shop: Shop, badge: Badge) -> ShopBadge | None:
    return session.scalar(
        select(ShopBadge).where(ShopBadge.shop_id == shop.id, ShopBadge.badge == badge, ShopBadge.revoked_at.is_(None))
    )


def award_badge(session: Session, viewer: Viewer, shop_code: str, badge: Badge | str, *,
                now: datetime | None = None) -> ShopBadge:
    """Award a badge (supervisor or admin); ValidationError if the shop already holds it."""
    require_supervising(viewer, "award a badge")
    badge = _badge(badge)
    shop = _shop(session, shop_code)
    if viewer.scope is not None:  # a branch secretary awards in their own branch only
        require_grid(viewer, shop.grid_id)
    if _active(session, shop, badge) is not None:
        raise ValidationError(f"shop {shop_code} already holds the {badge.value} badge")
    row = ShopBadge(shop_id=shop.id, badge=badge, awarded_at=now or datetime.now(UTC), awarded_by_id=viewer.user_id)
    session.add(row)
    if badge is Badge.PARTY_MEMBER_OPERATOR:
        shop.party_member_operator = True
    session.flush()
    return row


def revoke_badge(session: Session, viewer: Viewer, shop_code: str, badge: Badge | str, *, reason: str,
                 now: datetime | None = None) -> ShopBadge:
    """Revoke an active badge with a reason (supervisor or admin); the award row is kept."""
    require_supervising(viewer, "revoke a badge")
    badge = _badge(badge)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("reason is empty; say why the badge is revoked (it is kept in the shop's history)")
    shop = _shop(session, shop_code)
    if viewer.scope is not None:  # a branch secretary revokes in their own branch only
        require_grid(viewer, shop.grid_id)
    row = _active(session, shop, badge)
    if row is None:
        raise ValidationError(f"shop {shop_code} holds no active {badge.value} badge to revoke")
    row.revoked_at = now or datetime.now(UTC)
    row.revoked_by_id = viewer.user_id
    row.revoked_reason = reason
    if badge is Badge.PARTY_MEMBER_OPERATOR:
        shop.party_member_operator = False
    session.flush()
    return row


def badge_history(session: Session, viewer: Viewer, shop_code: str) -> pd.DataFrame:
    """Every award and revocation of a shop's badges: badge, awarded_at, revoked_at, revoked_reason."""
    shop = _shop(session, shop_code)
    require_grid(viewer, shop.grid_id)
    rows = session.execute(
        select(ShopBadge.badge, ShopBadge.awarded_at, ShopBadge.revoked_at, ShopBadge.revoked_reason)
        .where(ShopBadge.shop_id == shop.id)
        .order_by(ShopBadge.awarded_at, ShopBadge.id)
    ).all()
    frame = pd.DataFrame(rows, columns=["badge", "awarded_at", "revoked_at", "revoked_reason"])
    frame["badge"] = frame["badge"].map(str)
    return frame


def badges_due_for_revocation(session: Session, viewer: Viewer, *, now: datetime | None = None) -> pd.DataFrame:
    """Active badges that meet the revocation rule, in the viewer's scope.

    Columns: shop_code, shop_name, grid_code, badge, awarded_at, reason.
    """
    now = now or datetime.now(UTC)
    settings = get_settings()
    since = now - timedelta(days=settings.badge_revoke_days)
    active = session.execute(
        select(Shop.id, Shop.shop_code, Shop.name, Grid.id, Grid.code, ShopBadge.badge, ShopBadge.awarded_at)
        .join(Shop, Shop.id == ShopBadge.shop_id)
        .outerjoin(Grid, Grid.id == Shop.grid_id)
        .where(ShopBadge.revoked_at.is_(None))
        .order_by(Shop.shop_code, ShopBadge.badge)
    ).all()
    active = [r for r in active if viewer.is_district_wide or r[3] in viewer.grid_ids]
    shop_ids = sorted({r[0] for r in active})
    columns = ["shop_code", "shop_name", "grid_code", "badge", "awarded_at", "reason"]
    if not shop_ids:
        return pd.DataFrame(columns=columns)
    fixed = dict(
        session.execute(
            select(Case.shop_id, func.count())
            .where(
                Case.shop_id.in_(shop_ids), Case.state == CaseState.CLOSED, Case.outcome == Outcome.FIXED,
                Case.closed_at >= since,
            )
            .group_by(Case.shop_id)
        ).all()
    )
    failed_reviews: dict[int, list[str]] = {}
    for shop_id, answers in session.execute(
        select(HazardCheck.shop_id, HazardCheck.answers).where(
            HazardCheck.shop_id.in_(shop_ids), HazardCheck.passed.is_(False), HazardCheck.performed_at >= since
        )
    ).all():
        urgent = [code for code, ok in (answers or {}).items() if not ok and code in _URGENT_ITEMS]
        if urgent:
            failed_reviews.setdefault(shop_id, []).extend(urgent)
    records = []
    for shop_id, shop_code, name, _, grid_code, badge, awarded_at in active:
        reasons = []
        if fixed.get(shop_id, 0) >= settings.badge_revoke_cases:
            reasons.append(
                f"{fixed[shop_id]} substantiated cases closed as fixed in the last {settings.badge_revoke_days} days"
            )
        if shop_id in failed_reviews:
            reasons.append("failed urgent check item(s): " + ", ".join(sorted(set(failed_reviews[shop_id]))))
        if reasons:
            records.append({"shop_code": shop_code, "shop_name": name, "grid_code": grid_code, "badge": str(badge),
                            "awarded_at": awarded_at, "reason": "; ".join(reasons)})
    return pd.DataFrame(records, columns=columns)
