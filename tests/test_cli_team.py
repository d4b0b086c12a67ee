"""linpu departments add|list and linpu users add --member-kind/--department (issue 20)."""

from __future__ import annotations

import json

from sqlalchemy import select

from governance.db import transaction
from governance.models import Department, GridMember, User
from governance.permissions import viewer_for
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import database_url, seed_district

cli = shop_tests.cli


def test_departments_and_member_and_department_accounts_from_the_command_line(engine, cli):
    seed_district(engine)
    url = database_url(engine)
    added = cli(url, "departments", "add", "街道司法所", "--auto", "legal_advice")
    assert added.exit_code == 0, added.stderr
    assert "default for legal_advice, automatic for legal_advice" in added.stdout
    assert cli(url, "departments", "add", "城管中队").exit_code == 0
    result = cli(url, "users", "add", "fire1", "--role", "member", "--member-kind", "fire", "--grid", "G001",
                 "--password", "long-enough-1")
    assert result.exit_code == 0 and "added as member (fire), grids G001" in result.stdout, result.stderr
    result = cli(url, "users", "add", "dept1", "--role", "department", "--department", "城管中队",
                 "--password", "long-enough-1")
    assert result.exit_code == 0 and "of 城管中队" in result.stdout, result.stderr
    with transaction(engine) as session:
        member, department = viewer_for(session, "fire1"), viewer_for(session, "dept1")
        kinds = session.scalars(select(GridMember.role).join(User, User.id == GridMember.user_id)
                                .where(User.username == "fire1")).all()
        assert department.department_id == session.scalar(select(Department.id).where(Department.name == "城管中队"))
    assert str(member.member_kind) == "fire" and len(member.grid_ids) == 1 and [str(k) for k in kinds] == ["fire"]
    listed = {row["name"]: row for row in json.loads(cli(url, "departments", "list", "--json").stdout)}
    assert listed["城管中队"]["people"] == 1 and listed["街道司法所"]["auto_for"] == "legal_advice"
    users = {row["username"]: row for row in json.loads(cli(url, "users", "list", "--json").stdout)}
    assert (users["fire1"]["member_kind"], users["dept1"]["department"]) == ("fire", "城管中队")


def test_team_refusals_name_the_field_and_write_nothing(engine, cli):
    seed_district(engine)
    url = database_url(engine)
    cases = {
        ("a", "--role", "member", "--grid", "G001"): "field member_kind: a member needs a kind",
        ("a", "--role", "member", "--member-kind", "fire"): "field grid: a member needs at least one grid",
        ("a", "--role", "department"): "field department: a department account needs its department",
        ("a", "--role", "department", "--department", "无此部门"): "no department named '无此部门'",
        ("a", "--role", "supervisor", "--member-kind", "fire"): "only a member has a kind",
    }
    for args, message in cases.items():
        result = cli(url, "users", "add", *args, "--password", "long-enough-1")
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    assert cli(url, "departments", "add", "x", "--auto", "gas").exit_code == 2  # not a service category
    with transaction(engine) as session:
        assert session.scalar(select(User.id).where(User.username == "a")) is None
