"""The admin page (AppTest): the district's status, an account step confirmed first, the admin log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard import office
from governance.db import make_engine, session_factory
from governance.errors import PermissionDenied
from governance.login import AccountDisabled, issue_token, must_change_password, sign_in
from governance.models import AdminLogEntry, Grid, GridGeneration
from governance.permissions import viewer_for
from pipelines.demo_generate import DEMO_PASSWORD
from tests.test_dashboard import use_database, writable_demo  # noqa: F401  (fixtures)
from tests.test_dashboard_access import run_page


def _step(at, step: str, username: str, *, confirm: bool):
    at.selectbox(key="admin-step").set_value(step)
    at.text_input(key="admin-username").input(username)
    at.checkbox(key="admin-confirm-step").set_value(confirm)
    return at.button(key="FormSubmitter:admin-account-step-Run").click().run()


def test_admin_sees_the_status_resets_a_password_after_confirming_and_the_log_says_so(
        use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    at = run_page("admin", issue_token("admin"))
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "District administration"
    status = at.dataframe[0].value
    assert "Grids without a leader" in set(status["Item"]) and "District boundary" in set(status["Item"])

    at = _step(at, "reset", "leader01", confirm=False)
    assert any("Tick the confirmation first." in e.value for e in at.error)
    at = _step(at, "reset", "leader01", confirm=True)
    shown = [w.value for w in at.warning if "One-time password of leader01" in w.value]
    assert shown, [w.value for w in at.warning]
    temporary = shown[0].split(": ")[1].split(" ")[0]
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        assert sign_in(session, "leader01", temporary) and must_change_password(session, "leader01")
        session.rollback()

    with session_factory(engine)() as session:
        first = sorted(viewer_for(session, "leader01").grid_ids)[0]
        code = session.scalar(select(Grid.code).where(Grid.id == first))
    at.text_input(key="admin-move-to").input("leader02")
    at.text_input(key="admin-move-grids").input(code)
    at = _step(at, "move", "leader01", confirm=True)
    assert not at.error, [e.value for e in at.error]
    with session_factory(engine)() as session:
        assert first in viewer_for(session, "leader02").grid_ids
        assert first not in viewer_for(session, "leader01").grid_ids
    engine.dispose()

    at = _step(at, "disable", "nobody-such", confirm=True)
    assert any("no user named 'nobody-such'" in e.value for e in at.error)

    log = at.dataframe[-1].value
    assert list(log.columns) == ["When", "Who", "What", "On", "Rows", "Detail"]
    assert (log.iloc[0]["Who"], log.iloc[0]["What"], log.iloc[0]["On"]) == ("admin", "Grids moved",
                                                                           f"leader01 -> leader02: {code}")
    assert (log.iloc[1]["What"], log.iloc[1]["On"]) == ("Password reset", "leader01")

    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        assert sign_in(session, "leader02", DEMO_PASSWORD)  # the demo's password signs in before
        session.rollback()
    at = _step(at, "disable", "leader02", confirm=True)
    assert not at.error, [e.value for e in at.error]
    with session_factory(engine)() as session, pytest.raises(AccountDisabled):
        sign_in(session, "leader02", DEMO_PASSWORD)
    log = at.dataframe[-1].value
    assert (log.iloc[0]["Who"], log.iloc[0]["What"], log.iloc[0]["On"]) == ("admin", "Account disabled", "leader02")
    at = _step(at, "enable", "leader02", confirm=True)
    with session_factory(engine)() as session:
        assert sign_in(session, "leader02", DEMO_PASSWORD)
        session.rollback()
    engine.dispose()
    assert at.dataframe[-1].value.iloc[0]["What"] == "Account enabled"


def test_the_admin_pages_map_import_is_the_commands_job_with_the_admin_as_actor(
        use_database, writable_demo, tmp_path):  # noqa: F811
    # Late: osmium is optional; only this test writes an extract.
    pytest.importorskip("osmium")
    from tests.test_district import write_osm

    use_database(writable_demo)
    extract = write_osm(tmp_path / "district.osm.pbf").read_bytes()
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        admin, analyst = viewer_for(session, "admin"), viewer_for(session, "analyst1")
    with pytest.raises(PermissionDenied):
        office.import_district_layer(analyst, extract, "district.osm.pbf", layer="streets", coords="wgs84", lang="en")
    report = office.import_district_layer(admin, extract, "district.osm.pbf", layer="streets", coords="wgs84",
                                          lang="en")
    assert report.written == 4
    with session_factory(engine)() as session:
        entry = session.execute(select(AdminLogEntry.actor, AdminLogEntry.action, AdminLogEntry.target, AdminLogEntry.rows)
                                .order_by(AdminLogEntry.id.desc())).first()
    engine.dispose()
    assert tuple(entry) == ("admin", "district_imported", "streets: district.osm.pbf", 4)


def test_the_admin_pages_grid_repair_adopts_a_generation_logged_with_the_admin(
        use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        admin, supervisor = viewer_for(session, "admin"), viewer_for(session, "supervisor1")
    with pytest.raises(PermissionDenied):
        office.build_grids(supervisor, target=10, min_size=8, max_size=12, update=True)
    result = office.build_grids(admin, target=10, min_size=8, max_size=12, update=True)
    with session_factory(engine)() as session:
        entry = session.execute(select(AdminLogEntry.actor, AdminLogEntry.action, AdminLogEntry.rows)
                                .order_by(AdminLogEntry.id.desc())).first()
        current = session.scalar(select(GridGeneration.id).where(GridGeneration.is_current.is_(True)))
    engine.dispose()
    assert current == result.adopted["generation_id"]
    assert tuple(entry) == ("admin", "grids_replaced", result.n_grids)
