"""An account's team fields: role, member kind, department and grids, set in one place.

``save_team_account`` is the one function that gives an account its place in
the team; ``linpu users add`` calls it, and so does every other path that
creates or changes accounts (``linpu users import``).  Leaving grids or the
member role hands the account's open sub-tasks in those grids back to the
grid leader (``sub_tasks.hand_back_sub_tasks``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.catalog import MEMBER_KINDS, MemberRole, Role
from governance.departments import department_named
from governance.errors import NotFoundError, ValidationError
from governance.grids import current_generation_id
from governance.models import Grid, GridMember, User
from governance.sub_tasks import hand_back_sub_tasks, member_grid_ids
from governance.viewer import Viewer

#: Roles whose accounts belong to grids.
GRID_ROLES = frozenset({Role.GRID_LEADER, Role.MEMBER})


def _a(role: Role) -> str:
    word = role.value.replace("_", " ")
    return ("an " if word[0] in "aeiou" else "a ") + word


def checked_team_fields(role: Role, member_kind: str | None, department: str | None,
                        grids: Sequence[str]) -> MemberRole | None:
    """The member kind the fields give ``role``; ValidationError ("field F: …") when they do not fit it."""
    kind = None
    if role is Role.MEMBER:
        allowed = ", ".join(k.value for k in MEMBER_KINDS)
        if not member_kind:
            raise ValidationError(f"field member_kind: a member needs a kind ({allowed})")
        try:
            kind = MemberRole(member_kind)
        except ValueError:
            kind = None
        if kind not in MEMBER_KINDS:
            raise ValidationError(f"field member_kind: {member_kind!r} is not known; allowed: {allowed}")
    elif member_kind:
        raise ValidationError(f"field member_kind: only a member has a kind, not {_a(role)}")
    if role is Role.DEPARTMENT and not department:
        raise ValidationError("field department: a department account needs its department")
    if role is not Role.DEPARTMENT and department:
        raise ValidationError(f"field department: only a department account has a department, not {_a(role)}")
    if role in GRID_ROLES and not grids:
        raise ValidationError(f"field grid: {_a(role)} needs at least one grid")
    if role not in GRID_ROLES and grids:
        raise ValidationError(f"field grid: {_a(role)} belongs to no grid; --grid is for grid leaders and members")
    return kind


def current_grids_named(session: Session, codes: Sequence[str]) -> list[Grid]:
    """The current grids of these codes; ValidationError naming the missing ones."""
    if not codes:
        return []
    found = session.scalars(
        select(Grid).where(Grid.generation_id == current_generation_id(session), Grid.code.in_(list(codes)))
    ).all()
    missing = sorted(set(codes) - {g.code for g in found})
    if missing:
        raise ValidationError(f"field grid: {', '.join(missing)} not among the current grids "
                              "(see `linpu export --layer grids`)")
    return list(found)


def save_team_account(session: Session, username: str, *, role: Role | str, member_kind: str | None = None,
                      department: str | None = None, grids: Sequence[str] = (),
                      actor: Viewer | None = None, now: datetime | None = None) -> User:
    """Give an existing account its role, member kind, department and current grids.

    The account's memberships of the current grids are replaced by ``grids``
    (as leader, or as a member of its kind).  Open sub-tasks in the grids it
    leaves, or all of them when it stops being a member, go back to the leader.
    Raises ValidationError or NotFoundError naming the field; nothing is
    written then.
    """
    role = Role(role)
    kind = checked_team_fields(role, member_kind, department, grids)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"field username: no user named {username!r}")
    target = department_named(session, department) if department else None
    chosen = current_grids_named(session, grids)
    before = member_grid_ids(session, user.id)
    user.role, user.member_kind = role, kind
    user.department_id = target.id if target else None
    current = select(Grid.id).where(Grid.generation_id == current_generation_id(session))
    session.execute(delete(GridMember).where(GridMember.user_id == user.id, GridMember.grid_id.in_(current)))
    for grid in chosen:
        session.add(GridMember(grid_id=grid.id, user_id=user.id, role=kind or MemberRole.LEADER,
                               name=user.display_name, phone=user.phone or ""))
    session.flush()
    keep = {g.id for g in chosen}
    if before - keep:
        hand_back_sub_tasks(session, user.id, keep_grid_ids=keep, actor=actor, now=now,
                            reason=f"{username} left the grid; back with its leader")
    return user


__all__ = ["GRID_ROLES", "checked_team_fields", "current_grids_named", "save_team_account"]
