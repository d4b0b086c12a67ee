"""Who may see and do what: the viewer every query and action is scoped by.

Rights of the loop (DESIGN.md, issue 4):

- a grid leader reads and acts only in the grids they belong to;
- a supervisor reads and acts in every grid, and alone (with admin) may
  dismiss a warning, close a case as not our responsibility, dispatch a
  service request and award or revoke badges;
- a supervisor with a scope (a branch secretary) reads and acts like a
  supervisor, in the grids of that node's subtree of the organisation only;
- a member (property, security, fire) reads and writes in the grids they
  belong to, like a leader, but takes no step of a case's loop: they work
  their sub-tasks (``governance.sub_tasks``) and record the routine checks of
  their kind only (``catalog.MEMBER_CHECK_CATEGORIES``: fire electricity, gas
  and fire safety; property construction and rides; security none);
- a department sees only the orders dispatched to it and the sub-tasks
  given to it, whatever grid they are in, and accepts or returns them;
- an analyst reads everything and changes nothing;
- admin may do anything.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.catalog import MEMBER_CHECK_CATEGORIES, Category, MemberRole, Role
from governance.errors import NotFoundError, OutsideDuty, PermissionDenied
from governance.grids import current_generation_id
from governance.models import Grid, GridMember, User
from governance.org import grid_ids_of_scope
from governance.viewer import Viewer


def viewer_for(session: Session, username: str) -> Viewer:
    """The viewer of a signed-in user, with the grids they belong to in the current generation."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    if not user.is_active:
        raise PermissionDenied(f"user {username!r} is disabled; ask an administrator to enable the account")
    if user.scope is not None:  # a branch secretary: the grids of the node's subtree
        return Viewer(user_id=user.id, username=user.username, role=Role(user.role),
                      grid_ids=grid_ids_of_scope(session, user.scope), scope=user.scope)
    member_kind = MemberRole(user.member_kind) if user.member_kind else None
    grid_ids = frozenset(
        session.scalars(
            select(GridMember.grid_id)
            .join(Grid, Grid.id == GridMember.grid_id)
            .where(GridMember.user_id == user.id, Grid.generation_id == current_generation_id(session))
        ).all()
    )
    return Viewer(user_id=user.id, username=user.username, role=Role(user.role), grid_ids=grid_ids,
                  member_kind=member_kind if user.role == Role.MEMBER else None,
                  department_id=user.department_id if user.role == Role.DEPARTMENT else None)


def system_viewer() -> Viewer:
    """The actor of batch jobs (demo load, CLI import): district-wide admin, no user row."""
    return Viewer(user_id=None, username="system", role=Role.ADMIN)


def district_viewer() -> Viewer:
    """A read-only district-wide viewer, for pages and exports shown before sign-in."""
    return Viewer(user_id=None, username="district", role=Role.ANALYST)


def require_grid(viewer: Viewer, grid_id: int | None) -> None:
    """PermissionDenied unless the viewer is district-wide or belongs to the grid."""
    if viewer.is_district_wide:
        return
    if grid_id is None or grid_id not in viewer.grid_ids:
        raise PermissionDenied(
            f"{viewer.username} ({viewer.role.value}{', scope ' + viewer.scope if viewer.scope else ''}) "
            "may only see and act in their own grids; "
            "this record belongs to another grid"
        )


def require_write(viewer: Viewer, grid_id: int | None) -> None:
    """PermissionDenied unless the viewer may change records in this grid."""
    if not viewer.may_write:
        if viewer.role is Role.DEPARTMENT:
            raise PermissionDenied(
                f"{viewer.username} works for a department: a department accepts or returns the orders and "
                "sub-tasks given to it and changes nothing else"
            )
        raise PermissionDenied(
            f"{viewer.username} is an {viewer.role.value}: analysts read and export but change nothing"
        )
    require_grid(viewer, grid_id)


def require_duty(viewer: Viewer, category: Category | str) -> None:
    """OutsideDuty when a member records a routine check that is not of its kind; other roles pass."""
    if viewer.role is not Role.MEMBER:
        return
    allowed = tuple(c.value for c in MEMBER_CHECK_CATEGORIES.get(viewer.member_kind, ()))
    if str(category) not in allowed:
        kind = viewer.member_kind.value if viewer.member_kind else "none"
        raise OutsideDuty(
            f"{viewer.username} is a member of kind {kind} and records only the routine checks of that kind "
            f"({', '.join(allowed) or 'none'}); category={str(category)!r} is not one of them "
            "/ 只能记录本职类别的例行检查",
            kind=kind, category=str(category), allowed=allowed,
        )


def require_check(viewer: Viewer, grid_id: int | None, category: Category | str) -> None:
    """PermissionDenied unless the viewer may record a routine check of ``category`` in this grid:
    write there (``require_write``) and, a member, check only its kind's categories (``require_duty``)."""
    require_write(viewer, grid_id)
    require_duty(viewer, category)


def require_supervising(viewer: Viewer, what: str) -> None:
    if not viewer.is_supervising:
        raise PermissionDenied(
            f"only a supervisor (or admin) may {what}; {viewer.username} is a {viewer.role.value}"
        )


def require_district_supervising(viewer: Viewer, what: str) -> None:
    """PermissionDenied unless a supervisor or admin of the whole district, e.g. to save a new
    grid generation: a branch secretary's shops are part of the district, and a generation built
    from them alone would replace every other branch's grids."""
    require_supervising(viewer, what)
    if not viewer.is_district_wide:
        raise PermissionDenied(
            f"only a supervisor of the whole district (or the admin) may {what}; "
            f"{viewer.username} is limited to the organisation node {viewer.scope}"
        )


def require_admin(viewer: Viewer, what: str) -> None:
    """PermissionDenied unless the viewer is the admin (the office clerk), e.g. to apply a register."""
    if viewer.role is not Role.ADMIN:
        raise PermissionDenied(
            f"only the admin (the office clerk) may {what}; {viewer.username} is a {viewer.role.value}"
        )
