"""The demo never touches a real district: `linpu demo load` refuses a database holding anything else."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select

from governance.catalog import Role
from governance.db import transaction
from governance.models import GridGeneration, Shop, User
from pipelines.demo_load import load_demo
from tests import test_ingest_shops
from tests.test_ingest_shops import GOOD_SHOPS, database_url

#: The fixtures of the register tests: a database with the demo boundary and four grids, and the CLI.
district = test_ingest_shops.district
cli = test_ingest_shops.cli


def counts(engine) -> tuple[int, int, int]:
    with transaction(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Shop, User, GridGeneration))


def test_demo_load_refuses_a_real_district_naming_what_it_found(district, cli, tmp_path):
    url = database_url(district)
    register = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
    register["shop_id"] = register["shop_id"].str.replace("YJ", "SY")  # the office's own codes
    path = tmp_path / "register.csv"
    register.to_csv(path, index=False)
    assert cli(url, "ingest", "shops", path).exit_code == 0
    with transaction(district) as session:
        session.add(User(username="clerk", display_name="文员", role=Role.ADMIN, password_hash="x"))
    before = counts(district)
    result = cli(url, "demo", "load")
    assert result.exit_code == 1
    assert "20 家商铺 / shops (SY0001, SY0002, SY0003 …)" in result.stderr
    assert "1 个账号 / accounts (clerk)" in result.stderr
    assert "the demo is not loaded" in result.stderr
    assert counts(district) == before  # no demo account, no second current generation


def test_demo_load_refuses_grids_without_the_demo(district, cli):
    result = cli(database_url(district), "demo", "load")
    assert result.exit_code == 1 and "1 代网格 / grid generations" in result.stderr
    assert counts(district)[1] == 0  # no demo account with the public password


def test_demo_loads_into_an_empty_database_and_again_into_itself(engine):
    assert load_demo(engine).loaded
    assert not load_demo(engine).loaded  # the demo alone is no refusal
