"""linpu status, grids list and schedules set|list: the office's reads and its check schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from governance.catalog import Trade
from governance.check_due import checks_due_counts, refresh_check_due
from governance.db import transaction
from governance.models import AdminLogEntry, Grid, Shop
from governance.permissions import district_viewer, viewer_for
from governance.workflow import file_case
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import database_url, seed_district

cli = shop_tests.cli


def _shop_in_g001(engine, *, trade: Trade, opened_days_ago: int) -> None:
    with transaction(engine) as session:
        grid = session.scalar(select(Grid).where(Grid.code == "G001"))
        session.add(Shop(shop_code="S1", name="老张小吃", trade=trade, street="", geometry=grid.geometry.centroid,
                         grid_id=grid.id, opened_at=datetime.now(UTC) - timedelta(days=opened_days_ago)))
        session.flush()
        refresh_check_due(session)


def _overdue(engine) -> int:
    with transaction(engine) as session:
        return int(checks_due_counts(session, district_viewer())["checks_overdue"].sum())


def test_status_names_each_gap_with_its_command_until_the_district_is_ready(engine, cli, tmp_path):
    url = database_url(engine)
    empty = cli(url, "status")
    assert empty.exit_code == 1
    assert "GAP\tboundary\t0\t-> linpu district import FILE --layer boundary" in empty.stdout
    assert "GAP\tshops\t0\t-> linpu ingest shops FILE" in empty.stdout
    seed_district(engine)
    _shop_in_g001(engine, trade=Trade.SNACKS, opened_days_ago=1)
    items = {i["key"]: i for i in json.loads(cli(url, "status", "--json").stdout)}
    assert items["boundary"]["ok"] and items["grids"]["count"] == 4 and items["shops"]["count"] == 1
    assert items["grids_without_leader"] == {"key": "grids_without_leader", "count": 4, "missing": 4, "ok": False,
                                              "fix": "linpu users import FILE --passwords-out FILE"}
    assert not items["streets"]["ok"] and not items["schedules"]["ok"]
    assert items["grids_without_members"] == {"key": "grids_without_members", "count": 4, "missing": 4,
                                               "ok": False, "fix": "linpu members import FILE"}
    assert items["shops_without_trade"]["ok"] and items["shops_without_trade"]["count"] == 0
    assert cli(url, "schedules", "set", "gas", "20").exit_code == 0
    assert {i["key"]: i["ok"] for i in json.loads(cli(url, "status", "--json").stdout)}["schedules"]
    # An office word no rule knows (the label is kept, the trade left open), and a team in one grid.
    with transaction(engine) as session:
        point = session.scalar(select(Grid.geometry).where(Grid.code == "G002")).representative_point()
    register = tmp_path / "register.csv"
    register.write_text("shop_id,name,trade,lon,lat\n"
                        f"S2,阿强棋牌室,棋牌室,{point.x},{point.y}\n"
                        f"S3,小林书店,书报亭,{point.x + 0.0001},{point.y}\n", encoding="utf-8")
    assert cli(url, "ingest", "shops", register, "--partial").exit_code == 0
    team = tmp_path / "team.csv"
    team.write_text("grid,member_kind,name\nG001,fire,林消防\n", encoding="utf-8")
    assert cli(url, "members", "import", team).exit_code == 0
    status = cli(url, "status")
    assert status.exit_code == 1
    assert "GAP\tshops_without_trade\t2\t-> linpu ingest shops FILE (a trade word in the 行业 column)" in status.stdout
    assert "GAP\tgrids_without_members\t3\t-> linpu members import FILE" in status.stdout
    items = {i["key"]: i for i in json.loads(cli(url, "status", "--json").stdout)}
    assert (items["shops"]["count"], items["shops_without_trade"]["missing"]) == (3, 2)
    assert items["grids_without_members"]["missing"] == 3 and not items["grids_without_members"]["ok"]


def test_a_schedule_moves_the_checks_due_and_starts_from_the_defaults(engine, cli):
    seed_district(engine)
    url = database_url(engine)
    _shop_in_g001(engine, trade=Trade.SNACKS, opened_days_ago=40)
    assert _overdue(engine) == 1  # gas every 30 days by default; electricity every 90
    assert "gas\t*\tevery 30 days\t(default)" in cli(url, "schedules", "list").stdout
    result = cli(url, "schedules", "set", "gas", "60", "--trade", "snacks")
    assert result.exit_code == 0, result.stderr
    assert _overdue(engine) == 0
    listed = cli(url, "schedules", "list", "--json")
    rows = {(r["category"], r["trade"]): (r["days"], r["stored"]) for r in json.loads(listed.stdout)}
    assert rows[("gas", "snacks")] == (60, True) and rows[("gas", "")] == (30, True)  # defaults stored
    assert rows[("electricity", "")] == (90, True)
    for args, field in ((("cooking", "5"), "field category"), (("gas", "0"), "field days"),
                        (("gas", "5", "--trade", "bakery"), "field trade")):
        refused = cli(url, "schedules", "set", *args)
        assert refused.exit_code == 1 and field in refused.stderr
    with transaction(engine) as session:
        logged = session.scalars(select(AdminLogEntry.target).where(AdminLogEntry.action == "schedule_set")).all()
    assert logged == ["gas (snacks)"]


def test_grids_list_shows_shops_leader_members_and_open_cases_as_table_csv_json(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    _shop_in_g001(engine, trade=Trade.SNACKS, opened_days_ago=1)
    source = tmp_path / "a.csv"
    source.write_text("username,display_name,role,grids\nwang,王五,grid_leader,G001\n", encoding="utf-8")
    cli(url, "users", "import", source, "--passwords-out", tmp_path / "p.csv")
    team = tmp_path / "t.csv"
    team.write_text("grid,member_kind,name\nG001,fire,林消防\nG001,property,陈物业\n", encoding="utf-8")
    cli(url, "members", "import", team)
    with transaction(engine) as session:
        point = session.scalar(select(Grid.geometry).where(Grid.code == "G001")).representative_point()
        file_case(session, viewer_for(session, "wang"), kind="patrol", category="noise", severity="low",
                  title="夜间噪音", lon=point.x, lat=point.y)
    rows = json.loads(cli(url, "grids", "list", "--format", "json").stdout)
    assert rows[0] == {"code": "G001", "shops": 1, "leader": "王五", "members": "property:陈物业;fire:林消防",
                       "open_cases": 1}
    assert rows[1] == {"code": "G002", "shops": 0, "leader": "", "members": "", "open_cases": 0}
    assert [r["code"] for r in rows] == ["G001", "G002", "G003", "G004"]
    csv_text = cli(url, "grids", "list", "--format", "csv").stdout
    assert csv_text.splitlines()[0] == "code,shops,leader,members,open_cases"
    assert "G001" in cli(url, "grids", "list").stdout


def test_status_says_where_the_holiday_calendar_ends_and_which_grids_no_branch_holds(engine, cli, tmp_path):
    from governance.readiness import readiness
    from governance.working_time import calendar_coverage

    seed_district(engine)
    url = database_url(engine)
    with transaction(engine) as session:
        last = calendar_coverage(session).last_known_year
        today = {i.key: i for i in readiness(session, now=datetime(last, 6, 1, tzinfo=UTC))}
        later = {i.key: i for i in readiness(session, now=datetime(last + 1, 3, 1, tzinfo=UTC))}
    assert today["holiday_calendar"].ok and today["holiday_calendar"].count == last
    assert not later["holiday_calendar"].ok
    assert f"from {last + 1}-01-01 the clock counts weekends only" in later["holiday_calendar"].fix
    assert today["org_unassigned_grids"].ok  # no tree stored: nothing to assign
    tree = tmp_path / "org.csv"
    tree.write_text("node_id,parent_id,level,name,grids,shops\n"
                    "street,,street_committee,街道党工委,,\n"
                    "district,street,district_committee,街区党委,,\n"
                    "b1,district,branch,第一支部,G001;G002,\n", encoding="utf-8")
    assert cli(url, "org", "import", tree).exit_code == 0
    items = {i["key"]: i for i in json.loads(cli(url, "status", "--json").stdout)}
    assert items["org_unassigned_grids"]["count"] == 2 and not items["org_unassigned_grids"]["ok"]
    assert "linpu org import FILE --replace" in items["org_unassigned_grids"]["fix"]
