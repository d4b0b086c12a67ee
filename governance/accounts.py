"""Accounts in bulk: the one account format, checked whole and applied in one transaction.

The format (shared decision "One account file"): ``username, display_name,
role, grids, member_kind, department, scope, phone``; grid codes separated by
``;``.  The file reader (``pipelines.accounts``) turns a CSV or XLSX into
:class:`AccountRow` values; here every row is checked against the database
(:func:`check_accounts`) and, only when no row has a problem, every account
is created or updated (:func:`apply_accounts`).  A new account gets a
one-time password and must choose its own at first sign-in
(``governance.login``); an existing one keeps its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance import admin_log
from governance.auth import hash_password
from governance.catalog import MemberRole, Role
from governance.errors import NotFoundError, ValidationError
from governance.grids import current_generation_id
from governance.login import end_sign_ins, one_time_password
from governance.models import Grid, GridMember, OrgNode, User
from governance.words import code_for_word

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PHONE = re.compile(r"^[0-9+\- ()]{3,32}$")


@dataclass(frozen=True)
class AccountRow:
    """One row of an account file, as text; ``row`` is its line in the file."""

    row: int
    username: str
    display_name: str = ""
    role: str = ""
    grids: tuple[str, ...] = ()
    member_kind: str = ""
    department: str = ""
    scope: str = ""
    phone: str = ""


@dataclass(frozen=True)
class AccountProblem:
    row: int
    field: str
    message: str


@dataclass
class AccountsApplied:
    """What :func:`apply_accounts` did; ``passwords`` holds the new accounts' one-time passwords."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)


def role_code(text: str) -> str | None:
    """The role a cell names: its code, or the Chinese or English word the app shows."""
    return code_for_word("role", text)


def _team_columns_problem(row: AccountRow) -> AccountProblem | None:
    # Member and department accounts arrive with issue 20; until then their columns are refused
    # here, in one place, so switching them on is one change.
    if row.member_kind or row.role in ("member", "department", "成员", "部门"):
        return AccountProblem(row.row, "member_kind" if row.member_kind else "role",
                              "member accounts are not supported yet; record team members without an "
                              "account with `linpu members import` / 暂不支持成员账号，请用 members import 登记")
    if row.department:
        return AccountProblem(row.row, "department", "department accounts are not supported yet "
                              "/ 暂不支持部门账号")
    return None


def _row_problems(row: AccountRow, grid_codes: set[str], node_ids: set[str]) -> list[AccountProblem]:
    def problem(field_name: str, message: str) -> AccountProblem:
        return AccountProblem(row.row, field_name, message)

    team = _team_columns_problem(row)
    if team:
        return [team]
    problems = []
    if not USERNAME.match(row.username):
        problems.append(problem("username", f"{row.username!r} is not a user name (letters, digits, _ . -; "
                                "up to 64) / 用户名只能含字母、数字、_ . -，最长 64"))
    if len(row.display_name) > 128:
        problems.append(problem("display_name", "longer than 128 characters / 姓名超过 128 个字符"))
    role = role_code(row.role)
    if role is None:
        problems.append(problem("role", f"{row.role!r} is not a role ({', '.join(r.value for r in Role)}) "
                                "/ 角色无效"))
    elif role == Role.GRID_LEADER and not row.grids:
        problems.append(problem("grids", "a grid leader needs at least one grid / 邻铺长至少要有一个网格"))
    elif role != Role.GRID_LEADER and row.grids:
        problems.append(problem("grids", f"a {role} sees the whole district; grids are for grid leaders "
                                "/ 只有邻铺长填写网格"))
    missing = [c for c in row.grids if c not in grid_codes]
    if missing:
        problems.append(problem("grids", f"{', '.join(missing)} not among the current grids / 不是现有网格"))
    if row.scope and role != Role.SUPERVISOR:
        problems.append(problem("scope", "only a supervisor has a scope / 只有督办员可限定范围"))
    elif row.scope and row.scope not in node_ids:
        problems.append(problem("scope", f"{row.scope!r} is not a node of the organisation tree "
                                "(`linpu org show`) / 不是组织架构中的节点"))
    if row.phone and not PHONE.match(row.phone):
        problems.append(problem("phone", f"{row.phone!r} is not a phone number / 电话号码无效"))
    return problems


def check_accounts(session: Session, rows: list[AccountRow]) -> list[AccountProblem]:
    """Every reason the rows cannot be applied as they are; empty when all can."""
    grid_codes = set(session.scalars(select(Grid.code).where(Grid.generation_id == current_generation_id(session))))
    node_ids = set(session.scalars(select(OrgNode.node_id)))
    problems: list[AccountProblem] = []
    first: dict[str, int] = {}
    for row in rows:
        problems += _row_problems(row, grid_codes, node_ids)
        key = row.username.lower()
        if key in first:
            problems.append(AccountProblem(row.row, "username", f"{row.username!r} is on row {first[key]} "
                                           f"already / 用户名与第 {first[key]} 行重复"))
        first.setdefault(key, row.row)
    return sorted(problems, key=lambda p: p.row)


