"""The viewer: who is looking, with which role, over which grids — what every read and action is scoped by.

The rules that decide what a viewer may do are in ``governance.permissions``.
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.catalog import MemberRole, Role

DISTRICT_ROLES = frozenset({Role.SUPERVISOR, Role.ANALYST, Role.ADMIN})
#: Roles that may dismiss, close as not responsible, dispatch and manage badges.
SUPERVISING_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
#: A member writes in their grids (routine checks of their kind, findings, their sub-tasks); a
#: department changes only the orders and sub-tasks given to it (governance.orders, governance.sub_tasks).
WRITING_ROLES = frozenset({Role.GRID_LEADER, Role.MEMBER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    username: str
    role: Role
    grid_ids: frozenset[int] = frozenset()
    #: A node of the organisation tree the viewer is limited to (``grid_ids`` then holds its
    #: subtree's grids); None: not limited by the tree.
    scope: str | None = None
    #: A member's kind (property, security, fire); None for other roles.
    member_kind: MemberRole | None = None
    #: The department a department account works for; None for other roles.
    department_id: int | None = None

    @property
    def is_district_wide(self) -> bool:
        return self.role in DISTRICT_ROLES and self.scope is None

    @property
    def may_write(self) -> bool:
        return self.role in WRITING_ROLES

    @property
    def is_supervising(self) -> bool:
        return self.role in SUPERVISING_ROLES
