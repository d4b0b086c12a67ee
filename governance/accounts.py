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

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import admin_log
from governance.auth import hash_password
from governance.catalog import MemberRole, Role
from governance.errors import NotFoundError, ValidationError
from governance.grids import current_generation_id
from governance.login import end_sign_ins, one_time_password
from governance.models import Department, Grid, GridMember, OrgNode, User
from governance.sub_tasks import hand_back_sub_tasks
from governance.team_accounts import checked_team_fields, save_team_account
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


def member_kind_code(text: str) -> str | None:
    """The member kind a cell names (property, security, fire; 物业, 治安, 消防), or None."""
    return code_for_word("member", text)


def _row_problems(row: AccountRow, grid_codes: set[str], node_ids: set[str],
                  departments: set[str]) -> list[AccountProblem]:
    def problem(field_name: str, message: str) -> AccountProblem:
        return AccountProblem(row.row, field_name, message)

    problems = []
    if not USERNAME.match(row.username):
        problems.append(problem("username", f"{row.username!r} is not a user name (letters, digits, _ . -; "
                                "up to 64) / 用户名只能含字母、数字、_ . -，最长 64"))
    if len(row.display_name) > 128:
        problems.append(problem("display_name", "longer than 128 characters / 姓名超过 128 个字符"))
    role = role_code(row.role)
    kind = member_kind_code(row.member_kind) if row.member_kind else None
    if role is None:
        problems.append(problem("role", f"{row.role!r} is not a role ({', '.join(r.value for r in Role)}) "
                                "/ 角色无效"))
    elif row.member_kind and kind is None:
        problems.append(problem("member_kind", f"{row.member_kind!r} is not a member kind (property, security, "
                                "fire) / 成员类别只能是 物业、治安、消防"))
    else:
        try:
            checked_team_fields(Role(role), kind, row.department or None, row.grids)
        except ValidationError as exc:
            field_name, _, message = str(exc).removeprefix("field ").partition(": ")
            problems.append(problem("grids" if field_name == "grid" else field_name, message))
    if row.department and row.department not in departments:
        problems.append(problem("department", f"{row.department!r} is not a department (`linpu departments "
                                "list`; add it with `linpu departments add`) / 不是已登记的部门"))
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
    departments = set(session.scalars(select(Department.name)))
    problems: list[AccountProblem] = []
    first: dict[str, int] = {}
    for row in rows:
        problems += _row_problems(row, grid_codes, node_ids, departments)
        key = row.username.lower()
        if key in first:
            problems.append(AccountProblem(row.row, "username", f"{row.username!r} is on row {first[key]} "
                                           f"already / 用户名与第 {first[key]} 行重复"))
        first.setdefault(key, row.row)
    return sorted(problems, key=lambda p: p.row)


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
        save_team_account(session, user.username, role=role_code(row.role),
                          member_kind=member_kind_code(row.member_kind) if row.member_kind else None,
                          department=row.department or None, grids=row.grids, now=now)
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


def set_active(session: Session, username: str, active: bool, *, actor: str) -> int:
    """Allow or stop an account's sign-in (the account and its history stay); logged.

    Disabling ends its sign-ins and hands its open sub-tasks back to the grid leader; returns how many.
    """
    user = _user(session, username)
    user.is_active = active
    handed_back = 0
    if not active:
        end_sign_ins(session, user)
        handed_back = hand_back_sub_tasks(session, user.id, reason=f"{username} was disabled; back with the "
                                          "grid leader / 账号已停用，退回邻铺长")
    admin_log.record(session, actor=actor, action="account_enabled" if active else "account_disabled",
                     target=username, rows=1)
    return handed_back


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
    kept = set(session.scalars(select(GridMember.grid_id).join(Grid, Grid.id == GridMember.grid_id).where(
        GridMember.user_id == old.id, Grid.generation_id == current)))
    hand_back_sub_tasks(session, old.id, keep_grid_ids=kept, reason=f"{source}'s grids moved to {target} "
                        "/ 网格已移交")
    admin_log.record(session, actor=actor, action="grids_moved", target=f"{source} -> {target}: "
                     + ";".join(moving), rows=len(moving))
    return moving
