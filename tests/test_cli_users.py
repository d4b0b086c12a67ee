"""linpu users add|list|disable|enable, and the schema guard of every database command."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, select

from governance.auth import verify_password
from governance.catalog import Category
from governance.db import transaction
from governance.login import AccountDisabled, sign_in
from governance.models import Grid, GridCategoryStats, GridMember, User
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import database_url, seed_district

cli = shop_tests.cli


def test_add_prompts_for_the_password_twice_and_stores_an_argon2_hash(engine, cli):
    seed_district(engine)
    url = database_url(engine)
    result = cli(url, "users", "add", "wang", "--role", "grid_leader", "--grid", "G001", "--grid", "G002",
                 "--name", "王五", input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.stderr
    assert "user wang added as grid_leader, grids G001, G002" in result.stdout
    assert "s3cret-pass" not in result.stdout  # hidden input is not echoed
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == "wang"))
        leads = session.scalars(select(GridMember.role).where(GridMember.user_id == user.id)).all()
    assert user.password_hash.startswith("$argon2") and verify_password(user.password_hash, "s3cret-pass")
    assert [str(r) for r in leads] == ["leader", "leader"]
    listed = json.loads(cli(url, "users", "list", "--json").stdout)
    assert listed == [{"username": "wang", "display_name": "王五", "role": "grid_leader", "active": True,
                       "grids": "G001;G002", "member_kind": "", "department": ""}]


def test_mismatched_confirmation_is_asked_again(engine, cli):
    result = cli(database_url(engine), "users", "add", "li", "--role", "analyst",
                 input="first-pass1\nother-pass1\nfirst-pass1\nfirst-pass1\n")
    assert result.exit_code == 0
    assert "do not match" in result.output + result.stderr


def test_disable_stops_sign_in_and_enable_restores_it(engine, cli):
    url = database_url(engine)
    cli(url, "users", "add", "sup", "--role", "supervisor", "--password", "long-enough-1")
    assert cli(url, "users", "disable", "sup").exit_code == 0
    with transaction(engine) as session:
        assert session.scalar(select(User.is_active).where(User.username == "sup")) is False
    assert "sup\tsup\tsupervisor\tdisabled" in cli(url, "users", "list").stdout
    with transaction(engine) as session, pytest.raises(AccountDisabled):
        sign_in(session, "sup", "long-enough-1")
    assert cli(url, "users", "enable", "sup").exit_code == 0
    with transaction(engine) as session:
        assert sign_in(session, "sup", "long-enough-1")


def test_refusals_exit_1_with_the_field(engine, cli):
    seed_district(engine)
    url = database_url(engine)
    cases = {
        ("x", "--role", "grid_leader", "--password", "long-enough-1"): "field grid: a grid leader needs",
        ("x", "--role", "grid_leader", "--grid", "G404", "--password", "long-enough-1"):
            "field grid: G404 not among the current grids",
        ("x", "--role", "analyst", "--password", "short"): "field password: at least 10 characters",
        ("x", "--role", "analyst", "--grid", "G001", "--password", "long-enough-1"): "--grid is for grid leaders",
    }
    for args, message in cases.items():
        result = cli(url, "users", "add", *args)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    cli(url, "users", "add", "x", "--role", "analyst", "--password", "long-enough-1")
    again = cli(url, "users", "add", "x", "--role", "analyst", "--password", "long-enough-1")
    assert again.exit_code == 1 and "field username: 'x' exists already" in again.stderr
    assert cli(url, "users", "disable", "nobody").exit_code == 1
    assert cli(url, "users", "add", "y", "--role", "mayor", "--password", "long-enough-1").exit_code == 2


def test_commands_refuse_a_database_behind_the_code(empty_engine, cli, tmp_path):
    result = cli(database_url(empty_engine), "users", "list")
    assert result.exit_code == 2 and "run `linpu db upgrade`" in result.stderr


def test_db_refresh_recounts_the_kept_figures_of_every_grid(engine, cli):
    seed_district(engine)
    with transaction(engine) as session:  # as after an upgrade that adds a kept figure
        session.execute(delete(GridCategoryStats))
        grids = session.scalar(select(func.count()).select_from(Grid))
    result = cli(database_url(engine), "db", "refresh")
    assert result.exit_code == 0, result.stderr
    assert f"{grids * len(Category):,} grid × category rows" in result.stdout
    with transaction(engine) as session:
        kept = session.scalar(select(func.count()).select_from(GridCategoryStats))
    assert kept == grids * len(Category) and grids > 0
