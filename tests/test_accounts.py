"""linpu users import (the one account file), members import, reset, move-grids, and the admin log."""

from __future__ import annotations

import csv
import os
import stat

import pytest
from openpyxl import Workbook
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from governance import admin_log
from governance.db import transaction
from governance.errors import ValidationError
from governance.login import BadCredentials, change_password, must_change_password, sign_in
from governance.models import AdminLogEntry, Grid, GridMember, User
from governance.permissions import district_viewer, system_viewer, viewer_for
from governance.queries import grid_team
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import database_url, seed_district

cli = shop_tests.cli

HEADER = "username,display_name,role,grids,member_kind,department,scope,phone\n"


def _write(path, body: str, *, encoding: str = "utf-8") -> str:
    path.write_bytes(body.encode(encoding))
    return str(path)


def _passwords(path) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as handle:
        return {row["username"]: row["one_time_password"] for row in csv.DictReader(handle)}


def _accounts(engine) -> dict[str, tuple]:
    with transaction(engine) as session:
        users = {u.username: (str(u.role), u.display_name, u.phone, u.must_change_password)
                 for u in session.scalars(select(User))}
    return users


def _log(engine) -> list[tuple[str, str, int]]:
    with transaction(engine) as session:
        return [(e.action, e.target, e.rows) for e in session.scalars(select(AdminLogEntry).order_by(AdminLogEntry.id))]


