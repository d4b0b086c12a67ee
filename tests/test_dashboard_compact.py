"""The compact on the dashboard's pages (AppTest, no browser): the leader's zones listed, the
supervisor's and analyst's stall-zone check filter."""

from __future__ import annotations

from sqlalchemy import func, select

from governance.db import make_engine, session_factory
from governance.models import Case
from tests.test_dashboard import app, no_exceptions, use_database, writable_demo  # noqa: F401 - fixtures


def test_the_leader_lists_the_zones_and_service_points_of_their_grid(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    at = app("leader05", lang="en")
    no_exceptions(at)
    zones = next(df.value for df in at.dataframe if "Hours" in df.value.columns)
    assert zones.to_dict("records") == [
        {"Kind": "Stall zone", "Name": "古井街夜市摊区", "Hours": "Mo-Su 18:00-23:30"},
        {"Kind": "Service point", "Name": "快递小哥爱心驿站", "Hours": "Mo-Su 08:00-22:00"},
    ]


def test_the_supervisor_filters_by_the_stall_zone_check(use_database, writable_demo):  # noqa: F811
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with session_factory(engine)() as session:
        still_open = session.scalar(select(func.count()).where(Case.occupation == "outside_hours",
                                                               Case.state != "closed"))
    engine.dispose()
    at = app("supervisor1", lang="en")
    no_exceptions(at)
    kpi_before = at.caption[0].value
    at.multiselect(key="sup-occupation").set_value(["outside_hours"]).run()
    no_exceptions(at)
    kpi_after = at.caption[0].value
    assert kpi_after != kpi_before and kpi_after.startswith(f"Open {still_open} ·"), kpi_after
