"""The demo's "+N" team with accounts and its departments (issue 20).

``departments.csv`` holds the departments as ``linpu departments add NAME
--default CATEGORY …`` takes them: the six service departments of the
practice (``catalog.DEFAULT_SERVICE_DEPARTMENTS``, each the default of its
service) and two that take nuisance and hazard sub-tasks.  ``users.csv`` is
the one account file of ``linpu users import`` (username, display_name, role,
grids, member_kind, department, scope, phone); this module adds the member
accounts (fire, security and property people, each holding several
neighbouring grids by code) and one account per department.

Fire and security accounts cover every grid; property accounts only the first
branch's grids, whose property companies joined: the second branch keeps its
property people as team members without an account (``members.csv``), so the
demo shows both.  A member row of ``members.csv`` whose grid and kind an
account covers is left out: each grid has one person of each kind.

Draws from a generator of its own (names only), so the rest of the demo keeps its draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from governance.catalog import DEFAULT_SERVICE_DEPARTMENTS, SERVICE_CATEGORIES, MemberRole, Role
from pipelines.demo_org import grid_codes
from pipelines.demo_people import person_names

DEPARTMENT_COLUMNS = ("name", "default_for", "auto_for")
USER_COLUMNS = ("username", "display_name", "role", "grids", "member_kind", "department", "scope", "phone")

#: The department accounts' user names, by department: the six services' first, then the two others.
DEPARTMENT_USERS: dict[str, str] = {
    DEFAULT_SERVICE_DEPARTMENTS[category]: username
    for category, username in zip(SERVICE_CATEGORIES, ("dept_office", "dept_justice", "dept_economy",
                                                       "dept_labour", "dept_culture", "dept_social"), strict=True)
}
ENFORCEMENT = "城管执法中队"  # road occupation, shop fronts, fire exits blocked by goods
MARKET = "市场监管所"  # licences, food and cooking-fume equipment
DEPARTMENT_USERS |= {ENFORCEMENT: "dept_enforcement", MARKET: "dept_market"}

#: How many accounts of each kind share the grids they cover (consecutive codes).
MEMBER_ACCOUNTS = {MemberRole.FIRE: 3, MemberRole.SECURITY: 4, MemberRole.PROPERTY: 6}


def build_departments() -> list[dict]:
    """The rows of ``departments.csv``: name, default_for and auto_for (``;``-separated service codes)."""
    rows = [{"name": DEFAULT_SERVICE_DEPARTMENTS[c], "default_for": c.value, "auto_for": ""}
            for c in SERVICE_CATEGORIES]
    rows += [{"name": name, "default_for": "", "auto_for": ""} for name in (ENFORCEMENT, MARKET)]
    return rows


def covered_grids(kind: MemberRole, n_grids: int) -> list[str]:
    """The grid codes the accounts of ``kind`` cover (property: the first branch's, as demo_org splits them)."""
    codes = grid_codes(n_grids)
    return codes[: (n_grids + 1) // 2] if kind is MemberRole.PROPERTY else codes


def account_rows(users: Sequence[dict], n_grids: int) -> list[dict]:
    """The people of ``demo_people`` and ``demo_org`` as rows of the account file (a leader's grid by code)."""
    codes = grid_codes(n_grids)
    return [{"username": u["username"], "display_name": u["display_name"], "role": u["role"],
             "grids": codes[int(u["grid_index"]) - 1] if u["grid_index"] else "", "member_kind": "",
             "department": "", "scope": u.get("scope", ""), "phone": ""} for u in users]


def build_team_accounts(seed: int, n_grids: int, taken_names: set[str]) -> list[dict]:
    """Member accounts (``fire01`` …, several grids each) and one account per department."""
    rng = np.random.default_rng([seed, 20])
    wanted = sum(MEMBER_ACCOUNTS.values()) + len(DEPARTMENT_USERS)
    names = iter([n for n in person_names(rng, wanted + len(taken_names)) if n not in taken_names][:wanted])
    rows = []
    for kind, count in MEMBER_ACCOUNTS.items():
        for k, part in enumerate(np.array_split(np.asarray(covered_grids(kind, n_grids)), count), start=1):
            rows.append({"username": f"{kind.value}{k:02d}", "display_name": next(names),
                         "role": Role.MEMBER.value, "grids": ";".join(part), "member_kind": kind.value,
                         "department": "", "scope": "", "phone": f"139-0000-{len(rows) + 1:04d}"})
    for i, (department, username) in enumerate(DEPARTMENT_USERS.items(), start=1):
        rows.append({"username": username, "display_name": next(names), "role": Role.DEPARTMENT.value,
                     "grids": "", "member_kind": "", "department": department, "scope": "",
                     "phone": f"0595-8700-{i:04d}"})
    return rows


def members_without_account(members: Sequence[dict], accounts: Sequence[dict], n_grids: int) -> list[dict]:
    """The rows of ``members.csv`` whose grid and kind no member account covers."""
    covered = {(code, a["member_kind"]) for a in accounts if a["role"] == Role.MEMBER
               for code in a["grids"].split(";")}
    codes = grid_codes(n_grids)
    return [m for m in members if (codes[int(m["grid_index"]) - 1], m["member_role"]) not in covered]


__all__ = [
    "DEPARTMENT_COLUMNS", "DEPARTMENT_USERS", "ENFORCEMENT", "MARKET", "MEMBER_ACCOUNTS", "USER_COLUMNS",
    "account_rows", "build_departments", "build_team_accounts", "covered_grids", "members_without_account",
]
