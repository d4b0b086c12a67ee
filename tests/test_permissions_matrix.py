"""Access matrix: every role x every action x own grid / other grid / no grid (issue 7).

Through the governance layer (workflow actions, badges, attachments, every
query) and the pipelines' export (``export_bytes`` with a viewer).  The
expected answer comes from the rules of DESIGN.md and the governance
contract, written out here independently of ``governance.permissions``:

- a grid leader sees and changes only the grids they belong to;
- a supervisor and an admin see and change the whole district, and alone
  dismiss, close as not-responsible, dispatch, award and revoke badges;
- an analyst reads and exports the whole district and changes nothing;
- a grid leader who belongs to no grid sees nothing and changes nothing;
- a point in no grid is refused for everybody;
- a branch secretary (a supervisor whose scope is the branch answering for
  G001, issue 21) is a supervisor in G001 only, badges included;
- a member (``fire1``, fire safety in G001, issue 20) sees G001 like its
  leader, raises findings and records checks of its kind there (gas, not
  construction: property's), and takes no step of a case's loop; it sees only
  its own sub-tasks;
- a department account (``dept1``) sees no grid and changes no record of
  one: only the orders and sub-tasks given to its department.

Each run of the matrix works in one database per backend; every action runs
in a transaction that is rolled back, so the cells do not disturb each other.
Also here: disabled users, expired and forged sessions, passwords never
stored or logged in clear, sign-in throttling.
"""

from __future__ import annotations

import io
import logging
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import select, text

from governance import check_due, early_warnings, grids, loop_summary, queries, trends
from governance.attachments import store_attachment
from governance.auth import hash_password
from governance.badges import award_badge, badge_history, revoke_badge
from governance.catalog import Role
from governance.db import session_factory, transaction
from governance.errors import NotFoundError, OutsideGrids, PermissionDenied
from governance.filters import CaseFilter
from governance.login import (
    AccountDisabled,
    AccountLocked,
    BadCredentials,
    SessionExpired,
    check_token,
    issue_token,
    sign_in,
)
from governance.models import User
from governance.org import set_scope
from governance.permissions import viewer_for
from governance.settings import get_settings
from governance.testing import (
    IN_G001,
    IN_G002,
    OUTSIDE,
    seed_small_district,
    seed_team,
    seed_two_branches,
)
from governance.workflow import dispatch, file_case, record_check, transition
from pipelines.export import export_bytes

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
#: A real 1×1 PNG: stored photos are read with Pillow (governance.attachments).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
       b"\x0cIDATx\x9cc8!'\x07\x00\x02\xb6\x01\x054\xa6u\xaa\x00\x00\x00\x00IEND\xaeB`\x82")
ACTORS = ("leader1", "nogrid", "supervisor", "analyst", "admin", "secretary", "fire1", "dept1")
#: Steps of a case's loop (the rules table), which a member does not take.
LOOP_STEPS = frozenset({"take_on", "dismiss", "close_not_responsible", "dispatch"})
#: Checks of another member kind's category (construction is property's), which fire1 may not record.
OTHER_KINDS_CHECKS = frozenset({"record_check_construction"})
TARGETS = ("own", "other", "none")  # G001 / G002 / a point in no grid
GRID_OF = {"own": "G001", "other": "G002"}
POINT_OF = {"own": IN_G001, "other": IN_G002, "none": OUTSIDE}
PASSWORD = "Linpu-Secret-7f3a!"


def may_see(actor: str, grid: str | None) -> bool:
    if grid is None:
        return False
    return actor in ("supervisor", "analyst", "admin") or (actor in ("leader1", "secretary", "fire1") and grid == "G001")


def may_write(actor: str, grid: str | None) -> bool:
    return grid is not None and actor not in ("analyst", "dept1") and may_see(actor, grid)


def supervising(actor: str) -> bool:
    return actor in ("supervisor", "admin", "secretary")