def set_leader_grids(session: Session, user: User, codes: tuple[str, ...]) -> None:
    """Make ``user`` the leader member of exactly ``codes`` among the current grids."""
    current = current_generation_id(session)
    grids = session.scalars(select(Grid).where(Grid.generation_id == current, Grid.code.in_(codes))).all()
    session.execute(delete(GridMember).where(
        GridMember.user_id == user.id, GridMember.role == MemberRole.LEADER,
        GridMember.grid_id.in_(select(Grid.id).where(Grid.generation_id == current))))
    session.add_all(GridMember(grid_id=g.id, user_id=user.id, role=MemberRole.LEADER, name=user.display_name,
                               phone=user.phone or "") for g in grids)
    session.flush()


def apply_accounts(session: Session, rows: list[AccountRow], *, actor: str,
                   now: datetime | None = None) -> AccountsApplied:
    """Create or update every account of ``rows`` in the caller's transaction.

    Raises ValidationError (nothing written) when :func:`check_accounts` finds a problem.
    """
    problems = check_accounts(session, rows)
    if problems:
        first = problems[0]
        raise ValidationError(f"row {first.row} field {first.field}: {first.message}")
    now = now or datetime.now(UTC)
    done = AccountsApplied()
    existing = {u.username.lower(): u for u in session.scalars(select(User))}
    for row in rows:
        user = existing.get(row.username.lower())
        if user is None:
            password = one_time_password()
            user = User(username=row.username, password_hash=hash_password(password), is_active=True,
                        must_change_password=True, created_at=now, failed_logins=0)
            session.add(user)
            done.created.append(row.username)
            done.passwords[row.username] = password
        else:
            done.updated.append(user.username)
        user.display_name = row.display_name or user.display_name or row.username
        user.role = Role(role_code(row.role))
        user.scope = row.scope or None
        user.phone = row.phone or None
        session.flush()
        set_leader_grids(session, user, row.grids)
    if done.created:
        admin_log.record(session, actor=actor, action="accounts_created", target=", ".join(done.created)[:255],
                         rows=len(done.created), now=now)
    if done.updated:
        admin_log.record(session, actor=actor, action="accounts_updated", target=", ".join(done.updated)[:255],
                         rows=len(done.updated), now=now)
    return done


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"field username: no user named {username!r} / 没有用户 {username!r}")
    return user


def set_active(session: Session, username: str, active: bool, *, actor: str) -> None:
    """Allow or stop an account's sign-in (the account and its history stay); logged."""
    user = _user(session, username)
    user.is_active = active
    if not active:
        end_sign_ins(session, user)
    admin_log.record(session, actor=actor, action="account_enabled" if active else "account_disabled",
                     target=username, rows=1)


def move_grids(session: Session, source: str, target: str, codes: tuple[str, ...] = (), *,
               actor: str) -> list[str]:
    """Hand grids led by ``source`` to the grid leader ``target`` (all of them when ``codes`` is
    empty); the moved codes.  Takes effect at the next page load of both (grids are read per request)."""
    old, new = _user(session, source), _user(session, target)
    if Role(new.role) is not Role.GRID_LEADER:
        raise ValidationError(f"field target: {target!r} is a {Role(new.role).value}, not a grid leader "
                              "/ 接收人不是邻铺长")
    current = current_generation_id(session)
    led = session.scalars(select(GridMember).join(Grid, Grid.id == GridMember.grid_id).where(
        GridMember.user_id == old.id, GridMember.role == MemberRole.LEADER, Grid.generation_id == current)).all()
    by_code = {m.grid.code: m for m in led}
    missing = [c for c in codes if c not in by_code]
    if missing:
        raise ValidationError(f"field grid: {source!r} does not lead {', '.join(missing)} / 该用户不负责这些网格")
    moving = sorted(codes or by_code)
    if not moving:
        raise ValidationError(f"field source: {source!r} leads no current grid / 该用户没有网格")
    already = set(session.scalars(select(Grid.code).join(GridMember, GridMember.grid_id == Grid.id).where(
        GridMember.user_id == new.id, GridMember.role == MemberRole.LEADER, Grid.generation_id == current)))
    for code in moving:
        member = by_code[code]
        if code in already:
            session.delete(member)
        else:
            member.user_id, member.name, member.phone = new.id, new.display_name, new.phone or ""
    session.flush()
    admin_log.record(session, actor=actor, action="grids_moved", target=f"{source} -> {target}: "
                     + ";".join(moving), rows=len(moving))
    return moving
