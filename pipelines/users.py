"""``linpu users add|list|disable|enable``: accounts, roles and grid scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import pandas as pd
from sqlalchemy import Engine, select

from governance.auth import hash_password
from governance.catalog import MemberRole, Role
from governance.db import transaction
from governance.errors import LinpuError, NotFoundError
from governance.models import Grid, GridGeneration, GridMember, User
from pipelines.commands.common import LinpuGroup, open_current_database

MIN_PASSWORD = 8


class UserError(LinpuError):
    """A user account that cannot be created or changed as asked."""


def _current_grids(session, codes: tuple[str, ...]) -> list[Grid]:
    if not codes:
        return []
    found = session.scalars(
        select(Grid).join(GridGeneration, GridGeneration.id == Grid.generation_id)
        .where(GridGeneration.is_current.is_(True), Grid.code.in_(codes))
    ).all()
    missing = sorted(set(codes) - {g.code for g in found})
    if missing:
        raise UserError(f"field grid: {', '.join(missing)} not among the current grids "
                        "(see `linpu export --layer grids`)")
    return list(found)


def add_user(engine: Engine, *, username: str, password: str, role: str, display_name: str = "",
             grid_codes: tuple[str, ...] = (), now: datetime | None = None) -> User:
    """Create an account; a grid leader becomes the leader member of the given grids."""
    role = Role(role)
    if len(password) < MIN_PASSWORD:
        raise UserError(f"field password: at least {MIN_PASSWORD} characters")
    if role is Role.GRID_LEADER and not grid_codes:
        raise UserError("field grid: a grid leader needs at least one --grid")
    if role is not Role.GRID_LEADER and grid_codes:
        raise UserError(f"field grid: a {role.value} sees the whole district; --grid is for grid leaders")
    with transaction(engine) as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"field username: {username!r} exists already")
        grids = _current_grids(session, grid_codes)
        user = User(username=username, display_name=display_name or username, role=role,
                    password_hash=hash_password(password), is_active=True,
                    created_at=now or datetime.now(UTC))
        session.add(user)
        session.flush()
        for grid in grids:
            session.add(GridMember(grid_id=grid.id, user_id=user.id, role=MemberRole.LEADER,
                                   name=user.display_name))
    return user


def list_users(engine: Engine) -> pd.DataFrame:
    """username, display_name, role, active, grids (current grid codes, ``;``-separated)."""
    with transaction(engine) as session:
        users = session.execute(
            select(User.id, User.username, User.display_name, User.role, User.is_active).order_by(User.username)
        ).all()
        scopes = session.execute(
            select(GridMember.user_id, Grid.code).join(Grid, Grid.id == GridMember.grid_id)
            .join(GridGeneration, GridGeneration.id == Grid.generation_id)
            .where(GridGeneration.is_current.is_(True), GridMember.user_id.is_not(None))
            .order_by(Grid.code)
        ).all()
    grids: dict[int, list[str]] = {}
    for user_id, code in scopes:
        grids.setdefault(user_id, []).append(code)
    return pd.DataFrame(
        [(u.username, u.display_name, Role(u.role).value, bool(u.is_active), ";".join(grids.get(u.id, [])))
         for u in users],
        columns=["username", "display_name", "role", "active", "grids"],
    )


def set_active(engine: Engine, username: str, active: bool) -> None:
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"field username: no user named {username!r}")
        user.is_active = active


@click.group("users", cls=LinpuGroup)
def users() -> None:
    """Accounts: add, list, disable, enable."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", "display_name", default="", help="Name shown in the app (Chinese).")
@click.option("--grid", "grid_codes", multiple=True, help="Grid code a grid leader leads; repeat.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Asked for when not given.")
def users_add(username, role, display_name, grid_codes, password):
    """Create an account (argon2-hashed password)."""
    engine = open_current_database()
    add_user(engine, username=username, password=password, role=role, display_name=display_name,
             grid_codes=tuple(grid_codes))
    scope = f", grids {', '.join(grid_codes)}" if grid_codes else ""
    click.echo(f"user {username} added as {role}{scope}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json):
    """Every account with role, state and grids."""
    frame = list_users(open_current_database(announce=not as_json))
    if as_json:
        click.echo(json.dumps(frame.to_dict(orient="records"), ensure_ascii=False, indent=2))
        return
    for row in frame.itertuples():
        state = "active" if row.active else "disabled"
        click.echo(f"{row.username}\t{row.display_name}\t{row.role}\t{state}\t{row.grids}")
    click.echo(f"{len(frame)} users")


@users.command("disable")
@click.argument("username")
def users_disable(username):
    """Stop an account from signing in (it and its history stay)."""
    set_active(open_current_database(), username, False)
    click.echo(f"user {username} disabled")


@users.command("enable")
@click.argument("username")
def users_enable(username):
    """Allow a disabled account to sign in again."""
    set_active(open_current_database(), username, True)
    click.echo(f"user {username} enabled")