def test_import_creates_accounts_with_one_time_passwords_in_a_private_file(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    # GBK, Chinese headers and Chinese role words, as an office's spreadsheet saves them.
    source = _write(tmp_path / "accounts.csv",
                    "用户名,姓名,角色,网格,成员类别,部门,范围,电话\n"
                    "wang,王五,邻铺长,G001;G002,,,,13800000001\n"
                    "zhao,赵六,督办员,,,,,\n", encoding="gbk")
    out = tmp_path / "passwords.csv"
    result = cli(url, "users", "import", source, "--passwords-out", out)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert os.stat(out).st_uid == os.getuid()
    passwords = _passwords(out)
    assert set(passwords) == {"wang", "zhao"}
    assert all(p not in result.output + result.stderr for p in passwords.values())
    assert _accounts(engine) == {"wang": ("grid_leader", "王五", "13800000001", True),
                                 "zhao": ("supervisor", "赵六", None, True)}
    with transaction(engine) as session:
        assert sign_in(session, "wang", passwords["wang"]).username == "wang"
        assert must_change_password(session, "wang")
        assert {g.code for g in session.scalars(select(Grid).where(Grid.id.in_(viewer_for(session, "wang").grid_ids)))} \
            == {"G001", "G002"}
    assert ("accounts_created", "wang, zhao", 2) in _log(engine)


def test_the_first_password_change_follows_the_policy_and_ends_the_forced_change(engine, cli, tmp_path):
    seed_district(engine)
    out = tmp_path / "p.csv"
    cli(database_url(engine), "users", "import",
        _write(tmp_path / "a.csv", HEADER + "wang,王五,grid_leader,G001,,,,\n"), "--passwords-out", out)
    once = _passwords(out)["wang"]
    with transaction(engine) as session:
        for bad, why in (("short-1", "at least 10"), ("WANG", "at least 10"), ("Wang      ", "user name"),
                         (once, "one-time")):
            with pytest.raises(ValidationError, match=why):
                change_password(session, "wang", once, bad)
        with pytest.raises(BadCredentials):
            change_password(session, "wang", "not-the-password", "a-good-password")
        change_password(session, "wang", once, "a-good-password")
        assert not must_change_password(session, "wang")
        assert sign_in(session, "wang", "a-good-password")


def test_a_file_with_any_bad_row_is_refused_whole_naming_row_and_field(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    source = _write(tmp_path / "bad.csv", HEADER + "\n".join([
        "ok,好,grid_leader,G001,,,,",
        "bad name,x,analyst,,,,,",
        "li,李,mayor,,,,,",
        "chen,陈,grid_leader,G404,,,,",
        "sun,孙,analyst,G001,,,,",
        "ok,again,analyst,,,,,",
        "zhou,周,supervisor,,,,branch-9,",
        "wu,吴,grid_leader,G002,,,,12ab",
        "fire1,消防员,member,G001,fire,,,",
        "dept,部门,department,,,住建局,,",
    ]) + "\n")
    out = tmp_path / "p.csv"
    result = cli(url, "users", "import", source, "--passwords-out", out)
    assert result.exit_code == 1
    for fragment in ("bad.csv row 3 field username", "row 4 field role: 'mayor' is not a role",
                     "row 5 field grids: G404 not among the current grids / 不是现有网格",
                     "row 6 field grids: an analyst belongs to no grid", "row 7 field username: 'ok' is on row 2",
                     "row 8 field scope", "row 9 field phone",
                     "row 11 field department: '住建局' is not a department"):
        assert fragment in result.stderr, fragment
    assert _accounts(engine) == {} and not out.exists() and _log(engine) == []


def test_passwords_file_that_exists_is_refused_and_left_alone(engine, cli, tmp_path):
    seed_district(engine)
    out = tmp_path / "p.csv"
    out.write_text("someone else's\n")
    result = cli(database_url(engine), "users", "import",
                 _write(tmp_path / "a.csv", HEADER + "an,安,analyst,,,,,\n"), "--passwords-out", out)
    assert result.exit_code == 1 and "exists already" in result.stderr
    assert out.read_text() == "someone else's\n" and _accounts(engine) == {}


def test_reimport_updates_without_new_passwords_and_xlsx_reads_the_same(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    cli(url, "users", "import", _write(tmp_path / "a.csv", HEADER + "wang,王五,grid_leader,G001,,,,\n"),
        "--passwords-out", tmp_path / "p1.csv")
    book = Workbook()
    sheet = book.active
    sheet.append(["用户名", "姓名", "角色", "网格", "电话"])
    sheet.append(["wang", "王五", "grid_leader", "G003", "13900000000"])
    book.save(tmp_path / "b.xlsx")
    result = cli(url, "users", "import", tmp_path / "b.xlsx")
    assert result.exit_code == 0, result.stderr
    assert _accounts(engine)["wang"] == ("grid_leader", "王五", "13900000000", True)
    with transaction(engine) as session:
        assert viewer_for(session, "wang").grid_ids == {session.scalar(select(Grid.id).where(Grid.code == "G003"))}
    assert ("accounts_updated", "wang", 1) in _log(engine)


def test_reset_gives_a_one_time_password_and_move_grids_hands_them_over(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    cli(url, "users", "import", _write(tmp_path / "a.csv", HEADER + "wang,王五,grid_leader,G001;G002,,,,\n"
                                       "li,李四,grid_leader,G003,,,,\n"), "--passwords-out", tmp_path / "p.csv")
    reset = cli(url, "users", "reset", "li")
    assert reset.exit_code == 0
    temporary = reset.stdout.split("one-time password ")[1].split()[0]
    with transaction(engine) as session:
        assert sign_in(session, "li", temporary) and must_change_password(session, "li")
    moved = cli(url, "users", "move-grids", "wang", "li", "--grid", "G002")
    assert moved.exit_code == 0 and "1 grids moved from wang to li: G002" in moved.stdout
    with transaction(engine) as session:
        codes = {c for (c,) in session.execute(select(Grid.code).join(GridMember).join(User)
                                              .where(User.username == "li"))}
        assert codes == {"G002", "G003"}
    assert cli(url, "users", "move-grids", "wang", "li", "--grid", "G004").exit_code == 1
    assert cli(url, "users", "disable", "wang").exit_code == 0
    actions = [a for a, _, _ in _log(engine)]
    assert actions == ["accounts_created", "password_reset", "grids_moved", "account_disabled"]


def test_members_import_records_the_team_the_supervisor_sees(engine, cli, tmp_path):
    seed_district(engine)
    url = database_url(engine)
    source = _write(tmp_path / "team.csv", "网格,成员类别,姓名,电话\nG001,物业,陈物业,0595-1234567\n"
                    "G001,fire,林消防,\nG002,security,黄治安,\n", encoding="gbk")
    result = cli(url, "members", "import", source)
    assert result.exit_code == 0, result.stderr
    with transaction(engine) as session:
        team = grid_team(session, district_viewer(), "G001")
    assert list(zip(team["role"], team["name"], strict=True)) == [("property", "陈物业"), ("fire", "林消防")]
    bad = cli(url, "members", "import", _write(tmp_path / "bad.csv", "grid,member_kind,name\nG009,cook,\n"))
    assert bad.exit_code == 1
    for fragment in ("row 2 field grid", "row 2 field member_kind: 'cook'", "row 2 field name"):
        assert fragment in bad.stderr
    assert [a for a, _, _ in _log(engine)] == ["members_imported"]


def test_the_admin_log_refuses_update_and_delete(engine):
    with transaction(engine) as session:
        admin_log.record(session, actor="shell:test", action="backup", target="x", rows=3)
    for statement in ("UPDATE admin_log SET rows = 0", "DELETE FROM admin_log"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(engine) as session:
            session.execute(text(statement))
    assert _log(engine) == [("backup", "x", 3)]


def test_member_and_department_accounts_come_from_the_same_file(engine, cli, tmp_path):
    from governance.departments import add_department

    seed_district(engine)
    with transaction(engine) as session:
        add_department(session, system_viewer(), "住建局")
    url = database_url(engine)
    source = _write(tmp_path / "team.csv", HEADER + "\n".join([
        "fire1,消防员甲,网格成员,G001;G002,消防,,,13800000011",
        "dept1,住建局办事员,department,,,住建局,,",
        "odd,某人,member,G001,plumber,,,",
    ]) + "\n")
    refused = cli(url, "users", "import", source, "--passwords-out", tmp_path / "no.csv")
    assert refused.exit_code == 1 and "row 4 field member_kind: 'plumber' is not a member kind" in refused.stderr
    source = _write(tmp_path / "team.csv", HEADER + "fire1,消防员甲,网格成员,G001;G002,消防,,,13800000011\n"
                    "dept1,住建局办事员,department,,,住建局,,\n")
    result = cli(url, "users", "import", source, "--passwords-out", tmp_path / "p.csv")
    assert result.exit_code == 0, result.stderr
    with transaction(engine) as session:
        fire = viewer_for(session, "fire1")
        dept = session.scalar(select(User).where(User.username == "dept1"))
        memberships = {(g, str(r)) for g, r in session.execute(
            select(Grid.code, GridMember.role).join(GridMember, GridMember.grid_id == Grid.id)
            .join(User, User.id == GridMember.user_id).where(User.username == "fire1"))}
        assert str(fire.role) == "member" and memberships == {("G001", "fire"), ("G002", "fire")}
        assert str(dept.role) == "department" and dept.department_id is not None and dept.must_change_password
