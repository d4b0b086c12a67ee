"""Nothing lost by a partial register: the closing guard, its two ways on, and who applies a register.

A register holding only some shops would close every other shop; the CLI
refuses such a run unless told `--partial` or `--close-missing`, and the
dashboard lets only the admin apply a register.
"""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st

from governance.catalog import Role
from governance.errors import PermissionDenied
from governance.settings import get_settings
from governance.viewer import Viewer
from tests import test_ingest_shops
from tests.test_ingest_shops import GOOD_SHOPS, database_url, snapshot, stored_shops

#: The fixtures of the register tests: a database with the demo boundary and four grids, and the CLI.
district = test_ingest_shops.district
cli = test_ingest_shops.cli


@pytest.fixture
def three_shops(tmp_path):
    few = tmp_path / "new_this_month.csv"
    pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(3).to_csv(few, index=False)
    return few


def test_a_register_closing_most_shops_is_refused_naming_the_count_and_the_ways_on(district, cli, three_shops):
    url = database_url(district)
    assert cli(url, "ingest", "shops", GOOD_SHOPS).exit_code == 0
    before = snapshot(district)
    for extra in ([], ["--dry-run"]):
        result = cli(url, "ingest", "shops", three_shops, *extra)
        assert result.exit_code == 1
        assert "17 of the 20 open shops" in result.stdout and "文件未列出 17 家在营商铺" in result.stdout
        assert "\nerror: 文件未列出 17 家" in result.stderr  # said where errors are said
        assert "--partial" in result.stdout and "--close-missing" in result.stdout
    assert snapshot(district) == before


def test_close_missing_confirms_and_partial_adds_only(district, cli, three_shops):
    url = database_url(district)
    cli(url, "ingest", "shops", GOOD_SHOPS)
    partial = cli(url, "ingest", "shops", three_shops, "--partial")
    assert partial.exit_code == 0 and "0 closed" in partial.stdout
    assert stored_shops(district)["closed_at"].isna().all()
    confirmed = cli(url, "ingest", "shops", three_shops, "--close-missing")
    assert confirmed.exit_code == 0 and "17 closed" in confirmed.stdout
    assert stored_shops(district)["closed_at"].notna().sum() == 17


def test_partial_and_close_missing_together_is_a_usage_error(district, cli, three_shops):
    result = cli(database_url(district), "ingest", "shops", three_shops, "--partial", "--close-missing")
    assert result.exit_code == 2 and "contradict" in result.stderr


def test_closing_a_few_shops_needs_no_confirmation(district, cli, tmp_path):
    url = database_url(district)
    cli(url, "ingest", "shops", GOOD_SHOPS)
    most = tmp_path / "most.csv"
    pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False).head(18).to_csv(most, index=False)
    result = cli(url, "ingest", "shops", most)
    assert result.exit_code == 0 and "2 closed" in result.stdout


@pytest.fixture
def dashboard_on(district, monkeypatch):
    monkeypatch.setenv("LINPU_DATABASE_URL", database_url(district))
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield district
    get_settings.cache_clear()
    st.cache_resource.clear()


def test_an_analyst_validates_a_register_but_only_the_admin_applies_it(dashboard_on):
    from dashboard import data  # the dashboard reads LINPU_DATABASE_URL, set by the fixture

    payload = GOOD_SHOPS.read_bytes()
    analyst = Viewer(user_id=None, username="analyst1", role=Role.ANALYST)
    preview = data.ingest_register(analyst, payload, "shops.csv", coords="wgs84", close_missing=False,
                                   dry_run=True)
    assert preview.counts["opened"] == 20 and not preview.written
    with pytest.raises(PermissionDenied, match="only the admin"):
        data.ingest_register(analyst, payload, "shops.csv", coords="wgs84", close_missing=False, dry_run=False)
    supervisor = Viewer(user_id=None, username="supervisor1", role=Role.SUPERVISOR)
    with pytest.raises(PermissionDenied):
        data.ingest_register(supervisor, payload, "shops.csv", coords="wgs84", close_missing=False,
                             dry_run=False)
    assert stored_shops(dashboard_on).empty
    admin = Viewer(user_id=None, username="admin", role=Role.ADMIN)
    applied = data.ingest_register(admin, payload, "shops.csv", coords="wgs84", close_missing=False,
                                   dry_run=False)
    assert applied.written and len(stored_shops(dashboard_on)) == 20
