"""Accounts, roles and grid scope: the jobs behind ``linpu users`` (see ``pipelines.commands.users``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import Engine, select

from governance import accounts, admin_log, org
from governance.admin_log import shell_actor
from governance.auth import hash_password
from governance.catalog import Role
from governance.db import transaction
from governance.errors import LinpuError
from governance.grids import current_generation_id
from governance.login import check_password, reset_password_as
from governance.models import Department, Grid, GridMember, User
from governance.team_accounts import save_team_account


class UserError(LinpuError):
    """A user account that cannot be created or changed as asked."""


def add_user(engine: Engine, *, username: str, password: str, role: str, display_name: str = "",
             grid_codes: tuple[str, ...] = (), member_kind: str | None = None, department: str | None = None,
             now: datetime | None = None, actor: str | None = None) -> User:
    """Create an account; its team fields (grids, member kind, department) through
    ``governance.team_accounts.save_team_account``, in the same transaction."""
    role = Role(role)
    check_password(password, username=username)
    with transaction(engine) as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"field username: {username!r} exists already")
        user = User(username=username, display_name=display_name or username, role=role,
                    password_hash=hash_password(password), is_active=True,
                    created_at=now or datetime.now(UTC))
        session.add(user)
        session.flush()
        save_team_account(session, username, role=role, member_kind=member_kind, department=department,
                          grids=grid_codes, now=now)
        admin_log.record(session, actor=actor or shell_actor(), action="accounts_created", target=username,
                         rows=1, now=now)
    return user


def list_users(engine: Engine) -> pd.DataFrame:
    """username, display_name, role, active, grids (current grid codes, ``;``-separated), member_kind,
    department."""
    with transaction(engine) as session:
        users = session.execute(
            select(User.id, User.username, User.display_name, User.role, User.is_active, User.member_kind,
                   Department.name).outerjoin(Department, Department.id == User.department_id)
            .order_by(User.username)
        ).all()
        scopes = session.execute(
            select(GridMember.user_id, Grid.code).join(Grid, Grid.id == GridMember.grid_id)
            .where(Grid.generation_id == current_generation_id(session), GridMember.user_id.is_not(None))
            .order_by(Grid.code)
        ).all()
    grids: dict[int, list[str]] = {}
    for user_id, code in scopes:
        grids.setdefault(user_id, []).append(code)
    return pd.DataFrame(
        [(u.username, u.display_name, Role(u.role).value, bool(u.is_active), ";".join(grids.get(u.id, [])),
          str(u.member_kind or ""), u.name or "")
         for u in users],
        columns=["username", "display_name", "role", "active", "grids", "member_kind", "department"],
    )


def set_active(engine: Engine, username: str, active: bool, *, actor: str | None = None) -> int:
    """Allow or stop an account's sign-in; the account and its history stay.  Disabling hands the
    account's open sub-tasks back to the grid leader; returns how many."""
    with transaction(engine) as session:
        return accounts.set_active(session, username, active, actor=actor or shell_actor())


def reset_password(engine: Engine, username: str, *, actor: str | None = None) -> str:
    """A one-time password for ``username``, to be replaced at their next sign-in."""
    with transaction(engine) as session:
        return reset_password_as(session, actor or shell_actor(), username)


def move_grids(engine: Engine, source: str, target: str, codes: tuple[str, ...] = (), *,
               actor: str | None = None) -> list[str]:
    """Hand ``source``'s grids (all, or ``codes``) to the grid leader ``target``."""
    with transaction(engine) as session:
        return accounts.move_grids(session, source, target, codes, actor=actor or shell_actor())


def set_user_scope(engine: Engine, username: str, node_id: str | None) -> None:
    """Limit a supervisor to a node's subtree of grids (``None``: the whole district)."""
    with transaction(engine) as session:
        org.set_scope(session, username, node_id)
