"""Deadlines on China's working calendar, compared with ones computed by hand.

Hand computation, default working hours 08:30–12:00 and 14:00–18:00 (7.5 h a
day), China time (UTC+8).  2026 Spring Festival: Sat 14 Feb make-up working
day, 15–23 Feb off, Tue 24 Feb back.  2025 National Day: 1–8 Oct off, Sat 11
Oct make-up working day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import streamlit as st
from click.testing import CliRunner

from dashboard.i18n import translate
from governance.db import make_engine, transaction
from governance.migrate import upgrade
from governance.settings import Settings, get_settings
from governance.sla import due_time, follow_up_due_time
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case, transition
from governance.working_time import calendar_coverage, parse_working_hours, working_calendar
from pipelines.calendar_import import import_calendar
from pipelines.commands.root import main
from tests.test_dashboard import app, no_exceptions, use_database, writable_demo  # noqa: F401 (fixtures)

CN = timezone(timedelta(hours=8))


def cn(*args) -> datetime:
    return datetime(*args, tzinfo=CN)


def due(start, category, severity, settings=None, session=None):
    settings = settings or Settings()
    return due_time(start, category, severity, calendar=working_calendar(session, settings), settings=settings)


def test_noise_raised_on_the_make_up_saturday_before_spring_festival_is_due_three_working_days_later():
    # medium = 3 days = 22.5 working hours: Sat 14 Feb 16:00–18:00 (2 h), Tue 24 and Wed 25 (15 h),
    # Thu 26 08:30–12:00 (3.5 h) and 14:00–16:00 (2 h).
    assert due(cn(2026, 2, 14, 16, 0), "noise", "medium") == cn(2026, 2, 26, 16, 0)


def test_urgent_electricity_raised_before_the_holiday_waits_for_the_first_working_morning():
    # urgent = 4 working hours: Sat 14 Feb 16:00–18:00, then Tue 24 Feb 08:30–10:30.
    assert due(cn(2026, 2, 14, 16, 0), "electricity", "urgent") == cn(2026, 2, 24, 10, 30)


def test_gas_counts_calendar_hours_through_the_holiday():
    assert due(cn(2026, 2, 14, 16, 0), "gas", "high") == cn(2026, 2, 15, 16, 0)


def test_fire_exit_raised_the_afternoon_before_national_day_is_due_the_first_day_back():
    # high = 24 h = 1 working day: Tue 30 Sep 15:00–18:00 (3 h), Thu 9 Oct 08:30–12:00, 14:00–15:00.
    assert due(cn(2025, 9, 30, 15, 0), "fire_exit", "high") == cn(2025, 10, 9, 15, 0)


def test_a_category_in_working_hours_counts_every_hour_and_works_the_make_up_saturday():
    # 24 working hours: Tue 30 Sep 3 h, Thu 9 Oct 7.5 h, Fri 10 Oct 7.5 h, Sat 11 Oct (make-up) 3.5 h
    # in the morning and 2.5 h after lunch.
    settings = Settings(category_limit_units={"fire_exit": "working_hours"})
    assert due(cn(2025, 9, 30, 15, 0), "fire_exit", "high", settings) == cn(2025, 10, 11, 16, 30)


def test_fumes_raised_on_the_make_up_saturday_after_national_day():
    # low = 7 working days from Sat 11 Oct 10:00: Mon 13 … Fri 17, Mon 20, Tue 21 at 10:00.
    assert due(cn(2025, 10, 11, 10, 0), "fumes", "low") == cn(2025, 10, 21, 10, 0)


def test_lunch_and_evening_do_not_count_and_a_deadline_may_end_a_period():
    assert due(cn(2025, 11, 19, 12, 30), "electricity", "urgent") == cn(2025, 11, 19, 18, 0)
    # From 19:00: Thu 08:30–12:00 (3.5 h) and 14:00–14:30.
    assert due(cn(2025, 11, 19, 19, 0), "electricity", "urgent") == cn(2025, 11, 20, 14, 30)


def test_working_hours_are_a_setting():
    settings = Settings(working_hours="09:00-17:00")
    # urgent 4 h from Fri 16:00: 1 h on Friday, 3 h from Monday 09:00.
    assert due(cn(2025, 11, 21, 16, 0), "noise", "urgent", settings) == cn(2025, 11, 24, 12, 0)
    with pytest.raises(Exception, match="LINPU_WORKING_HOURS"):
        parse_working_hours("9-17")


def test_follow_up_runs_on_the_category_clock():
    # 72 h = 3 working days from Sat 14 Feb 16:00 for noise; calendar hours for gas.
    calendar, settings = working_calendar(None, Settings()), Settings()
    assert follow_up_due_time(cn(2026, 2, 14, 16), "noise", calendar=calendar, settings=settings) == \
        cn(2026, 2, 26, 16, 0)
    assert follow_up_due_time(cn(2026, 2, 14, 16), "gas", calendar=calendar, settings=settings) == \
        cn(2026, 2, 17, 16, 0)


def test_past_every_known_calendar_the_clock_counts_weekends_only_and_says_so():
    calendar = working_calendar(None, Settings())
    coverage = calendar.coverage
    assert coverage.last_known_year == 2026 and coverage.weekends_only_from == date(2027, 1, 1)
    assert not coverage.covers(date(2027, 2, 8)) and coverage.covers(date(2026, 2, 8))
    # Fri 1 Jan 2027 (New Year's Day, unknown to the library) counts as a working day.
    assert due(cn(2027, 1, 1, 10, 0), "noise", "high") == cn(2027, 1, 4, 10, 0)


def _schedule(tmp_path, rows: str):
    path = tmp_path / "2027.csv"
    path.write_text("date,kind,name\n" + rows, encoding="utf-8")
    return path


def test_an_imported_year_moves_deadlines_and_the_coverage(engine, tmp_path):
    path = _schedule(tmp_path, "2027-01-01,休,元旦\n2027-02-06,班,春节\n2027-02-08,holiday,春节\n")
    report = import_calendar(engine, path)
    assert report.written and report.counts == {"holidays": 2, "make_up_working_days": 1, "years": 1}
    with transaction(engine) as session:
        assert calendar_coverage(session).weekends_only_from == date(2028, 1, 1)
        # New Year's Day off: 1 working day from Fri 1 Jan 10:00 is Mon 4 Jan 08:30–18:00.
        assert due(cn(2027, 1, 1, 10, 0), "noise", "high", session=session) == cn(2027, 1, 4, 18, 0)
        # Sat 6 Feb works, Mon 8 Feb is off: urgent 4 h from Fri 5 Feb 17:00 ends Sat 6 Feb 11:30.
        assert due(cn(2027, 2, 5, 17, 0), "noise", "urgent", session=session) == cn(2027, 2, 6, 11, 30)
    again = import_calendar(engine, path)
    assert again.refused and "--replace" in again.problem_lines()[0]
    assert import_calendar(engine, path, replace=True).written


def test_a_bad_schedule_is_refused_naming_row_and_field_and_writes_nothing(engine, tmp_path):
    path = _schedule(tmp_path, "2027-01-01,休,元旦\n2027-13-01,休,x\n2027-02-09,班,周二\n2027-02-10,maybe,\n")
    report = import_calendar(engine, path)
    assert report.refused and not report.written
    lines = report.problem_lines()
    assert lines == [
        "2027.csv row 3 field date: '2027-13-01' is not a date (use 2027-02-06)",
        "2027.csv row 4 field kind: 2027-02-09 is a weekday, a working day already; a make-up day falls on a weekend",
        "2027.csv row 5 field kind: unknown value 'maybe'; allowed: holiday, workday",
    ]
    with transaction(engine) as session:
        assert calendar_coverage(session).imported_years == ()


def test_filed_and_reopened_cases_get_working_time_deadlines(engine):
    district = seed_small_district(engine, now=datetime(2025, 9, 1, tzinfo=UTC))
    leader = district.viewer(engine, "leader1")
    raised, reopened = cn(2025, 9, 30, 15, 0), cn(2025, 10, 11, 10, 0)
    with transaction(engine) as session:
        case = file_case(session, leader, kind="patrol", category="fire_exit", severity="high", title="消防通道堵塞",
                         lon=IN_G001[0], lat=IN_G001[1], now=raised)
        assert case.due_at == cn(2025, 10, 9, 15, 0)
        for step in ("take_on", "resolve"):
            transition(session, leader, case.id, step, expected_version=case.version, now=raised)
        # Follow-up: 72 h = 3 working days from Tue 30 Sep 15:00 -> Thu 9, Fri 10, Sat 11 Oct 15:00.
        assert case.follow_up_due_at == cn(2025, 10, 11, 15, 0)
        transition(session, leader, case.id, "reopen", expected_version=case.version, now=reopened)
        # 1 working day from the make-up Saturday 10:00 -> Mon 13 Oct 10:00.
        assert case.due_at == cn(2025, 10, 13, 10, 0)


def test_linpu_calendar_show_says_where_weekends_only_begin(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    upgrade(make_engine(url))
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["calendar", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "from 2027-01-01 deadlines count weekends only" in result.output


def test_supervisor_page_says_how_far_the_holiday_calendar_reaches(use_database, writable_demo, tmp_path):  # noqa: F811
    use_database(writable_demo)
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    shown = [e.value for e in (*at.caption, *at.warning) if "holiday schedule" in e.value]
    assert shown == [translate("sup.calendar", "en", year=2026, date="2027-01-01")]
    import_calendar(make_engine(writable_demo), _schedule(tmp_path, "2027-01-01,休,元旦\n"))
    st.cache_data.clear()  # as once the page's cache time has passed: the import ran outside the app
    at = app("supervisor1", lang="en")
    assert any("known up to 2027; from 2028-01-01" in e.value for e in (*at.caption, *at.warning))
