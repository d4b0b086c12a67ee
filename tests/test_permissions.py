"""Who the viewer is: roles, grids, disabled accounts (SQLite and PostGIS)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from governance.catalog import Role
from governance.db import transaction
from governance.errors import NotFoundError, PermissionDenied
from governance.models import User
from governance.org import set_scope
from governance.permissions import district_viewer, require_grid, system_viewer, viewer_for
from governance.testing import seed_small_district, seed_two_branches


def test_viewers_carry_their_role_and_grids(engine):
    district = seed_small_district(engine)
    with transaction(engine) as session:
        leader = viewer_for(session, "leader1")
        supervisor = viewer_for(session, "supervisor")
    assert leader.role is Role.GRID_LEADER and leader.grid_ids == {district.grid_ids["G001"]}
    assert not leader.is_district_wide and leader.may_write and not leader.is_supervising
    assert supervisor.is_district_wide and supervisor.is_supervising and supervisor.grid_ids == frozenset()
    assert system_viewer().is_supervising and district_viewer().is_district_wide
    assert not district_viewer().may_write
    require_grid(leader, district.grid_ids["G001"])
    with pytest.raises(PermissionDenied, match="only see and act in their own grids"):
        require_grid(leader, district.grid_ids["G002"])


def test_unknown_and_disabled_users_get_no_viewer(engine):
    seed_small_district(engine)
    with transaction(engine) as session:
        session.execute(update(User).where(User.username == "leader2").values(is_active=False))
    with transaction(engine) as session:
        with pytest.raises(NotFoundError, match="nobody"):
            viewer_for(session, "nobody")
        with pytest.raises(PermissionDenied, match="disabled"):
            viewer_for(session, "leader2")


def test_a_supervisor_with_a_scope_is_a_supervisor_of_that_subtree_only(engine):
    district = seed_small_district(engine)
    with transaction(engine) as session:
        seed_two_branches(session)
        set_scope(session, "supervisor", "b1")
    with transaction(engine) as session:
        secretary = viewer_for(session, "supervisor")
    assert secretary.role is Role.SUPERVISOR and secretary.scope == "b1"
    assert secretary.grid_ids == {district.grid_ids["G001"]}
    assert not secretary.is_district_wide and secretary.is_supervising
    with pytest.raises(PermissionDenied, match="scope b1"):
        require_grid(secretary, district.grid_ids["G002"])
    with transaction(engine) as session:
        set_scope(session, "supervisor", "district")
    with transaction(engine) as session:
        committee = viewer_for(session, "supervisor")
    assert committee.grid_ids == set(district.grid_ids.values()) and not committee.is_district_wide
