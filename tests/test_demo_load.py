"""`linpu demo load`: the bundled district into a real database, once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from governance.catalog import CaseState
from governance.db import session_factory
from governance.loop_summary import grid_loop_summary
from governance.models import Case, CaseHistory, Grid, GridMember, HazardCheck, Shop, User
from pipelines.demo_load import load_demo

TABLES = (Shop, Grid, User, GridMember, Case, CaseHistory, HazardCheck)


def _counts(engine) -> dict[str, int]:
    with session_factory(engine)() as session:
        return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def test_demo_loads_once_and_a_second_load_changes_nothing(engine):
    first = load_demo(engine)
    assert first.loaded and first.shops == 350
    counts = _counts(engine)
    assert counts["shops"] == 350 and counts["cases"] == first.cases and counts["grids"] == first.grids
    second = load_demo(engine)
    assert not second.loaded
    assert _counts(engine) == counts


def test_demo_cases_lie_in_their_grid_and_nothing_happens_in_the_future(engine):
    now = datetime.now(UTC)
    load_demo(engine, now=now)
    with session_factory(engine)() as session:
        pairs = session.execute(select(Case.geometry, Grid.geometry).join(Grid, Grid.id == Case.grid_id)).all()
        assert all(grid.covers(point) for point, grid in pairs)
        latest = max(
            session.scalar(select(func.max(Case.created_at))),
            session.scalar(select(func.max(CaseHistory.at))),
            session.scalar(select(func.max(HazardCheck.performed_at))),
        )
        assert latest <= now
        assert (now - latest).days < 2  # the demo ends "today", whatever today is
        shops = session.execute(select(Shop.geometry, Grid.geometry).join(Grid, Grid.id == Shop.grid_id)).all()
        assert len(shops) == 350 and all(grid.covers(point) for point, grid in shops)


def test_demo_summary_shows_every_loop_state_and_overdue_cases(engine):
    load_demo(engine)
    with session_factory(engine)() as session:
        summary = _summary(session)
        states = set(session.scalars(select(Case.state).distinct()))
    assert states == set(CaseState)
    assert summary["overdue"].sum() > 0
    assert (summary["worst_state"] == "closed").any() and (summary["worst_state"] == "warning").any()
    leaders = _leaders(engine)
    assert leaders and all(n == 1 for n in leaders.values())


def _summary(session):
    try:
        from governance.permissions import system_viewer
    except ImportError:  # before the permissions module existed the summary was unscoped
        return grid_loop_summary(session)
    return grid_loop_summary(session, system_viewer())


def _leaders(engine) -> dict[int, int]:
    with session_factory(engine)() as session:
        rows = session.execute(
            select(GridMember.grid_id, func.count()).where(GridMember.role == "leader").group_by(GridMember.grid_id)
        ).all()
    return dict(rows)


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@pytest.mark.parametrize(
    "url", ["postgresql://nobody@127.0.0.1:1/none", "definitely not a url"]
)
def test_cli_refuses_a_bad_database_url_with_one_line(url):
    result = _run_cli("db", "upgrade", env={"LINPU_DATABASE_URL": url})
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "LINPU_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_cli_demo_load_says_which_database_it_uses(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    result = _run_cli("demo", "load", env={"LINPU_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert f"database: {url}" in result.stderr
    assert "350 shops" in result.stdout
    again = _run_cli("demo", "load", env={"LINPU_DATABASE_URL": url})
    assert again.returncode == 0 and "already loaded" in again.stdout


def _branch_grids(folder=None) -> dict[str, set[str]]:
    import pandas as pd

    from pipelines.demo_load import DEMO_DIR

    org = pd.read_csv((folder or DEMO_DIR) / "org.csv", dtype=str, keep_default_na=False)
    return {r.node_id: set(r.grids.split(";")) for r in org.itertuples() if r.level == "branch"}


def test_each_branch_secretary_sees_only_their_branch_and_the_rollup_has_both(engine):
    from governance.models import OrgNodeShop
    from governance.permissions import system_viewer, viewer_for
    from governance.queries import cases_frame
    from governance.rollups import level_rollup

    load_demo(engine)
    branches = _branch_grids()
    assert len(branches) == 2 and not set.intersection(*branches.values())
    with session_factory(engine)() as session:
        all_codes = set(session.scalars(select(Grid.code)))
        assert set.union(*branches.values()) == all_codes  # every grid under one branch
        secretaries = session.execute(select(User.username, User.scope).where(User.scope.is_not(None))).all()
        assert sorted(scope for _, scope in secretaries) == sorted(branches)
        for username, scope in secretaries:
            viewer = viewer_for(session, username)
            assert viewer.role == "supervisor" and not viewer.is_district_wide
            seen = set(grid_loop_summary(session, viewer)["code"])
            assert seen == branches[scope]
            cases = cases_frame(session, viewer)
            assert len(cases) and set(cases["grid_code"]) <= branches[scope]
        rollup = level_rollup(session, grid_loop_summary(session, system_viewer()))
        branch_rows = rollup[rollup["level"] == "branch"]
        assert sorted(branch_rows["node_id"]) == sorted(branches)
        assert (branch_rows["total"] > 0).all()
        assert rollup.loc[rollup["level"] == "street_committee", "total"].sum() == branch_rows["total"].sum()
        # Each party-member shop is linked to the branch that holds its grid.
        linked = session.execute(select(Shop.shop_code, Grid.code, OrgNodeShop.node_id)
                                 .join(Grid, Grid.id == Shop.grid_id)
                                 .join(OrgNodeShop, OrgNodeShop.shop_code == Shop.shop_code)).all()
        party = session.scalar(select(func.count()).select_from(Shop).where(Shop.party_member_operator))
        assert linked and len(linked) == party
        assert all(code in branches[node] for _, code, node in linked)


def test_demo_public_requests_were_placed_as_the_public_would_with_ratings(engine):
    import pandas as pd

    from governance.models import PublicRequest, Rating
    from governance.public_requests import tracking_view
    from governance.rules import REQUESTER, HistoryRow, check_history
    from pipelines.demo_load import DEMO_DIR

    result = load_demo(engine)
    tokens = [link.rsplit("/p/t/", 1)[1] for link in result.tracking_links]
    assert len(tokens) == 5
    with session_factory(engine)() as session:
        views = [tracking_view(session, token) for token in tokens]
        assert all(view is not None for view in views)  # every link opens its request
        assert {v.kind for v in views} == {"order", "complaint"}
        assert {v.state for v in views} >= {"warning", "in_progress", "follow_up", "closed"}
        assert sum(v.rating is not None for v in views) >= 3
        # The five of public_requests.csv and the service orders (services.csv), each with its own code.
        requests = session.scalars(select(PublicRequest)).all()
        orders = len(pd.read_csv(DEMO_DIR / "services.csv"))
        assert orders and len(requests) == 5 + orders and len({r.short_code for r in requests}) == len(requests)
        roles = dict(session.execute(select(User.id, User.role)).all())
        reopened_by_rating = 0
        for request in requests:
            rows = session.scalars(select(CaseHistory).where(CaseHistory.case_id == request.case_id)
                                   .order_by(CaseHistory.seq)).all()
            ratings = {r.rated_at: r.rating for r in session.scalars(
                select(Rating).where(Rating.case_id == request.case_id))}
            replay = [HistoryRow(r.action, CaseState(r.from_state) if r.from_state else None, CaseState(r.to_state),
                                 outcome=(r.details or {}).get("outcome"),
                                 role=roles[r.actor_id] if r.actor_id else REQUESTER,
                                 rating=ratings.get(r.at) if r.actor_id is None and r.action != "raise" else None)
                      for r in rows]
            assert rows[0].actor_id is None and rows[0].action == "raise"
            assert check_history(replay) is None, request.case_id
            reopened_by_rating += any(r.action == "reopen" and r.from_state == "closed" and r.actor_id is None
                                      for r in rows)
        assert reopened_by_rating == 1
        assert session.scalar(select(func.min(Rating.rating)).where(
            Rating.case_id.in_([r.case_id for r in requests]))) <= 2


def test_demo_planted_duplicates_are_merged_or_offered_and_safety_fixes_show_an_after_photo(engine):
    import pandas as pd

    from governance.catalog import SAFETY_CATEGORIES
    from governance.duplicates import duplicate_candidates
    from governance.models import Attachment
    from governance.permissions import viewer_for
    from governance.photos import case_photos
    from pipelines.demo_load import DEMO_DIR

    now = datetime.now(UTC)
    load_demo(engine, now=now)
    planted = pd.read_csv(DEMO_DIR / "cases.csv", dtype=str, keep_default_na=False)
    planted = planted[planted["duplicate_of"] != ""]
    with session_factory(engine)() as session:
        supervisor = viewer_for(session, "supervisor1")
        merged = offered = 0
        for row in planted.itertuples():
            case = session.scalar(select(Case).where(Case.case_no == row.case_id))
            last = session.scalars(select(CaseHistory).where(CaseHistory.case_id == case.id)
                                   .order_by(CaseHistory.seq.desc())).first()
            if case.state == CaseState.CLOSED:
                merged += 1
                assert case.outcome == "duplicate" and last.action == "merge"
                assert last.details["duplicate_of"] == row.duplicate_of
                first = session.scalar(select(Case).where(Case.case_no == row.duplicate_of))
                first_last = session.scalars(select(CaseHistory).where(CaseHistory.case_id == first.id)
                                             .order_by(CaseHistory.seq.desc())).first()
                assert first_last.action == "merged_in" and first_last.details["merged"] == row.case_id
                assert first.version == first_last.seq and case.version == last.seq
            else:
                offered += 1
                shown = duplicate_candidates(session, supervisor, category=row.category, lon=float(row.lon),
                                             lat=float(row.lat), now=now)
                assert row.duplicate_of in set(shown["case_no"])
        assert merged >= 2 and offered >= 1

        resolves = session.execute(
            select(Case.id, Case.category, CaseHistory.id, CaseHistory.details)
            .join(CaseHistory, CaseHistory.case_id == Case.id)
            .where(CaseHistory.action == "resolve", Case.category.in_([c.value for c in SAFETY_CATEGORIES]))).all()
        with_photo = set(session.scalars(select(Attachment.history_id).where(Attachment.history_id.is_not(None))))
        assert resolves
        photos = [r for r in resolves if r[2] in with_photo]
        reasons = [r for r in resolves if r[3] and r[3].get("no_photo_reason")]
        assert photos and reasons and len(photos) + len(reasons) == len(resolves)
        shown = case_photos(session, supervisor, photos[0][0])
        assert set(shown["phase"]) == {"after"} and shown["content_type"].iloc[0] == "image/png"


def test_demo_team_signs_in_and_sees_its_sub_tasks_and_orders_in_every_state_of_the_six_services(engine):
    from datetime import timedelta

    from governance.catalog import SERVICE_CATEGORIES, Role, SubTaskState
    from governance.early_warnings import early_warnings
    from governance.login import sign_in
    from governance.models import Rating, SubTask
    from governance.orders import orders_frame
    from governance.permissions import viewer_for
    from governance.sub_tasks import sub_tasks_frame
    from pipelines.demo_generate import DEMO_NOW, DEMO_PASSWORD

    # Just after the demo's instant (no shift): the order dispatched last still waits within its limit.
    now = DEMO_NOW.astimezone(UTC) + timedelta(hours=1)
    load_demo(engine, now=now)
    with session_factory(engine)() as session:
        team = session.scalars(select(User).where(User.role.in_([Role.MEMBER, Role.DEPARTMENT]))).all()
        assert {str(u.member_kind) for u in team if u.role == Role.MEMBER} == {"property", "security", "fire"}
        for user in team:  # every member and department account signs in with the demo password
            assert sign_in(session, user.username, DEMO_PASSWORD, now=now).token
        members = [viewer_for(session, u.username) for u in team if u.role == Role.MEMBER]
        assert max(len(m.grid_ids) for m in members) > 1
        seen = {m.username: sub_tasks_frame(session, m, now=now) for m in members}
        assert sum(len(frame) > 0 for frame in seen.values()) >= 2  # members given sub-tasks see them
        owners = dict(session.execute(select(SubTask.id, SubTask.assignee_id)).all())
        assert all(owners[t] == m.user_id for m in members for t in seen[m.username]["sub_task_id"])
        assert set(session.scalars(select(SubTask.state))) == set(SubTaskState)  # open, done, returned
        resolved = session.scalars(select(CaseHistory).where(CaseHistory.action == "resolve",
                                                             CaseHistory.details["sub_task_id"].is_not(None))).all()
        assert resolved  # a case resolved by its last sub-task done

        departments = [viewer_for(session, u.username) for u in team if u.role == Role.DEPARTMENT]
        everything = orders_frame(session, viewer_for(session, "supervisor1"), now=now, open_only=False)
        for department in departments:  # each department sees its own orders, whatever grid they are in
            own = orders_frame(session, department, now=now, open_only=False)
            assert set(own["case_id"]) == set(session.scalars(select(Case.id).where(
                Case.department_id == department.department_id)))
        assert sum(len(orders_frame(session, d, now=now)) > 0 for d in departments) >= 4
        services = everything[everything["category"].isin([c.value for c in SERVICE_CATEGORIES])]
        assert set(services["category"]) == {c.value for c in SERVICE_CATEGORIES}
        assert {"awaiting", "accept_overdue", "in_progress", "resolved"} <= set(services["clock"])
        warnings = early_warnings(session, viewer_for(session, "supervisor1"), now=now)
        assert (warnings["kind"] == "order_not_accepted").any()
        returned = session.scalars(select(Case).join(CaseHistory, CaseHistory.case_id == Case.id).where(
            CaseHistory.action == "return", Case.category.in_([c.value for c in SERVICE_CATEGORIES]))).all()
        assert any(c.state == CaseState.WARNING and c.department_id is None for c in returned)  # back, a reason given
        rated = session.scalars(select(Case).join(Rating, Rating.case_id == Case.id).where(
            Case.category.in_([c.value for c in SERVICE_CATEGORIES]))).all()
        assert len({c.id for c in rated}) >= 3 and {c.state for c in rated} >= {CaseState.CLOSED, CaseState.FOLLOW_UP}
        session.rollback()