@pytest.fixture
def world(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    district = seed_small_district(engine, now=NOW)
    seed_team(engine)
    hashed = hash_password(PASSWORD)
    with transaction(engine) as session:
        session.add(User(username="nogrid", display_name="No Grid", role=Role.GRID_LEADER, password_hash=hashed))
        session.add(User(username="gone", display_name="Gone", role=Role.GRID_LEADER, is_active=False,
                         password_hash=hashed))
        session.add(User(username="secretary", display_name="Branch Secretary", role=Role.SUPERVISOR,
                         password_hash=hashed))
        for user in session.scalars(select(User)):
            user.password_hash = user.password_hash or hashed
        seed_two_branches(session)
        set_scope(session, "secretary", "b1")
    with transaction(engine) as session:
        viewers = {name: viewer_for(session, name) for name in ACTORS}
        admin = viewers["admin"]
        cases = {}
        for target in ("own", "other"):
            point = POINT_OF[target]
            case = file_case(session, admin, kind="service_request", category="gas", severity="high",
                             title=f"case in {GRID_OF[target]}", lon=point[0], lat=point[1], now=NOW)
            cases[target] = case.id
            record_check(session, admin, shop_code=district.shop_codes[GRID_OF[target]], category="gas",
                         answers={"gas.alarm": False, "gas.hose": True, "gas.regulator": True,
                                  "gas.extinguisher": True, "gas.cylinder_storage": True,
                                  "gas.shutoff_valve": True}, now=NOW)
    yield engine, district, viewers, cases
    get_settings.cache_clear()


def _attempt(engine, fn):
    """Run fn(session) in a transaction that is always rolled back; return 'ok' or the error class."""
    with session_factory(engine)() as session:
        try:
            fn(session)
            return "ok"
        except (PermissionDenied, OutsideGrids, NotFoundError) as exc:
            return type(exc).__name__
        finally:
            session.rollback()


def _write_actions(district, cases):
    """(name, needs supervising, function(session, viewer, target))."""

    def file(session, viewer, target):
        lon, lat = POINT_OF[target]
        file_case(session, viewer, kind="patrol", category="fumes", severity="low", title="油烟",
                  lon=lon, lat=lat, now=NOW)

    def act(action, **kw):
        def run(session, viewer, target):
            transition(session, viewer, cases[target], action, expected_version=1, now=NOW, **kw)
        return run

    def do_dispatch(session, viewer, target):
        dispatch(session, viewer, cases[target], department="城管中队", expected_version=1, now=NOW)

    def check(session, viewer, target):
        record_check(session, viewer, shop_code=district.shop_codes[GRID_OF[target]], category="gas",
                     answers={k: True for k in ("gas.alarm", "gas.hose", "gas.regulator", "gas.extinguisher",
                                                "gas.cylinder_storage", "gas.shutoff_valve")}, now=NOW)

    def check_construction(session, viewer, target):
        record_check(session, viewer, shop_code=district.shop_codes[GRID_OF[target]], category="construction",
                     answers={k: True for k in ("cons.permit_posted", "cons.hot_work_permit", "cons.debris_cleared",
                                                "cons.extinguisher", "cons.permitted_hours")}, now=NOW)

    def attach(session, viewer, target):
        store_attachment(session, viewer, cases[target], filename="p.png", content_type="image/png", data=PNG)

    def award(session, viewer, target):
        award_badge(session, viewer, district.shop_codes[GRID_OF[target]], "model_shop", now=NOW)

    def revoke(session, viewer, target):
        award_badge(session, district.viewer_cache["admin"], district.shop_codes[GRID_OF[target]], "pioneer",
                    now=NOW)
        revoke_badge(session, viewer, district.shop_codes[GRID_OF[target]], "pioneer", reason="投诉", now=NOW)

    return [
        ("file_case", False, file), ("take_on", False, act("take_on")),
        ("dismiss", True, act("dismiss")), ("close_not_responsible", True, act("close_not_responsible")),
        ("dispatch", True, do_dispatch), ("record_check", False, check),
        ("record_check_construction", False, check_construction), ("store_attachment", False, attach),
        ("award_badge", True, award), ("revoke_badge", True, revoke),
    ]


def test_every_role_every_write_action_own_other_and_no_grid(world):
    engine, district, viewers, cases = world
    object.__setattr__(district, "viewer_cache", viewers)
    mismatches, cells = [], 0
    for name, needs_supervising, fn in _write_actions(district, cases):
        for actor in ACTORS:
            for target in TARGETS:
                if target == "none" and name != "file_case":
                    continue  # only a new point can lie in no grid; records always have one
                grid = GRID_OF.get(target)
                if name in ("award_badge", "revoke_badge"):
                    # Badges are a district matter, not a grid one; a secretary's district is the branch.
                    allowed = supervising(actor) and (actor != "secretary" or may_see(actor, grid))
                elif target == "none":
                    allowed = False
                else:
                    allowed = may_write(actor, grid) and (supervising(actor) or not needs_supervising) \
                        and not (actor == "fire1" and name in LOOP_STEPS | OTHER_KINDS_CHECKS)
                got = _attempt(engine, lambda s, fn=fn, actor=actor, target=target: fn(s, viewers[actor], target))
                cells += 1
                if (got == "ok") != allowed:
                    mismatches.append(f"{actor:10} {name:22} {target:5}: expected {'ok' if allowed else 'refusal'}, "
                                      f"got {got}")
                if target == "none" and got != "ok":
                    assert got in ("OutsideGrids", "PermissionDenied"), got
    assert cells == 21 * len(ACTORS)  # 21 cells per actor
    assert not mismatches, "\n".join(mismatches)


def _codes(frame, column="grid_code") -> set[str]:
    return set(frame[column].dropna().astype(str)) if len(frame) else set()


def test_every_role_every_query_sees_only_its_grids(world):
    engine, district, viewers, cases = world
    mismatches = []
    with transaction(engine) as session:
        for actor in ACTORS:
            viewer = viewers[actor]
            visible = {g for g in ("G001", "G002") if may_see(actor, g)}
            seen = {
                "current_grids": _codes(grids.current_grids(session, viewer), "code"),
                "open_shops": _codes(queries.open_shops(session, viewer)),
                "grid_loop_summary": _codes(loop_summary.grid_loop_summary(session, viewer, now=NOW), "code"),
                "cases_frame": _codes(queries.cases_frame(session, viewer, now=NOW)),
                "checks_frame": _codes(queries.checks_frame(session, viewer)),
                "checks_due": _codes(check_due.checks_due(session, viewer, now=NOW)),
                "early_warnings": _codes(early_warnings.early_warnings(session, viewer, now=NOW)),
            }
            for name, codes in seen.items():
                if not codes <= visible:
                    mismatches.append(f"{actor} {name}: sees {sorted(codes - visible)} of other grids")
            for name in ("current_grids", "open_shops", "cases_frame", "checks_frame", "grid_loop_summary"):
                if seen[name] != visible:
                    mismatches.append(f"{actor} {name}: sees {sorted(seen[name])}, should see {sorted(visible)}")
            series = trends.category_series(session, viewer, filters=None)
            raised = int(series["raised"].sum()) if len(series) else 0
            expected_cases = 2 * len(visible)  # one request and one failed check per grid
            if raised != expected_cases:
                mismatches.append(f"{actor} category_series: {raised} raised, expected {expected_cases}")
            for target in ("own", "other"):
                grid = GRID_OF[target]
                for name, fn in (
                    ("case_timeline", lambda v=viewer, t=target: queries.case_timeline(session, v, cases[t])),
                    ("grid_team", lambda v=viewer, g=grid: queries.grid_team(session, v, g)),
                    ("badge_history", lambda v=viewer, g=grid: badge_history(session, v, district.shop_codes[g])),
                ):
                    try:
                        fn()
                        got = True
                    except PermissionDenied:
                        got = False
                    if got != may_see(actor, grid):
                        mismatches.append(f"{actor} {name} {target}: {'read' if got else 'refused'}")
    assert not mismatches, "\n".join(mismatches)


def test_exports_with_a_viewer_hold_only_its_grids(world):
    engine, _, viewers, _ = world
    for actor in ACTORS:
        _check_export(engine, viewers, actor)


def _check_export(engine, viewers, actor):
    name, data, media = export_bytes(engine, layers=["all"], fmt="gpkg", viewer=viewers[actor], now=NOW)
    assert name.endswith(".gpkg") and media.startswith("application/")
    visible = {g for g in ("G001", "G002") if may_see(actor, g)}
    for layer, column in (("grids", "code"), ("shops", "grid_code"), ("cases", "grid_code"),
                          ("checks", "grid_code"), ("hotspots", "code")):
        frame = gpd.read_file(io.BytesIO(data), layer=layer)
        assert _codes(frame, column) <= visible, (actor, layer)
    # One-layer formats with a category filter, zipped: the same scope.
    name, data, _ = export_bytes(engine, layers=["cases", "shops"], fmt="geojson", viewer=viewers[actor],
                                 filters=CaseFilter(categories=("gas",)), now=NOW)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            frame = gpd.read_file(io.BytesIO(archive.read(member)))
            assert _codes(frame) <= visible, (actor, member)


# --- accounts and sessions -------------------------------------------------------


def test_a_disabled_user_is_refused_everywhere(world):
    engine, *_ = world
    with transaction(engine) as session:
        with pytest.raises(PermissionDenied):
            viewer_for(session, "gone")
        with pytest.raises(AccountDisabled):
            sign_in(session, "gone", PASSWORD, now=NOW)
    # Disabling a signed-in user takes effect at the next request: the token
    # still checks, but the viewer (read from the database) is refused.
    with transaction(engine) as session:
        token = issue_token("leader1", now=NOW, session=session)
    with transaction(engine) as session:
        session.scalar(select(User).where(User.username == "leader1")).is_active = False
    with transaction(engine) as session:
        username, _ = check_token(token, timeout=timedelta(minutes=30), now=NOW + timedelta(minutes=1),
                                  session=session)
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        viewer_for(session, username)


def test_expired_forged_and_malformed_sessions_are_refused(world):
    engine, *_ = world

    def check(token, now):
        # Committed whatever happens, as the dashboard does: an expiry is stored.
        with session_factory(engine)() as session:
            try:
                return check_token(token, timeout=timedelta(minutes=30), now=now, session=session)
            finally:
                session.commit()

    with transaction(engine) as session:
        token = issue_token("supervisor", now=NOW, session=session)
        other = issue_token("admin", now=NOW, session=session)
    assert check(token, NOW + timedelta(minutes=29))[0] == "supervisor"
    with pytest.raises(SessionExpired):
        check(token, NOW + timedelta(minutes=60))
    for forged in (token[:-2] + other[-2:],  # spliced from another user's token
                   token.upper(),  # same letters, other case
                   other + token, "admin", "", "a|b|c|d", "||||"):
        with pytest.raises(SessionExpired):
            check(forged, NOW + timedelta(minutes=1))
    # The expired token stays refused even when it is used again at once.
    with pytest.raises(SessionExpired):
        check(token, NOW + timedelta(minutes=30))


def test_sign_in_is_throttled_and_locks_after_repeated_failures(world):
    engine, *_ = world
    for attempt in range(4):
        with transaction(engine) as session, pytest.raises(BadCredentials):
            sign_in(session, "supervisor", f"wrong-{attempt}", now=NOW)
    with transaction(engine) as session, pytest.raises(AccountLocked):
        sign_in(session, "supervisor", "wrong-5", now=NOW)
    # Locked: even the right password is refused until the lock expires.
    with transaction(engine) as session, pytest.raises(AccountLocked):
        sign_in(session, "supervisor", PASSWORD, now=NOW + timedelta(minutes=14))
    with transaction(engine) as session:
        assert sign_in(session, "SUPERVISOR ", PASSWORD, now=NOW + timedelta(minutes=16)).role == "supervisor"


def test_passwords_are_never_stored_or_logged_in_clear(world, caplog):
    engine, *_ = world
    caplog.set_level(logging.DEBUG)
    engine.echo = False
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        with transaction(engine) as session:
            sign_in(session, "admin", PASSWORD, now=NOW)
        with transaction(engine) as session, pytest.raises(BadCredentials):
            sign_in(session, "admin", PASSWORD + "x", now=NOW)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert caplog.records, "the SQL log was captured"
    assert PASSWORD not in caplog.text
    with transaction(engine) as session:
        hashes = session.scalars(select(User.password_hash)).all()
        assert all(h.startswith("$argon2id$") for h in hashes)
        # Every text column of every table, searched for the password.
        tables = [t for t in engine.dialect.get_table_names(session.connection())]
        for table in tables:
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                assert PASSWORD not in repr(tuple(row)), table
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        for suffix in ("", "-wal"):
            if not Path(path + suffix).exists():
                continue
            raw = Path(path + suffix).read_bytes()
            assert PASSWORD.encode() not in raw
