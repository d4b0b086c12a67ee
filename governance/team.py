"""The grid teams: members without an account, and every grid's roster (``linpu grids list``).

Members without an account are the property, security and fire members (and leaders
who do not sign in) that ``linpu members import`` records.

A member is a ``grid_members`` row with no ``user_id``; the supervisor's grid
team table (``queries.grid_team``) shows them beside the account holders.  A
row for a grid, kind and name recorded already updates its phone; nothing is
removed by an import.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance import admin_log
from governance.accounts import PHONE, AccountProblem
from governance.catalog import OPEN_STATES, MemberRole
from governance.errors import ValidationError
from governance.grids import current_generation_id
from governance.models import Case, Grid, GridMember, Shop
from governance.words import code_for_word


@dataclass(frozen=True)
class MemberRow:
    row: int
    grid: str
    member_kind: str
    name: str
    phone: str = ""


def check_members(session: Session, rows: list[MemberRow]) -> list[AccountProblem]:
    """Every reason the rows cannot be recorded; empty when all can."""
    grid_codes = set(session.scalars(select(Grid.code).where(Grid.generation_id == current_generation_id(session))))
    problems = []
    seen: dict[tuple[str, str, str], int] = {}
    for r in rows:
        if r.grid not in grid_codes:
            problems.append(AccountProblem(r.row, "grid", f"{r.grid!r} is not a current grid / 不是现有网格"))
        kind = code_for_word("member", r.member_kind)
        if kind is None:
            problems.append(AccountProblem(r.row, "member_kind", f"{r.member_kind!r} is not a member kind "
                                           f"({', '.join(k.value for k in MemberRole)}) / 成员类别无效"))
        if not r.name or len(r.name) > 128:
            problems.append(AccountProblem(r.row, "name", "required, up to 128 characters / 姓名必填，最长 128"))
        if r.phone and not PHONE.match(r.phone):
            problems.append(AccountProblem(r.row, "phone", f"{r.phone!r} is not a phone number / 电话号码无效"))
        key = (r.grid, kind or r.member_kind, r.name)
        if key in seen:
            problems.append(AccountProblem(r.row, "name", f"the same member as row {seen[key]} / 与第 "
                                           f"{seen[key]} 行重复"))
        seen.setdefault(key, r.row)
    return sorted(problems, key=lambda p: p.row)


def record_members(session: Session, rows: list[MemberRow], *, actor: str) -> tuple[int, int]:
    """Add or update every row's member in the caller's transaction; (added, updated)."""
    problems = check_members(session, rows)
    if problems:
        raise ValidationError(f"row {problems[0].row} field {problems[0].field}: {problems[0].message}")
    grids = {g.code: g.id for g in session.scalars(
        select(Grid).where(Grid.generation_id == current_generation_id(session)))}
    added = updated = 0
    for r in rows:
        kind = MemberRole(code_for_word("member", r.member_kind))
        member = session.scalar(select(GridMember).where(
            GridMember.grid_id == grids[r.grid], GridMember.role == kind, GridMember.name == r.name))
        if member is None:
            session.add(GridMember(grid_id=grids[r.grid], role=kind, name=r.name, phone=r.phone))
            added += 1
        else:
            member.phone = r.phone or member.phone
            updated += 1
    session.flush()
    admin_log.record(session, actor=actor, action="members_imported", target=f"{len(rows)} rows",
                     rows=added + updated)
    return added, updated


def grid_roster(session: Session) -> pd.DataFrame:
    """Every current grid: code, open shops, leader(s), other members (kind:name), open cases."""
    generation = current_generation_id(session)
    grids = session.execute(select(Grid.id, Grid.code).where(Grid.generation_id == generation)
                            .order_by(Grid.code)).all()
    shops = dict(session.execute(select(Shop.grid_id, func.count()).where(Shop.closed_at.is_(None))
                                 .group_by(Shop.grid_id)).all())
    cases = dict(session.execute(select(Case.grid_id, func.count()).where(Case.state.in_(OPEN_STATES))
                                 .group_by(Case.grid_id)).all())
    leaders: dict[int, list[str]] = {}
    members: dict[int, list[str]] = {}
    rank = {kind: i for i, kind in enumerate(MemberRole)}  # leader, property, security, fire
    people = session.execute(select(GridMember.grid_id, GridMember.role, GridMember.name)
                             .join(Grid, Grid.id == GridMember.grid_id).where(Grid.generation_id == generation)).all()
    for grid_id, role, name in sorted(people, key=lambda p: (rank[MemberRole(p[1])], p[2])):
        if MemberRole(role) is MemberRole.LEADER:
            leaders.setdefault(grid_id, []).append(name)
        else:
            members.setdefault(grid_id, []).append(f"{MemberRole(role).value}:{name}")
    return pd.DataFrame(
        [(code, shops.get(gid, 0), ";".join(leaders.get(gid, [])), ";".join(members.get(gid, [])),
          cases.get(gid, 0)) for gid, code in grids],
        columns=["code", "shops", "leader", "members", "open_cases"],
    )
