"""The organisation tree: street committee ▸ district committee ▸ branches ▸ party-member shops.

Nodes answer for grids (linked by grid code, so a re-gridding that keeps a
code keeps its node) and for party-member shops (by shop code).  A
supervisor whose account has a ``scope`` (a node id) is a branch secretary
or a committee's supervisor: ``permissions.viewer_for`` gives them the grids
of that node's subtree and nothing else (``grid_ids_of_scope``).  The tree
also gives each grid its node at every level, for the roll-ups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from governance.catalog import OrgLevel, Role
from governance.errors import NotFoundError, ValidationError
from governance.grids import current_generation_id
from governance.models import Grid, OrgNode, OrgNodeGrid, OrgNodeShop, Shop, User

#: The level a node's parent must have (the top has none).
PARENT_LEVEL = {
    OrgLevel.STREET_COMMITTEE: None,
    OrgLevel.DISTRICT_COMMITTEE: OrgLevel.STREET_COMMITTEE,
    OrgLevel.BRANCH: OrgLevel.DISTRICT_COMMITTEE,
}
LEVELS = tuple(OrgLevel)


@dataclass(frozen=True)
class NodeRow:
    """One row of an organisation file, as read (``row``: the number users see)."""

    row: int
    node_id: str
    parent_id: str
    level: str
    name: str
    grids: tuple[str, ...] = ()
    shops: tuple[str, ...] = ()


@dataclass(frozen=True)
class TreeProblem:
    row: int
    field: str
    message: str


def _structure_problems(rows: list[NodeRow]) -> list[TreeProblem]:
    problems, seen = [], {}
    for r in rows:
        if not r.node_id:
            problems.append(TreeProblem(r.row, "node_id", "empty"))
        elif r.node_id in seen:
            problems.append(TreeProblem(r.row, "node_id", f"{r.node_id!r} repeats row {seen[r.node_id]}"))
        else:
            seen[r.node_id] = r.row
        if not r.name:
            problems.append(TreeProblem(r.row, "name", "empty"))
        if r.level not in {level.value for level in OrgLevel}:
            problems.append(TreeProblem(r.row, "level", f"{r.level!r} is not one of "
                                        + ", ".join(level.value for level in OrgLevel)))
    levels = {r.node_id: r.level for r in rows}
    for r in rows:
        if r.level not in {level.value for level in OrgLevel}:
            continue
        wanted = PARENT_LEVEL[OrgLevel(r.level)]
        if wanted is None and r.parent_id:
            problems.append(TreeProblem(r.row, "parent_id", "a street committee is the top: no parent"))
        elif wanted is not None and levels.get(r.parent_id) != wanted.value:
            problems.append(TreeProblem(r.row, "parent_id", f"{r.parent_id!r} is not a {wanted.value} "
                                        "of this file"))
    tops = [r for r in rows if r.level == OrgLevel.STREET_COMMITTEE.value]
    if len(tops) != 1:
        problems.append(TreeProblem(tops[1].row if len(tops) > 1 else 1, "level",
                                    f"one street_committee expected, found {len(tops)}"))
    return problems


def _link_problems(rows: list[NodeRow], field: str, known: set[str], what: str) -> list[TreeProblem]:
    problems, owner = [], {}
    for r in rows:
        for code in getattr(r, field):
            if code not in known:
                problems.append(TreeProblem(r.row, field, f"{code!r} is not among the {what}"))
            elif code in owner:
                problems.append(TreeProblem(r.row, field, f"{code!r} is listed by row {owner[code]} already"))
            else:
                owner[code] = r.row
    return problems


def check_tree(session: Session, rows: list[NodeRow]) -> list[TreeProblem]:
    """Every reason the rows are not one tree of known grids and open shops; empty when fine."""
    grid_codes = set(session.scalars(select(Grid.code).where(Grid.generation_id == current_generation_id(session))))
    shop_codes = set(session.scalars(select(Shop.shop_code)))
    problems = _structure_problems(rows)
    problems += _link_problems(rows, "grids", grid_codes, "current grids")
    problems += _link_problems(rows, "shops", shop_codes, "shops of the register")
    ids = {r.node_id for r in rows}
    for username, scope in session.execute(select(User.username, User.scope).where(User.scope.is_not(None))):
        if scope not in ids:
            problems.append(TreeProblem(1, "node_id", f"{scope!r} is the scope of account {username!r}; "
                                        "keep it in the file or change the account's scope first"))
    return sorted(problems, key=lambda p: p.row)


def replace_tree(session: Session, rows: list[NodeRow]) -> None:
    """Store ``rows`` as the whole tree, replacing any stored one; ValidationError (nothing
    written) when :func:`check_tree` finds a problem."""
    problems = check_tree(session, rows)
    if problems:
        first = problems[0]
        raise ValidationError(f"row {first.row} field {first.field}: {first.message}")
    for model in (OrgNodeShop, OrgNodeGrid):
        session.execute(delete(model))
    session.execute(delete(OrgNode))  # one statement: the parent links are checked at its end
    for level in LEVELS:  # parents first
        session.add_all(OrgNode(node_id=r.node_id, parent_id=r.parent_id or None, level=level, name=r.name)
                        for r in rows if r.level == level.value)
        session.flush()
    session.add_all(OrgNodeGrid(grid_code=code, node_id=r.node_id) for r in rows for code in r.grids)
    session.add_all(OrgNodeShop(shop_code=code, node_id=r.node_id) for r in rows for code in r.shops)
    session.flush()


def has_tree(session: Session) -> bool:
    return session.scalar(select(OrgNode.node_id).limit(1)) is not None


def subtree(session: Session, node_id: str) -> list[str]:
    """``node_id`` and every node beneath it."""
    children: dict[str, list[str]] = {}
    for node, parent in session.execute(select(OrgNode.node_id, OrgNode.parent_id)):
        children.setdefault(parent, []).append(node)
    found, todo = [], [node_id]
    while todo:
        node = todo.pop()
        found.append(node)
        todo += children.get(node, [])
    return found


def grid_ids_of_scope(session: Session, node_id: str) -> frozenset[int]:
    """The current grids of the node's subtree (none when the node is unknown)."""
    codes = select(OrgNodeGrid.grid_code).where(OrgNodeGrid.node_id.in_(subtree(session, node_id)))
    return frozenset(session.scalars(
        select(Grid.id).where(Grid.generation_id == current_generation_id(session), Grid.code.in_(codes))
    ).all())


