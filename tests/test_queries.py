"""Read-side figures on SQLite and PostGIS: what a supervisor and a grid leader see."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import delete, func, select, update

from governance.catalog import Category
from governance.check_due import checks_due
from governance.db import transaction
from governance.early_warnings import early_warnings
from governance.errors import NotFoundError, PermissionDenied, ValidationError
from governance.filters import CaseFilter
from governance.grids import current_grids, grid_codes
from governance.loop_summary import grid_loop_summary
from governance.models import GridCategoryStats, GridStats, Shop
from governance.queries import case_timeline, cases_frame, checks_frame, grid_team, open_shops
from governance.testing import IN_G001, IN_G002, seed_small_district
from governance.trends import category_series
from governance.workflow import file_case, rate_case, record_check, transition

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GAS_OK = {"gas.alarm": True, "gas.hose": True, "gas.regulator": True, "gas.extinguisher": True,
          "gas.cylinder_storage": True, "gas.shutoff_valve": True}


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW)
    viewers = {name: district.viewer(engine, name) for name in ("leader1", "leader2", "supervisor", "analyst")}
    return engine, district, viewers


def _file(session, viewer, *, at, point=IN_G001, category="noise", severity="medium", kind="patrol"):
    return file_case(session, viewer, kind=kind, category=category, severity=severity, title="t",
                     lon=point[0], lat=point[1], now=at)


def _walk(session, viewer, case, actions, *, start, step=timedelta(hours=1)):
    at = start
    for action in actions:
        at += step
        case = transition(session, viewer, case.id, action, expected_version=case.version, now=at)
    return case


@pytest.fixture
def busy(world):
    """G001: 3 closed on time, 1 closed late, 1 reopened then closed, 1 overdue warning; G002: 1 open."""
    engine, district, v = world
    lead, t0 = v["leader1"], NOW - timedelta(days=20)
    with transaction(engine) as session:
        for i in range(3):  # medium noise: 3 days to resolve; these take 3 hours
            _walk(session, lead, _file(session, lead, at=t0 + timedelta(days=i)), ["take_on", "resolve", "confirm"],
                  start=t0 + timedelta(days=i))
        _walk(session, lead, _file(session, lead, at=t0), ["take_on", "resolve", "confirm"], start=t0,
              step=timedelta(days=3))  # resolved after 6 days, past 3 working days: late
        reopened = _file(session, lead, at=t0 + timedelta(days=5), kind="service_request")
        reopened = _walk(session, lead, reopened, ["take_on", "resolve", "reopen", "resolve", "confirm"],
                         start=t0 + timedelta(days=5))
        rate_case(session, case_id=reopened.id, rating=4, now=NOW - timedelta(days=1))
        _file(session, lead, at=NOW - timedelta(days=10))  # overdue warning
        _file(session, v["leader2"], at=NOW - timedelta(hours=1), point=IN_G002)
    return world


def test_summary_counts_the_loop_and_how_well_each_grid_closes_it(busy):
    engine, _, v = busy
    with transaction(engine) as session:
        summary = grid_loop_summary(session, v["supervisor"], now=NOW, min_cases_for_rank=5).set_index("code")
    g1, g2 = summary.loc["G001"], summary.loc["G002"]
    assert (g1["warning"], g1["in_progress"], g1["follow_up"], g1["closed"], g1["open"]) == (1, 0, 0, 5, 1)
    assert g1["overdue"] == 1 and g1["worst_state"] == "warning"
    assert g1["oldest_open_days"] == pytest.approx(10)
    assert g1["on_time_rate"] == pytest.approx(3 / 5)  # the late one and the reopened one are not on time
    assert g1["reopen_count"] == 1 and g1["mean_rating"] == pytest.approx(4)
    assert g1["median_days_to_close"] == pytest.approx(3 / 24)
    assert g1["rankable"] and g1["on_time_rank"] == 1
    assert (g2["warning"], g2["overdue"], g2["closed"]) == (1, 0, 0)
    assert not g2["rankable"] and math.isnan(g2["on_time_rank"]) and math.isnan(g2["on_time_rate"])
    assert g1["open_per_10_shops"] == pytest.approx(10)


def test_filtered_summary_agrees_with_the_stored_figures(busy):
    engine, _, v = busy
    everything = CaseFilter(categories=tuple(c.value for c in Category))
    with transaction(engine) as session:
        stored = grid_loop_summary(session, v["supervisor"], now=NOW)
        live = grid_loop_summary(session, v["supervisor"], now=NOW, filters=everything)
        recent = grid_loop_summary(session, v["supervisor"], now=NOW,
                                   filters=CaseFilter(start=NOW - timedelta(days=11))).set_index("code")
    pd.testing.assert_frame_equal(stored, live)
    with transaction(engine) as session:  # a database from before the figures were stored
        session.execute(delete(GridStats))
        pd.testing.assert_frame_equal(grid_loop_summary(session, v["supervisor"], now=NOW), stored)
    assert recent.loc["G001", "total"] == 1 and recent.loc["G001", "closed"] == 0


def test_one_category_is_summed_from_stored_figures_that_agree_with_counting(busy):
    engine, _, v = busy
    lead, t0 = v["leader1"], NOW - timedelta(days=8)
    with transaction(engine) as session:
        _walk(session, lead, _file(session, lead, at=t0, category="gas", severity="high"),
              ["take_on", "resolve", "confirm"], start=t0)
        _file(session, lead, at=t0, category="gas")
        _file(session, v["leader2"], at=t0, category="electricity", point=IN_G002)
    categories = ("noise", "gas", "electricity", "fire_exit")
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(GridCategoryStats)) == 2 * len(Category)
        stored = {c: grid_loop_summary(session, v["supervisor"], now=NOW, filters=CaseFilter(categories=(c,)))
                  for c in categories}
        session.execute(delete(GridCategoryStats))  # as before they were kept: counted live
        live = {c: grid_loop_summary(session, v["supervisor"], now=NOW, filters=CaseFilter(categories=(c,)))
                for c in categories}
    for c in categories:
        pd.testing.assert_frame_equal(stored[c], live[c])
    gas = stored["gas"].set_index("code").loc["G001"]
    assert (gas["total"], gas["closed"], gas["open"]) == (2, 1, 1)
    assert stored["electricity"].set_index("code").loc["G002", "total"] == 1
    assert stored["fire_exit"]["total"].sum() == 0


def test_median_days_to_close_is_exact_to_the_microsecond(world):
    engine, _, v = world
    lead = v["leader1"]
    start = NOW - timedelta(days=5) + timedelta(microseconds=999_600)  # a fraction that rounds up in ms
    step = timedelta(hours=7, seconds=1, microseconds=400_401)
    longer = timedelta(hours=9, microseconds=3)
    with transaction(engine) as session:
        _walk(session, lead, _file(session, lead, at=start), ["take_on", "resolve", "confirm"], start=start,
              step=step)
        odd = grid_loop_summary(session, v["supervisor"], now=NOW).set_index("code")
        _walk(session, lead, _file(session, lead, at=start), ["take_on", "resolve", "confirm"], start=start,
              step=longer)
        stored = grid_loop_summary(session, v["supervisor"], now=NOW).set_index("code")
        live = grid_loop_summary(session, v["supervisor"], now=NOW,
                                 filters=CaseFilter(categories=("noise",))).set_index("code")
    one = (3 * step).total_seconds() / 86400
    assert odd.loc["G001", "median_days_to_close"] == pytest.approx(one, rel=1e-12, abs=0)
    two = (3 * step + 3 * longer).total_seconds() / 2 / 86400  # an even count: the mean of the middle two
    assert stored.loc["G001", "median_days_to_close"] == pytest.approx(two, rel=1e-12, abs=0)
    assert live.loc["G001", "median_days_to_close"] == stored.loc["G001", "median_days_to_close"]


def test_grid_leader_sees_only_their_grid_everywhere(busy):
    engine, district, v = busy
    lead = v["leader1"]
    with transaction(engine) as session:
        record_check(session, v["leader2"], shop_code=district.shop_codes["G002"], category="electricity",
                     answers={"elec.no_flying_wiring": False, "elec.rcd": True, "elec.no_ebike_indoor": True,
                              "elec.box_closed": True, "elec.lamp_clearance": True}, now=NOW)
        assert current_grids(session, lead)["code"].tolist() == ["G001"]
        assert grid_loop_summary(session, lead, now=NOW)["code"].tolist() == ["G001"]
        assert set(cases_frame(session, lead, now=NOW)["grid_code"]) == {"G001"}
        assert open_shops(session, lead)["grid_code"].tolist() == ["G001"]
        assert set(checks_due(session, lead, now=NOW)["grid_code"]) == {"G001"}
        assert checks_frame(session, lead).empty
        assert set(early_warnings(session, lead, now=NOW)["grid_code"]) <= {"G001"}
        assert category_series(session, lead)["raised"].sum() == 6
        other_case = int(cases_frame(session, v["leader2"], now=NOW)["case_id"].iloc[0])
        with pytest.raises(PermissionDenied):
            case_timeline(session, lead, other_case)
        with pytest.raises(PermissionDenied):
            grid_team(session, lead, "G002")
        # Asking for another grid by code gives nothing rather than its rows.
        assert grid_loop_summary(session, lead, filters=CaseFilter(grid_codes=("G002",)), now=NOW).empty
        assert len(grid_loop_summary(session, v["analyst"], now=NOW)) == 2


def test_cases_frame_marks_overdue_from_the_clock(busy):
    engine, _, v = busy
    with transaction(engine) as session:
        frame = cases_frame(session, v["supervisor"], now=NOW)
        later = cases_frame(session, v["supervisor"], now=NOW + timedelta(days=30))
    assert frame["overdue"].sum() == 1
    assert later["overdue"].sum() == 2  # G002's warning is late by then
    assert set(frame.columns) >= {"case_no", "state", "outcome", "grid_code", "due_at", "follow_up_due_at", "version"}


def test_map_points_are_the_most_urgent_open_cases_chosen_in_the_database(busy):
    engine, _, v = busy
    open_states = CaseFilter(states=("warning", "in_progress", "follow_up"))
    with transaction(engine) as session:
        everything = cases_frame(session, v["supervisor"], now=NOW, filters=open_states)
        first = cases_frame(session, v["supervisor"], now=NOW, filters=open_states, limit=1, urgent_first=True)
        newest = cases_frame(session, v["supervisor"], now=NOW, filters=open_states, limit=1)
    assert len(everything) == 2 and set(everything["state"]) == {"warning"}
    # G001's overdue warning is older than G002's fresh one, yet it comes first.
    assert first["overdue"].tolist() == [True] and first["grid_code"].tolist() == ["G001"]
    assert newest["grid_code"].tolist() == ["G002"]
    assert first.geometry.iloc[0].geom_type == "Point" and first.crs.to_epsg() == 4326


def test_series_per_week_and_category_matches_counting_every_case(busy):
    engine, _, v = busy
    with transaction(engine) as session:
        series = category_series(session, v["supervisor"], freq="W")
        noise = category_series(session, v["supervisor"], freq="W", filters=CaseFilter(categories=("noise",)))
        recent = category_series(session, v["supervisor"], freq="D",
                                 filters=CaseFilter(start=NOW - timedelta(days=11)))
        cases = cases_frame(session, v["supervisor"], now=NOW)

    def week(times):
        return pd.to_datetime(times, utc=True).dt.tz_localize(None).dt.to_period("W").dt.start_time

    raised = cases.groupby([week(cases["created_at"]), "category"]).size()
    closed = cases.dropna(subset=["closed_at"])
    closed = closed.groupby([week(closed["closed_at"]), "category"]).size()
    got = series.set_index(["period", "category"])
    assert got["raised"][got["raised"] > 0].to_dict() == raised.to_dict()
    assert got["closed"][got["closed"] > 0].to_dict() == closed.to_dict()
    assert noise["raised"].sum() == (cases["category"] == "noise").sum()
    assert recent["raised"].sum() == 2 and recent["closed"].sum() == 0  # raised in the period, still open


def test_grid_codes_and_the_shops_of_one_grid(world):
    engine, _, v = world
    with transaction(engine) as session:
        assert grid_codes(session, v["supervisor"]) == ["G001", "G002"]
        assert grid_codes(session, v["leader1"]) == ["G001"]
        shops = open_shops(session, v["supervisor"], grid_codes=("G002",))
        assert set(shops["grid_code"]) == {"G002"} and len(shops) >= 1
        assert open_shops(session, v["leader1"], grid_codes=("G002",)).empty  # not theirs


def test_timeline_lists_every_step_with_actor(busy):
    engine, _, v = busy
    with transaction(engine) as session:
        frame = cases_frame(session, v["supervisor"], now=NOW)
        reopened = int(frame.loc[frame["kind"] == "service_request", "case_id"].iloc[0])
        timeline = case_timeline(session, v["leader1"], reopened)
    assert timeline["action"].tolist() == ["raise", "take_on", "resolve", "reopen", "resolve", "confirm"]
    assert timeline["seq"].tolist() == [1, 2, 3, 4, 5, 6]
    assert set(timeline["actor"]) == {"Leader1"}


def test_checks_due_and_early_warnings(world):
    engine, district, v = world
    shop = district.shop_codes["G001"]  # catering: electricity and gas checks apply
    failed_gas = {**GAS_OK, "gas.alarm": False}
    with transaction(engine) as session:
        record_check(session, v["leader1"], shop_code=shop, category="gas", answers=failed_gas,
                     now=NOW - timedelta(days=60))
        record_check(session, v["leader1"], shop_code=shop, category="gas", answers=failed_gas,
                     now=NOW - timedelta(days=40))
        due = checks_due(session, v["supervisor"], now=NOW).set_index(["shop_code", "category"])
        warnings = early_warnings(session, v["supervisor"], now=NOW)
    assert due.loc[(shop, "gas"), "overdue"]  # last gas check 40 days ago, interval 30
    assert due.loc[(shop, "electricity"), "overdue"]  # never checked
    assert ("S-G002", "gas") not in due.index  # retail: no gas
    kinds = warnings.groupby("kind")["shop_code"].apply(set).to_dict()
    assert shop in kinds["check_overdue"]
    assert kinds["repeated_failures"] == {shop}
    assert "gas.alarm failed 2 times" in warnings.loc[warnings["kind"] == "repeated_failures", "detail"].iloc[0]


def test_a_surge_of_warnings_against_the_grid_baseline_is_flagged(world):
    engine, _, v = world
    with transaction(engine) as session:
        _file(session, v["leader1"], at=NOW - timedelta(days=30))
        for hours in (2, 20, 40, 60):
            _file(session, v["leader1"], at=NOW - timedelta(hours=hours))
        warnings = early_warnings(session, v["supervisor"], now=NOW)
    surge = warnings[warnings["kind"] == "warning_surge"]
    assert surge["grid_code"].tolist() == ["G001"] and surge["count"].tolist() == [4]


def test_open_shops_carry_badges_and_the_team_is_listed(world):
    engine, _, v = world
    from governance.badges import award_badge

    with transaction(engine) as session:
        award_badge(session, v["supervisor"], "S-G001", "trusted_shop", now=NOW)
        shops = open_shops(session, v["supervisor"]).set_index("shop_code")
        team = grid_team(session, v["leader1"], "G001")
    assert shops.loc["S-G001", "badges"] == ["trusted_shop"] and shops.loc["S-G002", "badges"] == []
    assert team["role"].tolist() == ["leader", "fire"]
    assert team["username"].iloc[0] == "leader1"


def test_closed_shops_and_unknown_filters(world):
    engine, _, v = world
    with transaction(engine) as session:
        session.execute(update(Shop).where(Shop.shop_code == "S-G002").values(closed_at=NOW))
        assert open_shops(session, v["supervisor"])["shop_code"].tolist() == ["S-G001"]
        with pytest.raises(NotFoundError):
            grid_team(session, v["supervisor"], "G999")
    with pytest.raises(ValidationError, match="states: 'open' is not known"):
        CaseFilter(states=("open",))


def test_stored_check_due_counts_agree_with_counting_live(world):
    engine, district, v = world
    from governance.models import CheckDue

    shop = district.shop_codes["G001"]
    with transaction(engine) as session:
        record_check(session, v["leader1"], shop_code=shop, category="gas", answers=GAS_OK,
                     now=NOW - timedelta(days=25))
        record_check(session, v["leader1"], shop_code=shop, category="construction", now=NOW - timedelta(days=10),
                     answers={"cons.permit_posted": True, "cons.hot_work_permit": True, "cons.debris_cleared": True,
                              "cons.extinguisher": True, "cons.permitted_hours": True})
    moments = [NOW, NOW + timedelta(days=3), NOW + timedelta(days=25), NOW + timedelta(days=400)]
    columns = ["code", "checks_due", "checks_overdue"]
    with transaction(engine) as session:
        stored = [grid_loop_summary(session, v["supervisor"], now=t)[columns] for t in moments]
        session.execute(delete(CheckDue))
        live = [grid_loop_summary(session, v["supervisor"], now=t)[columns] for t in moments]
    for a, b in zip(stored, live, strict=True):
        pd.testing.assert_frame_equal(a, b)
    # The renovation window closes: 25 days on, the construction check no longer applies.
    # Gas and construction fall due within the week; electricity and fire safety were never checked.
    assert stored[0].set_index("code").loc["G001"].tolist() == [2, 2]
    # electricity, fire safety, gas; construction lapsed
    assert stored[2].set_index("code").loc["G001", "checks_overdue"] == 3


def test_an_open_construction_case_puts_that_shops_construction_check_on_its_leaders_list(world):
    engine, district, v = world
    own, other = district.shop_codes["G001"], district.shop_codes["G002"]
    with transaction(engine) as session:
        before = checks_due(session, v["leader1"], now=NOW)
        for leader, shop, point in ((v["leader1"], own, IN_G001), (v["leader2"], other, IN_G002)):
            file_case(session, leader, kind="patrol", category="construction", severity="medium", title="t",
                      lon=point[0], lat=point[1], shop_code=shop, now=NOW - timedelta(hours=2))
        after = checks_due(session, v["leader1"], now=NOW)
        everyone = checks_due(session, v["supervisor"], now=NOW)
    assert "construction" not in set(before["category"])
    added = after[after["category"] == "construction"]
    assert added["shop_code"].tolist() == [own] and set(after["grid_code"]) == {"G001"}
    assert set(everyone.loc[everyone["category"] == "construction", "shop_code"]) == {own, other}


def test_shops_written_in_bulk_by_an_import_get_their_checks_due(world):
    engine, district, v = world
    import shapely
    from sqlalchemy import insert

    with transaction(engine) as session:
        session.execute(insert(Shop), [{
            "shop_code": "S-NEW", "name": "New", "trade": "catering", "street": "",
            "party_member_operator": False, "geometry": shapely.Point(*IN_G002),
            "grid_id": district.grid_ids["G002"], "opened_at": NOW - timedelta(days=100),
        }])
    with transaction(engine) as session:
        due = checks_due(session, v["supervisor"], now=NOW)
        summary = grid_loop_summary(session, v["supervisor"], now=NOW).set_index("code")
    assert set(due.loc[due["shop_code"] == "S-NEW", "category"]) == {"electricity", "gas", "fire_exit"}
    assert summary.loc["G002", "checks_overdue"] == len(due[(due["grid_code"] == "G002") & due["overdue"]])


def test_a_picked_day_is_the_districts_day_on_the_page_and_in_the_export(world):
    """A finding at 07:30 China time (23:30 UTC the day before) is in "1 July" wherever the day is picked.

    The supervisor's page and `linpu export --start/--end` both filter through
    CaseFilter.for_days, so they select the same cases.
    """
    from datetime import date

    from pipelines.export import gather_layers

    engine, _, v = world
    early = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)   # 1 July, 07:30 in Shanghai
    late = datetime(2026, 7, 1, 16, 30, tzinfo=UTC)     # 2 July, 00:30 in Shanghai
    with transaction(engine) as session:
        first = _file(session, v["leader1"], at=early).case_no
        second = _file(session, v["leader1"], at=late).case_no
    july_first = CaseFilter.for_days(date(2026, 7, 1), date(2026, 7, 1))
    with transaction(engine) as session:
        on_page = set(cases_frame(session, v["supervisor"], filters=july_first)["case_no"])
        in_file = set(gather_layers(session, ["cases"], filters=july_first, viewer=v["supervisor"])["cases"]["case_no"])
    assert on_page == in_file == {first}
    assert second not in on_page
