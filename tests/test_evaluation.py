"""The department evaluation (issue 20): each department's line, with the minimum-sample rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from governance.db import transaction
from governance.errors import PermissionDenied
from governance.evaluation import department_evaluation
from governance.orders import accept_order, resolve_order, return_order
from governance.sub_tasks import add_sub_task, complete_sub_task
from governance.testing import IN_G001, seed_small_district, seed_team
from governance.workflow import dispatch, file_case, rate_case, transition

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 09:00 Shanghai


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    seed_team(engine)
    return engine, {n: district.viewer(engine, n) for n in ("leader1", "supervisor", "dept1", "dept2", "analyst")}


def _order(engine, v, department="城管中队"):
    with transaction(engine) as session:
        case = file_case(session, v["leader1"], kind="service_request", category="sanitation", severity="medium",
                         title="门口堆物", lon=IN_G001[0], lat=IN_G001[1], now=NOW)
        dispatch(session, v["supervisor"], case.id, department=department, expected_version=1, now=NOW)
        return case.id


def test_each_department_is_judged_on_its_own_orders_clocks_and_ratings(world):
    engine, v = world
    on_time, late, returned = _order(engine, v), _order(engine, v), _order(engine, v)
    with transaction(engine) as session:
        accept_order(session, v["dept1"], on_time, expected_version=2, now=NOW + timedelta(hours=1))
        resolve_order(session, v["dept1"], on_time, expected_version=3, now=NOW + timedelta(hours=5))
        accept_order(session, v["dept1"], late, expected_version=2, now=NOW + timedelta(hours=4))  # past 11:00
        resolve_order(session, v["dept1"], late, expected_version=3, now=NOW + timedelta(days=30))
        return_order(session, v["dept1"], returned, expected_version=2, reason="非本部门", now=NOW)
        rate_case(session, case_id=on_time, rating=5, now=NOW + timedelta(hours=6))
        rate_case(session, case_id=late, rating=2, now=NOW + timedelta(days=31))
        transition(session, v["leader1"], returned, "take_on", expected_version=3, now=NOW)
        add_sub_task(session, v["leader1"], returned, title="清运", department="街道司法所", limit_hours=2, now=NOW)
    with transaction(engine) as session:
        complete_sub_task(session, v["dept2"], 1, expected_version=1, now=NOW + timedelta(hours=1))
        frame = department_evaluation(session, v["supervisor"], min_orders_for_rank=3).set_index("department")
        small = department_evaluation(session, v["supervisor"], min_orders_for_rank=4)
        with pytest.raises(PermissionDenied):
            department_evaluation(session, v["dept1"])
    line = frame.loc["城管中队"]
    assert (line["received"], line["returned"], line["accepted"], line["accepted_on_time"]) == (3, 1, 2, 1)
    assert (line["resolved"], line["resolved_on_time"], line["mean_rating"]) == (2, 1, 3.5)
    assert line["median_hours_to_resolve"] == pytest.approx((4 + 716) / 2)
    assert line["rankable"] and line["rank"] == 1
    other = frame.loc["街道司法所"]
    assert (other["received"], other["sub_tasks_done"], other["sub_tasks_on_time"]) == (0, 1, 1)
    assert not other["rankable"] and pd_isna(other["rank"])
    assert not small["rankable"].any() and small["rank"].isna().all()  # too few orders to rank anyone


def pd_isna(value) -> bool:
    return value != value