def set_scope(session: Session, username: str, node_id: str | None) -> None:
    """Limit a supervisor to a node's subtree (``None``: the whole district again)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"field username: no user named {username!r}")
    if node_id is not None:
        if Role(user.role) is not Role.SUPERVISOR:
            raise ValidationError(f"field scope: {username} is a {Role(user.role).value}; only a supervisor "
                                  "is limited to a node of the organisation (a branch secretary)")
        if session.get(OrgNode, node_id) is None:
            raise NotFoundError(f"field scope: no node {node_id!r} in the organisation tree "
                                "(`linpu org import` stores it)")
    user.scope = node_id


def unassigned_grids(session: Session) -> list[str]:
    """Current grid codes no node answers for (after a re-gridding, the new codes); none
    while no tree is stored."""
    if not has_tree(session):
        return []
    linked = select(OrgNodeGrid.grid_code)
    return list(session.scalars(
        select(Grid.code).where(Grid.generation_id == current_generation_id(session), Grid.code.not_in(linked))
        .order_by(Grid.code)
    ).all())


def grid_levels(session: Session, codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Per grid code its node at each level: columns ``<level>`` (node id) and
    ``<level>_name``; a grid linked to a committee itself has no branch."""
    nodes = {n.node_id: n for n in session.scalars(select(OrgNode))}
    rows = []
    for code, node_id in session.execute(select(OrgNodeGrid.grid_code, OrgNodeGrid.node_id)):
        row: dict[str, str | None] = {"code": code}
        node = nodes.get(node_id)
        while node is not None:
            row[OrgLevel(node.level).value] = node.node_id
            row[f"{OrgLevel(node.level).value}_name"] = node.name
            node = nodes.get(node.parent_id) if node.parent_id else None
        rows.append(row)
    columns = ["code"] + [c for level in LEVELS for c in (level.value, f"{level.value}_name")]
    frame = pd.DataFrame(rows, columns=columns)
    return frame[frame["code"].isin(list(codes))] if codes is not None else frame
