"""Nothing lost by a partial register: the closing guard, its two ways on, and who applies a register.

A register holding only some shops would close every other shop; the CLI
refuses such a run unless told `--partial` or `--close-missing`, and the
dashboard lets only the admin apply a register.
"""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import select

from dashboard.i18n import translate
from governance.catalog import Role
from governance.db import transaction
from governance.errors import PermissionDenied
from governance.login import issue_token
from governance.models import AdminLogEntry, User
from governance.settings import get_settings
from governance.viewer import Viewer
from tests import test_ingest_shops
from tests.test_dashboard_access import run_page
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


def test_closing_five_of_twenty_goes_through_and_six_is_refused(district, cli, tmp_path):
    # Both are more than a tenth: only "and more than five" separates them.
    url = database_url(district)
    cli(url, "ingest", "shops", GOOD_SHOPS)
    shops = pd.read_csv(GOOD_SHOPS, dtype=str, keep_default_na=False)
    fourteen, fifteen = tmp_path / "fourteen.csv", tmp_path / "fifteen.csv"
    shops.head(14).to_csv(fourteen, index=False)
    shops.head(15).to_csv(fifteen, index=False)
    before = snapshot(district)
    refused = cli(url, "ingest", "shops", fourteen)
    assert refused.exit_code == 1 and "6 of the 20 open shops" in refused.stdout
    assert snapshot(district) == before
    result = cli(url, "ingest", "shops", fifteen)
    assert result.exit_code == 0 and "5 closed" in result.stdout
    assert stored_shops(district)["closed_at"].notna().sum() == 5


def validated(at, register, *, close: bool):
    """The upload section with ``register`` chosen, the closing switch set, and Validate clicked."""
    at.file_uploader(key="an-upload").set_value((register.name, register.read_bytes(), "text/csv"))
    at.run()
    if close != at.toggle(key="an-upload-close").value:
        at.toggle(key="an-upload-close").set_value(close).run()
    return at.button(key="an-validate").click().run()


def boxes(at) -> list[str]:
    return [box.value for box in [*at.success, *at.warning, *at.info, *at.error]]


def test_the_upload_page_adds_and_updates_unless_the_admin_switches_closing_on_and_confirms_it(
        dashboard_on, cli, three_shops):
    url = database_url(dashboard_on)
    assert cli(url, "ingest", "shops", GOOD_SHOPS).exit_code == 0
    with transaction(dashboard_on) as session:
        session.add_all([User(username="clerk", display_name="文员", role=Role.ADMIN),
                         User(username="ana", display_name="分析员", role=Role.ANALYST)])
    get_settings.cache_clear()  # the cli fixture cleared it for its own run

    # The analyst validates and previews; nothing offers to write.
    at = validated(run_page("analyst", issue_token("ana")), three_shops, close=True)
    assert not at.exception, [e.value for e in at.exception]
    assert any("17 closed" in w.value for w in at.warning)
    assert translate("an.admin_applies", "en") in boxes(at)
    assert not [b for b in at.button if b.key == "an-write"]
    assert stored_shops(dashboard_on)["closed_at"].isna().all()

    # The admin, on the admin page: by default the three are added and updated, none closed.
    at = run_page("admin", issue_token("clerk"))
    assert at.toggle(key="an-upload-close").value is False
    at = validated(at, three_shops, close=False)
    assert not at.exception, [e.value for e in at.exception]
    assert not any("closed" in w.value for w in at.warning) and any("0 closed" in s.value for s in at.success)
    assert not [c for c in at.checkbox if c.key == "an-confirm-close"]
    at.button(key="an-write").click().run()
    assert stored_shops(dashboard_on)["closed_at"].isna().all()

    # Closing switched on: a warning naming the 17, and Write stays off until the tick.
    at = validated(at, three_shops, close=True)
    assert any("17 closed" in w.value for w in at.warning)
    assert at.checkbox(key="an-confirm-close").label == translate("an.confirm_close", "en", n=17)
    assert at.button(key="an-write").disabled
    at.checkbox(key="an-confirm-close").check().run()
    assert not at.button(key="an-write").disabled
    at.button(key="an-write").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert stored_shops(dashboard_on)["closed_at"].notna().sum() == 17

    with transaction(dashboard_on) as session:
        applied = session.execute(select(AdminLogEntry.actor, AdminLogEntry.detail)
                                  .where(AdminLogEntry.action == "register_applied")
                                  .order_by(AdminLogEntry.id)).all()
    assert len(applied) == 3 and [actor for actor, _ in applied][1:] == ["clerk", "clerk"]  # the CLI's first
    log = at.dataframe[-1].value
    assert (log.iloc[0]["Who"], log.iloc[0]["What"]) == ("clerk", "Register applied")
