"""The member and department pages and the supervisor's department evaluation (issue 20), with AppTest."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from governance.db import make_engine, transaction
from governance.departments import add_department
from governance.login import issue_token
from governance.models import Case, Grid, GridMember, HazardCheck, Shop, SubTask, User
from governance.permissions import system_viewer
from governance.sub_tasks import add_sub_task
from governance.team_accounts import save_team_account
from governance.workflow import dispatch, transition
from tests.test_dashboard import app, no_exceptions, use_database, writable_demo  # noqa: F401  (fixtures)
from tests.test_dashboard_access import refused, run_page


def _team(url: str) -> dict:
    """A fire member of a grid with a sub-task, a department with an order, in the demo copy."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        add_department(session, system_viewer(), "城管中队")
        for name, role in (("fire_m", "member"), ("dept_m", "department")):
            session.add(User(username=name, display_name=name, role=role))
        session.flush()
        warning = session.scalar(select(Case).where(Case.state == "warning").order_by(Case.id).limit(1))
        other = session.scalar(select(Case).where(Case.state == "warning", Case.id != warning.id).limit(1))
        code = session.scalar(select(Grid.code).where(Grid.id == warning.grid_id))
        save_team_account(session, "fire_m", role="member", member_kind="fire", grids=(code,))
        save_team_account(session, "dept_m", role="department", department="城管中队")
        leader = session.scalar(select(User.username).join(GridMember, GridMember.user_id == User.id)
                                .where(User.role == "grid_leader").limit(1))
        admin = system_viewer()
        transition(session, admin, warning.id, "take_on", expected_version=warning.version, now=now)
        add_sub_task(session, admin, warning.id, title="<b>检查配电箱</b>", assignee="fire_m", now=now)
        dispatch(session, admin, other.id, department="城管中队", expected_version=other.version, now=now)
    return {"leader": leader, "order": other.case_no}


def test_a_member_sees_their_sub_task_and_marks_it_done(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    _team(writable_demo)
    at = app("fire_m", lang="en")
    no_exceptions(at)
    assert [x.value for x in at.title] == ["My grid tasks"]
    page = "\n".join(m.value for m in at.markdown)
    assert "&lt;b&gt;检查配电箱&lt;/b&gt;" in page  # typed text is escaped on the card
    form = next(b for b in at.button if b.label == "Apply")
    form.click().run()
    no_exceptions(at)
    with transaction(make_engine(writable_demo)) as session:
        # The demo has sub-tasks of its own: this one is found by its title.
        assert session.scalar(select(SubTask.state).where(SubTask.title == "<b>检查配电箱</b>")) == "done"


def test_a_department_accepts_its_order_and_others_are_refused_the_page(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    team = _team(writable_demo)
    at = app("dept_m", lang="en")
    no_exceptions(at)
    assert "1 orders" in at.caption[0].value and team["order"] in "\n".join(m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Apply").click().run()
    no_exceptions(at)
    with transaction(make_engine(writable_demo)) as session:
        assert session.scalar(select(Case.state).where(Case.case_no == team["order"])) == "in_progress"
    # Every other role is refused the team pages, in the page's language; a member the department's.
    for username, page in ((team["leader"], "department"), (team["leader"], "member"), ("supervisor1", "member"),
                           ("fire_m", "department"), ("dept_m", "member"), ("dept_m", "leader")):
        at = run_page(page, issue_token(username))
        assert refused(at) and "may not open this page" in at.error[0].value, (username, page)


def test_the_supervisor_page_has_the_department_evaluation(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    _team(writable_demo)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    assert "Department evaluation" in [e.label for e in at.expander]
    frames = [df.value for df in at.dataframe if "received" in df.value.columns]
    assert frames and frames[0].set_index("department").loc["城管中队", "received"] == 1


def test_a_fire_member_records_a_fire_safety_check_from_its_page(use_database, writable_demo):  # noqa: F811
    """The Record a check tab: the leader's form, offered the fire kind's checks and the shops of the member's
    grid only; a failed item raises a case at its worst severity; a security member is told it has none."""
    use_database(writable_demo)
    _team(writable_demo)
    engine = make_engine(writable_demo)
    with transaction(engine) as session:
        grid_id = session.scalar(select(GridMember.grid_id).join(User, User.id == GridMember.user_id)
                                 .where(User.username == "fire_m"))
        own = set(session.scalars(select(Shop.shop_code).where(Shop.grid_id == grid_id, Shop.closed_at.is_(None))))
        session.add(User(username="sec_m", display_name="sec_m", role="member"))
        session.flush()
        code = session.scalar(select(Grid.code).where(Grid.id == grid_id))
        save_team_account(session, "sec_m", role="member", member_kind="security", grids=(code,))
    at = app("fire_m", lang="en")
    no_exceptions(at)
    assert "Record a check" in [tab.label for tab in at.tabs]
    category = at.selectbox(key="report-category-check")
    assert category.options == ["Electricity", "Gas", "Fire safety"]
    shop = at.selectbox(key="report-shop")
    offered = {label.rsplit("(", 1)[1].rstrip(")") for label in shop.options}
    assert offered == own
    shop_code = sorted(own)[0]
    shop.set_value(shop_code)
    category.set_value("fire_exit").run()
    at.checkbox(key="check-fire.no_combustibles").uncheck()
    at.checkbox(key="check-fire.exits_clear").uncheck()
    next(b for b in at.button if b.label == "Submit").click().run()
    no_exceptions(at)
    assert any("failed" in s.value for s in at.success), [e.value for e in at.error]
    with transaction(engine) as session:
        check = session.scalar(select(HazardCheck).order_by(HazardCheck.id.desc()).limit(1))
        inspector = session.scalar(select(User.username).where(User.id == check.inspector_id))
        case = session.get(Case, check.case_id)
        assert (str(check.category), inspector, check.passed) == ("fire_exit", "fire_m", False)
        assert (str(case.category), str(case.severity), case.grid_id) == ("fire_exit", "urgent", grid_id)
    at = app("sec_m", lang="zh")
    no_exceptions(at)
    assert "治安成员没有例行检查可记录；巡查发现请报告邻铺长。" in [i.value for i in at.info]
    assert not [s for s in at.selectbox if s.key == "report-category-check"]
    engine.dispose()
