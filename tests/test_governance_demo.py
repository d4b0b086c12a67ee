"""The demo district, loaded, follows the workflow's rules."""

from __future__ import annotations

import re
from datetime import timedelta

import pandas as pd
from sqlalchemy import delete, func, select

from governance.catalog import CaseState
from governance.db import make_engine, session_factory
from governance.loop_summary import grid_loop_summary
from governance.models import Case, CaseHistory, CheckDue, GridStats, PublicRequest
from governance.permissions import system_viewer
from governance.sla import follow_up_due_time, follow_up_limit
from governance.working_time import working_calendar


def test_demo_history_continues_at_each_case_version(demo_database):
    engine = make_engine(demo_database)
    with session_factory(engine)() as session:
        rows = session.execute(
            select(Case.version, func.max(CaseHistory.seq), func.count(CaseHistory.id))
            .join(CaseHistory, CaseHistory.case_id == Case.id)
            .group_by(Case.id, Case.version)
        ).all()
        assert rows and all(version == last == n for version, last, n in rows)
        follow_up = session.scalars(select(Case).where(Case.state == CaseState.FOLLOW_UP)).all()
        # The bundled cases' deadlines are the files' (calendar hours; their numbers are the files'
        # C00001 …); the public's requests, the service orders and the split cases were resolved through
        # the workflow, whose follow-up deadline counts working time.
        played = set(session.scalars(select(PublicRequest.case_id)))
        played |= {c.id for c in follow_up if not re.fullmatch(r"C\d{5}", c.case_no)}
        calendar = working_calendar(session)
        assert follow_up and all(
            c.follow_up_due_at == (follow_up_due_time(c.resolved_at, c.category, calendar=calendar)
                                   if c.id in played else c.resolved_at + follow_up_limit())
            for c in follow_up)
        in_progress = session.scalars(select(Case).where(Case.state == CaseState.IN_PROGRESS)).all()
        assert all(c.follow_up_due_at is None for c in in_progress)
    engine.dispose()


def test_demo_stored_figures_match_counting_live(demo_database, tmp_path):
    import shutil

    from sqlalchemy.engine import make_url

    copy = tmp_path / "demo-copy.sqlite3"
    shutil.copy(make_url(demo_database).database, copy)
    engine = make_engine(f"sqlite:///{copy}")
    with session_factory(engine)() as session:
        now = session.scalar(select(func.max(Case.created_at))) + timedelta(hours=1)
        stored = grid_loop_summary(session, system_viewer(), now=now)
        session.execute(delete(GridStats))
        session.execute(delete(CheckDue))
        live = grid_loop_summary(session, system_viewer(), now=now)
        session.rollback()
    engine.dispose()
    pd.testing.assert_frame_equal(stored, live)
    assert stored["closed"].sum() > 0 and stored["checks_overdue"].sum() > 0
