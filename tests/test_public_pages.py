"""The public pages (dashboard.public_pages) through the app's routes on a copy of the demo: the shop's
page in Chinese and English with live badges and the form, an order placed and followed by its link,
the grid's page, limits per client address (forwarded only from a trusted proxy), and no way from a
public link to a staff page or to another request."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.routes import ROUTES, SESSION_PATH, TOKEN_HEADER
from governance.badges import revoke_badge
from governance.catalog import MemberRole
from governance.db import make_engine, transaction
from governance.models import Case, Grid, GridMember, PublicRequest, Shop, ShopBadge
from governance.permissions import system_viewer, viewer_for
from governance.public_requests import find_request
from governance.settings import get_settings
from governance.workflow import transition


@pytest.fixture
def site(demo_database, tmp_path, monkeypatch):
    """A private copy of the demo behind the routes; returns (client, database url)."""
    target = tmp_path / "public.sqlite3"
    shutil.copy(Path(demo_database.removeprefix("sqlite:///")), target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("LINPU_DATABASE_URL", url)
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LINPU_TRUSTED_PROXIES", raising=False)
    get_settings.cache_clear()
    st.cache_resource.clear()
    yield url
    get_settings.cache_clear()
    st.cache_resource.clear()


def client(**kwargs) -> TestClient:
    return TestClient(Starlette(routes=ROUTES), **kwargs)


def badged_shop(url: str) -> dict:
    engine = make_engine(url)
    with transaction(engine) as session:
        shop = session.scalar(select(Shop).join(ShopBadge, ShopBadge.shop_id == Shop.id)
                              .where(ShopBadge.revoked_at.is_(None), Shop.closed_at.is_(None)).order_by(Shop.id))
        leader = session.scalar(select(GridMember).where(GridMember.grid_id == shop.grid_id,
                                                         GridMember.role == MemberRole.LEADER))
        badge = session.scalar(select(ShopBadge.badge).where(ShopBadge.shop_id == shop.id,
                                                             ShopBadge.revoked_at.is_(None)))
        found = {"public_id": shop.public_id, "code": shop.shop_code, "name": shop.name, "badge": str(badge),
                 "grid": session.get(Grid, shop.grid_id).code, "leader": leader.name, "phone": leader.phone}
    engine.dispose()
    return found


def order(http: TestClient, public_id: str, **fields):
    data = {"kind": "order", "topic": "noise", "text": "晚上十点后音响太吵", "phone": "", "lang": "zh", **fields}
    photo = fields.pop("photo", None)
    data.pop("photo", None)
    files = {"photo": photo} if photo else None
    return http.post(f"/p/s/{public_id}/request", data=data, files=files)


def tracking_link(response) -> str:
    assert response.status_code == 200, response.text
    return re.search(r'href="(/p/t/[^"?]+)', response.text).group(1)


def test_the_shop_page_shows_the_shop_its_live_badges_leader_and_form_in_chinese_then_english(site):
    shop = badged_shop(site)
    http = client()
    page = http.get(f"/p/s/{shop['public_id']}")
    assert page.status_code == 200
    assert shop["name"] in page.text and shop["leader"] in page.text and "请求服务" in page.text
    assert "隐私说明" in page.text and 'name="viewport"' in page.text
    assert shop["code"] not in page.text
    if shop["phone"]:
        digits = re.sub(r"\D", "", shop["phone"])
        assert digits not in page.text and digits[-4:] in page.text
    english = http.get(f"/p/s/{shop['public_id']}?lang=en")
    assert "Ask for a service" in english.text and "Privacy" in english.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    badge_zh = {"party_member_operator": "党员经营户", "model_shop": "示范户", "trusted_shop": "放心店",
                "pioneer": "先锋商户"}[shop["badge"]]
    assert badge_zh in page.text
    engine = make_engine(site)
    with transaction(engine) as session:
        revoke_badge(session, system_viewer(), shop["code"], shop["badge"], reason="test: complaints")
    engine.dispose()
    assert badge_zh not in http.get(f"/p/s/{shop['public_id']}").text
    assert http.get("/p/s/not-a-shop").status_code == 404


def test_an_order_is_placed_followed_rated_and_found_again(site):
    shop = badged_shop(site)
    http = client()
    placed = order(http, shop["public_id"], phone="13912345678")
    link = tracking_link(placed)
    code = re.search(r'class="code">([A-Z0-9]+)<', placed.text).group(1)
    tracked = http.get(link)
    assert tracked.status_code == 200 and "预警" in tracked.text and "提交评价" not in tracked.text
    assert "晚上十点后音响太吵" not in tracked.text and tracked.headers["cache-control"] == "no-store"
    engine = make_engine(site)
    with transaction(engine) as session:
        case = session.get(Case, find_request(session, link.rsplit("/", 1)[1]).case_id)
        assert session.get(Grid, case.grid_id).code == shop["grid"]
        supervisor = viewer_for(session, "supervisor1")
        now = datetime.now(UTC) - timedelta(minutes=5)
        transition(session, supervisor, case.id, "take_on", expected_version=1, now=now)
        transition(session, supervisor, case.id, "resolve", expected_version=2, now=now + timedelta(seconds=1))
    engine.dispose()
    assert "提交评价" in http.get(link).text
    rated = http.post(link + "/rate", data={"rating": "5", "comment": "很快", "lang": "zh"}, follow_redirects=False)
    assert rated.status_code == 303
    after = http.get(link)
    assert "5 / 5" in after.text and "提交评价" not in after.text
    assert http.post(link + "/rate", data={"rating": "4"}).status_code == 409
    found = http.post("/p/find", data={"code": code, "phone": "139-1234-5678"}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].startswith("/p/t/")
    assert http.get(link).status_code == 404  # the lost link was replaced
    assert http.post("/p/find", data={"code": code, "phone": "13900000000"}).status_code == 404


def test_the_grid_page_shows_shops_leader_masked_and_the_team_as_roles(site):
    shop = badged_shop(site)
    page = client().get(f"/p/g/{shop['grid']}")
    assert page.status_code == 200 and shop["name"] in page.text and shop["leader"] in page.text
    engine = make_engine(site)
    with transaction(engine) as session:
        grid_id = session.scalar(select(Grid.id).join(Shop, Shop.grid_id == Grid.id)
                                 .where(Shop.public_id == shop["public_id"]))
        others = session.scalars(select(GridMember).where(GridMember.grid_id == grid_id,
                                                          GridMember.role != MemberRole.LEADER)).all()
    engine.dispose()
    assert others, "the demo grid has a team"
    for member in others:
        assert member.name not in page.text
        if member.phone:
            assert re.sub(r"\D", "", member.phone) not in page.text


def test_orders_per_client_address_are_limited_and_forwarded_addresses_count_only_from_a_trusted_proxy(
        site, monkeypatch):
    monkeypatch.setenv("LINPU_PUBLIC_ORDERS_PER_IP_PER_DAY", "2")
    get_settings.cache_clear()
    public_id = badged_shop(site)["public_id"]
    http = client()
    for forwarded in ("198.51.100.1", "198.51.100.2"):  # an untrusted peer's header is ignored
        assert order(http, public_id, lang="en").status_code == 200, forwarded
    refused = http.post(f"/p/s/{public_id}/request", headers={"x-forwarded-for": "198.51.100.3"},
                        data={"kind": "order", "topic": "noise", "text": "again", "lang": "en"})
    assert refused.status_code == 429 and "the most allowed" in refused.text
    monkeypatch.setenv("LINPU_TRUSTED_PROXIES", "testclient")
    get_settings.cache_clear()
    through_proxy = http.post(f"/p/s/{public_id}/request", headers={"x-forwarded-for": "198.51.100.3"},
                              data={"kind": "order", "topic": "noise", "text": "via proxy"})
    assert through_proxy.status_code == 200


def test_a_bad_photo_is_refused_in_the_users_language_and_nothing_is_written(site):
    public_id = badged_shop(site)["public_id"]
    engine = make_engine(site)
    with transaction(engine) as session:  # the demo holds public requests of its own
        before = session.scalar(select(func.count(PublicRequest.id)))
    response = order(client(), public_id, photo=("x.jpg", io.BytesIO(b"MZ not an image"), "image/jpeg"))
    assert response.status_code == 400 and "照片不可用" in response.text
    assert "晚上十点后音响太吵" in response.text  # the form keeps what was typed
    with transaction(engine) as session:
        assert session.scalar(select(func.count(PublicRequest.id))) == before
    engine.dispose()


def test_a_public_link_reaches_no_staff_page_and_no_other_request(site):
    public_id = badged_shop(site)["public_id"]
    http = client()
    first = tracking_link(order(http, public_id, text="第一单"))
    second = tracking_link(order(http, public_id, text="第二单", topic="fumes"))
    assert "油烟" in http.get(second).text and "油烟" not in http.get(first).text
    token = first.rsplit("/", 1)[1]
    # The tracking token is no sign-in: the session route refuses it.
    origin = {"origin": "http://testserver", TOKEN_HEADER: token}
    assert http.post(SESSION_PATH, headers=origin).status_code == 401
    assert http.get(first[:-3] + "xyz").status_code == 404
    for path in ("/p/t/", "/p/s/", "/p/g/", "/p/t/../../linpu/session"):
        assert http.get(path).status_code in (404, 405)


def test_the_supervisors_case_actions_hide_an_abusive_order_and_its_page_says_withdrawn(site):
    from dashboard import data

    public_id = badged_shop(site)["public_id"]
    http = client()
    link = tracking_link(order(http, public_id, text="骂人的话"))
    engine = make_engine(site)
    with transaction(engine) as session:
        case_id = find_request(session, link.rsplit("/", 1)[1]).case_id
        supervisor, leader = viewer_for(session, "supervisor1"), viewer_for(session, "leader01")
        staff_case = session.scalar(select(Case.id).where(Case.id.not_in(select(PublicRequest.case_id)),
                                                          Case.state == "warning"))
    engine.dispose()
    assert data.may_hide(supervisor, case_id) and not data.may_hide(leader, case_id)
    assert not data.may_hide(supervisor, staff_case)  # a staff finding is not hidden this way
    assert data.transition(supervisor, case_id, "hide", expected_version=1, note="辱骂，非诉求") == "closed"
    assert "已被街道办撤销" in http.get(link).text
    timeline = data.case_timeline(supervisor, case_id)
    assert "辱骂，非诉求" in timeline.to_string()


def test_the_shop_page_lists_the_service_points_nearest_the_shop_nearest_first(site):
    from governance.compact import nearest_service_points

    shop = badged_shop(site)
    engine = make_engine(site)
    with transaction(engine) as session:
        where = session.scalar(select(Shop).where(Shop.public_id == shop["public_id"])).geometry
        expected = nearest_service_points(session, where.x, where.y)
    engine.dispose()
    assert len(expected) == 3, "the demo has service points near every shop"
    page = client().get(f"/p/s/{shop['public_id']}")
    section = page.text.split('id="nearby-service-points"')[1].split("</section>")[0]
    assert "附近服务点" in section
    shown = [section.index(point.name) for point in expected]
    assert shown == sorted(shown)  # nearest first
    assert f"{round(expected[0].distance_m)} 米" in section
    english = client().get(f"/p/s/{shop['public_id']}?lang=en").text
    assert "Service points nearby" in english and f"{round(expected[0].distance_m)} m" in english
