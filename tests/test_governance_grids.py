"""Adopting rebuilt grids and the badge rules, on SQLite and PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from governance.adoption import adopt_generation
from governance.badges import award_badge, badge_history, badges_due_for_revocation, revoke_badge
from governance.db import transaction
from governance.errors import PermissionDenied, ValidationError
from governance.grids import current_grids
from governance.loop_summary import grid_loop_summary
from governance.models import CaseHistory, Grid, GridGeneration, Shop
from governance.permissions import viewer_for
from governance.queries import case_timeline, cases_frame, grid_team
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.workflow import file_case, record_check, transition

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    viewers = {name: district.viewer(engine, name) for name in ("leader1", "leader2", "supervisor", "admin")}
    return engine, district, viewers


def _file(session, viewer, point, *, at=NOW, shop_code=None):
    return file_case(session, viewer, kind="patrol", category="noise", severity="low", title="t",
                     lon=point[0], lat=point[1], shop_code=shop_code, now=at)


def _new_grids() -> gpd.GeoDataFrame:
    # G001 now covers the west 60% of the old pair; G003 the rest; G002 is gone.
    return gpd.GeoDataFrame(
        {"code": ["G001", "G003"], "n_shops": [1, 1]},
        geometry=[shapely.box(118.90, 25.10, 118.912, 25.11), shapely.box(118.912, 25.10, 118.92, 25.11)],
        crs=4326,
    )


def test_adopting_new_grids_moves_cases_shops_and_members(world):
    engine, district, v = world
    with transaction(engine) as session:
        open_case = _file(session, v["leader2"], IN_G002)
        edge_case = _file(session, v["leader2"], (118.9115, 25.105))  # G002 before, G001 after
        closed = _file(session, v["leader1"], IN_G001)
        for version, action in enumerate(["take_on", "resolve", "confirm"], start=1):
            transition(session, v["leader1"], closed.id, action, expected_version=version, now=NOW)
        ids = (open_case.id, edge_case.id, closed.id)
    with transaction(engine) as session:
        result = adopt_generation(
            session, _new_grids(), {"S-G001": "G001", "S-G002": "G003"},
            method="test-rebuild", params={"target": 10}, quality={"gap_area_m2": 0.0}, now=NOW,
        )
    assert (result.grids, result.cases_moved, result.members_carried) == (2, 3, 2)
    assert result.members_dropped == [("G002", "Leader2"), ("G002", "Fire G002")]
    with transaction(engine) as session:
        current = session.scalars(select(GridGeneration).where(GridGeneration.is_current.is_(True))).all()
        assert [g.id for g in current] == [result.generation_id]
        admin = viewer_for(session, "admin")
        assert current_grids(session, admin)["code"].tolist() == ["G001", "G003"]
        frame = cases_frame(session, admin, now=NOW).set_index("case_id")
        assert frame.loc[ids[0], "grid_code"] == "G003" and frame.loc[ids[1], "grid_code"] == "G001"
        timeline = case_timeline(session, admin, ids[1])
        assert timeline["action"].tolist()[-1] == "regrid"
        assert "moved from grid G002 to G001" in timeline["note"].iloc[-1]
        assert timeline["seq"].tolist() == [1, 2]
        shops = dict(session.execute(select(Shop.shop_code, Grid.code).join(Grid, Grid.id == Shop.grid_id)).all())
        assert shops == {"S-G001": "G001", "S-G002": "G003"}
        # leader1 kept G001 (same code), leader2's G002 is gone.
        leader1, leader2 = viewer_for(session, "leader1"), viewer_for(session, "leader2")
        assert grid_loop_summary(session, leader1, now=NOW)["code"].tolist() == ["G001"]
        assert leader2.grid_ids == frozenset()
        assert grid_team(session, admin, "G001")["role"].tolist() == ["leader", "fire"]
        summary = grid_loop_summary(session, admin, now=NOW).set_index("code")
        assert summary.loc["G001", "closed"] == 1 and summary.loc["G001", "warning"] == 1
        # The moved case can go on along the loop at its new version.
        transition(session, leader1, ids[1], "take_on", expected_version=2, now=NOW)


def test_a_bad_grid_layer_is_refused_and_nothing_changes(world):
    engine, _, v = world
    with transaction(engine) as session:
        _file(session, v["leader1"], IN_G001)
    bad = _new_grids().assign(code=["G001", "G001"])
    with pytest.raises(ValidationError, match="duplicate codes"), transaction(engine) as session:
        adopt_generation(session, bad, {}, method="x", params={}, quality={}, now=NOW)
    with pytest.raises(ValidationError, match="not in the grids layer"), transaction(engine) as session:
        adopt_generation(session, _new_grids(), {"S-G001": "G777"}, method="x", params={}, quality={}, now=NOW)
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(GridGeneration)) == 1
        assert session.scalar(select(func.count()).select_from(CaseHistory)) == 1


def test_a_case_outside_every_new_grid_goes_to_the_nearest_and_says_how_far(world):
    engine, _, v = world
    with transaction(engine) as session:
        case = _file(session, v["leader2"], IN_G002)
    west_only = _new_grids().iloc[:1]
    with transaction(engine) as session:
        adopt_generation(session, west_only, {}, method="x", params={}, quality={}, now=NOW)
        timeline = case_timeline(session, viewer_for(session, "admin"), case.id)
    assert "lies in no new grid, the nearest is" in timeline["note"].iloc[-1]


def test_badges_are_awarded_revoked_and_their_history_kept(world):
    engine, _, v = world
    with transaction(engine) as session:
        award_badge(session, v["supervisor"], "S-G001", "model_shop", now=NOW - timedelta(days=200))
        with pytest.raises(ValidationError, match="already holds"):
            award_badge(session, v["supervisor"], "S-G001", "model_shop", now=NOW)
        with pytest.raises(PermissionDenied):
            award_badge(session, v["leader1"], "S-G001", "trusted_shop", now=NOW)
        with pytest.raises(ValidationError, match="reason is empty"):
            revoke_badge(session, v["supervisor"], "S-G001", "model_shop", reason=" ", now=NOW)
        revoke_badge(session, v["supervisor"], "S-G001", "model_shop", reason="3 complaints", now=NOW)
        award_badge(session, v["supervisor"], "S-G001", "model_shop", now=NOW + timedelta(days=1))
        history = badge_history(session, v["leader1"], "S-G001")
    assert history["badge"].tolist() == ["model_shop", "model_shop"]
    assert history["revoked_reason"].tolist()[0] == "3 complaints" and history["revoked_at"].isna().tolist() == [
        False, True]


def test_repeated_substantiated_complaints_or_a_failed_review_make_a_badge_due(world):
    engine, _, v = world
    lead = v["leader1"]
    with transaction(engine) as session:
        award_badge(session, v["supervisor"], "S-G001", "trusted_shop", now=NOW - timedelta(days=300))
        award_badge(session, v["supervisor"], "S-G002", "pioneer", now=NOW - timedelta(days=300))
        for i in range(3):
            at = NOW - timedelta(days=10 + i)
            case = _file(session, lead, IN_G001, at=at, shop_code="S-G001")
            for version, action in enumerate(["take_on", "resolve", "confirm"], start=1):
                case = transition(session, lead, case.id, action, expected_version=version, now=at)
        assert badges_due_for_revocation(session, v["supervisor"], now=NOW)["shop_code"].tolist() == ["S-G001"]
        record_check(session, v["leader2"], shop_code="S-G002", category="electricity", now=NOW,
                     answers={"elec.no_flying_wiring": True, "elec.rcd": True, "elec.no_ebike_indoor": True,
                              "elec.box_closed": True, "elec.lamp_clearance": True})
        due = badges_due_for_revocation(session, v["supervisor"], now=NOW)
        assert due["shop_code"].tolist() == ["S-G001"]  # a passed check is no failed review
        record_check(session, v["leader2"], shop_code="S-G002", category="amusement_ride", now=NOW,
                     answers={"ride.certificate": False, "ride.daily_log": True, "ride.operator_certified": True,
                              "ride.restraints": True, "ride.emergency_stop": True, "ride.queue_barrier": True})
        due = badges_due_for_revocation(session, v["supervisor"], now=NOW).set_index("shop_code")
        assert "3 substantiated cases" in due.loc["S-G001", "reason"]
        assert "ride.certificate" in due.loc["S-G002", "reason"]
        # 100 days on, the window has passed.
        assert badges_due_for_revocation(session, v["supervisor"], now=NOW + timedelta(days=100)).empty
        assert badges_due_for_revocation(session, lead, now=NOW)["shop_code"].tolist() == ["S-G001"]


def test_a_mall_grid_keeps_its_flag_when_adopted_from_the_gridding_engine(world):
    """The engine marks a mall grid in ``building``; the CLI, the analyst's preview and the
    demo load all adopt its layer as it is, so the flag must survive adoption."""
    engine, _, _ = world
    engine_layer = _new_grids().assign(building=[True, False])
    with transaction(engine) as session:
        adopt_generation(session, engine_layer, {}, method="linpu-gridding", params={}, quality={}, now=NOW)
    with transaction(engine) as session:
        flags = dict(session.execute(
            select(Grid.code, Grid.is_building).join(GridGeneration).where(GridGeneration.is_current.is_(True))
        ).all())
    assert flags == {"G001": True, "G003": False}


def test_the_database_refuses_a_second_current_generation(world):
    engine, _, _ = world
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.add(GridGeneration(method="by hand", params={}, quality={}, is_current=True, created_at=NOW))
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(GridGeneration.is_current.is_(True))) == 1
