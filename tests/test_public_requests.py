"""The public's orders and complaints (governance.public_requests): filed through the workflow in the
shop's grid, followed by a token whose hash alone is kept, rated once resolved, limited per address and
phone, photos checked and stripped of GPS, hidden by a supervisor; on SQLite and PostGIS."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from governance.attachments import attachment_path
from governance.badges import award_badge, badges_due_for_revocation
from governance.catalog import CaseState
from governance.db import transaction
from governance.duplicates import merge_cases
from governance.errors import (
    AttachmentError,
    NotFoundError,
    PermissionDenied,
    PublicRefusal,
    ValidationError,
)
from governance.models import Attachment, Case, CaseHistory, PublicRequest, Shop
from governance.public_requests import (
    forget_phones,
    hide_request,
    place_request,
    rate_request,
    recover_link,
    token_hash,
    tracking_view,
)
from governance.rules import HistoryRow, check_history
from governance.settings import Settings, get_settings
from governance.testing import seed_small_district
from governance.workflow import transition

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Quanzhou


@pytest.fixture
def world(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    district = seed_small_district(engine, now=NOW - timedelta(days=30))
    with transaction(engine) as session:
        public_ids = {code: session.scalar(select(Shop.public_id).where(Shop.shop_code == shop))
                      for code, shop in district.shop_codes.items()}
    viewers = {n: district.viewer(engine, n) for n in ("leader1", "leader2", "supervisor")}
    yield engine, district, public_ids, viewers
    get_settings.cache_clear()


def _place(engine, public_id, *, kind="order", topic="noise", text="门口噪音太大", phone=None, photo=None,
           address="203.0.113.7", at=NOW, settings=None):
    with transaction(engine) as session:
        return place_request(session, public_id=public_id, kind=kind, topic=topic, text=text, phone=phone,
                             photo=photo, client_address=address, now=at, settings=settings)


def _case(engine, case_no) -> Case:
    with transaction(engine) as session:
        case = session.scalar(select(Case).where(Case.case_no == case_no))
        session.expunge(case)
        return case


def _step(engine, viewer, case_no, action, at):
    case = _case(engine, case_no)
    with transaction(engine) as session:
        transition(session, viewer, case.id, action, expected_version=case.version, now=at)


def _view(engine, token):
    with transaction(engine) as session:
        return tracking_view(session, token)


def _history(engine, case_no):
    with transaction(engine) as session:
        case = session.scalar(select(Case).where(Case.case_no == case_no))
        return [(h.action, h.from_state, h.to_state, h.note, h.details) for h in session.scalars(
            select(CaseHistory).where(CaseHistory.case_id == case.id).order_by(CaseHistory.seq))]


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (24.0, 54.0, 7.0), 3: "E", 4: (118.0, 35.0, 2.0)}
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_shops_get_a_random_public_id_never_their_code(world):
    engine, district, public_ids, _ = world
    assert len(set(public_ids.values())) == 2
    for code, public_id in public_ids.items():
        assert len(public_id) >= 12 and district.shop_codes[code] not in public_id


def test_an_order_files_a_case_in_the_shops_grid_with_deadline_and_history(world):
    engine, district, public_ids, _ = world
    placed = _place(engine, public_ids["G002"], topic="legal_advice", text="想咨询租赁合同\n第二行")
    case = _case(engine, placed.case_no)
    assert case.grid_id == district.grid_ids["G002"] and case.state == CaseState.WARNING
    assert case.kind == "service_request" and case.category == "legal_advice" and case.shop_id is None
    assert case.due_at > NOW and case.title == "群众点单：想咨询租赁合同"
    assert _history(engine, placed.case_no)[0][:3] == ("raise", None, "warning")
    with transaction(engine) as session:
        row = session.scalar(select(PublicRequest))
        assert row.service == "legal_advice" and row.token_hash == token_hash(placed.token)
        assert placed.token not in {row.token_hash, row.short_code} and "203.0.113.7" not in row.client_hash
    view = _view(engine, placed.token)
    assert view.state == "warning" and view.due_at == case.due_at and not view.can_rate
    assert _view(engine, placed.token[:-1] + ("A" if placed.token[-1] != "A" else "B")) is None


def test_the_rating_comes_once_per_resolution_and_a_poor_one_reopens_by_the_rules_table(world):
    engine, _, public_ids, v = world
    placed = _place(engine, public_ids["G001"])
    with transaction(engine) as session, pytest.raises(PublicRefusal):
        rate_request(session, token=placed.token, rating=5, now=NOW)
    for action, hours in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        _step(engine, v["leader1"], placed.case_no, action, NOW + timedelta(hours=hours))
    assert _view(engine, placed.token).can_rate
    with transaction(engine) as session:
        rate_request(session, token=placed.token, rating=1, comment="没修好", now=NOW + timedelta(hours=4))
    view = _view(engine, placed.token)
    assert view.state == "in_progress" and view.rating == 1 and not view.can_rate
    with transaction(engine) as session, pytest.raises(PublicRefusal):
        rate_request(session, token=placed.token, rating=5, now=NOW + timedelta(hours=5))
    _step(engine, v["leader1"], placed.case_no, "resolve", NOW + timedelta(hours=6))
    with transaction(engine) as session:
        rate_request(session, token=placed.token, rating=5, now=NOW + timedelta(hours=7))
    history = _history(engine, placed.case_no)
    assert [h[0] for h in history] == ["raise", "take_on", "resolve", "confirm", "reopen", "resolve"]
    assert "1/5" in history[4][3]
    rows = [HistoryRow(action=a, from_state=f, to_state=t, rating=(d or {}).get("rating")) for a, f, t, _, d in history]
    assert check_history(rows) is None


def test_a_complaint_closed_as_fixed_counts_in_the_badge_rule(world):
    engine, district, public_ids, v = world
    with transaction(engine) as session:
        award_badge(session, v["supervisor"], district.shop_codes["G001"], "trusted_shop", now=NOW - timedelta(days=9))
    for i in range(3):
        placed = _place(engine, public_ids["G001"], kind="complaint", topic="fumes", text=f"油烟 {i}",
                        address=f"198.51.100.{i}")
        for action, hours in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
            _step(engine, v["leader1"], placed.case_no, action, NOW + timedelta(hours=hours))
    with transaction(engine) as session:
        due = badges_due_for_revocation(session, v["supervisor"], now=NOW + timedelta(days=1))
    assert due["shop_code"].tolist() == [district.shop_codes["G001"]]
    assert "3 substantiated" in due["reason"].iloc[0]


def test_the_link_follows_a_merge_of_duplicates(world):
    engine, _, public_ids, v = world
    first = _place(engine, public_ids["G001"], text="噪音一", address="198.51.100.1")
    later = _place(engine, public_ids["G001"], text="噪音二", at=NOW + timedelta(minutes=5))
    keep, dup = _case(engine, first.case_no), _case(engine, later.case_no)
    with transaction(engine) as session:
        merge_cases(session, v["supervisor"], keep_id=keep.id, keep_version=keep.version, duplicate_id=dup.id,
                    duplicate_version=dup.version, now=NOW + timedelta(hours=1))
    _step(engine, v["leader1"], first.case_no, "take_on", NOW + timedelta(hours=2))
    view = _view(engine, later.token)
    assert view.merged and view.state == "in_progress"
    _step(engine, v["leader1"], first.case_no, "resolve", NOW + timedelta(hours=3))
    with transaction(engine) as session:
        rate_request(session, token=later.token, rating=4, now=NOW + timedelta(hours=4))
    assert _view(engine, first.token).rating == 4


def test_orders_are_limited_per_client_address_and_per_phone_a_day(world):
    engine, _, public_ids, _ = world
    limits = Settings(public_orders_per_ip_per_day=2, public_orders_per_phone_per_day=1)
    shop = public_ids["G001"]
    _place(engine, shop, settings=limits)
    _place(engine, shop, settings=limits, phone="138 0000 1111")
    with pytest.raises(PublicRefusal) as refused:
        _place(engine, shop, settings=limits)
    assert refused.value.key == "public.error.ip_limit"
    with pytest.raises(PublicRefusal) as refused:
        _place(engine, shop, settings=limits, phone="13800001111", address="198.51.100.9")
    assert refused.value.key == "public.error.phone_limit"
    _place(engine, shop, settings=limits, address="198.51.100.9")  # another address, no phone
    # The next China-time day starts at 16:00 UTC.
    _place(engine, shop, settings=limits, at=NOW.replace(hour=16, minute=1))
    with transaction(engine) as session:
        assert session.query(PublicRequest).count() == 4


def test_photos_lose_their_gps_tags_and_bad_ones_leave_nothing_written(world):
    engine, _, public_ids, _ = world
    placed = _place(engine, public_ids["G001"], photo=("p.jpg", "image/jpeg", _jpeg_with_gps()))
    with transaction(engine) as session:
        stored = session.scalar(select(Attachment))
        data = Path(attachment_path(stored)).read_bytes()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825) == {}
    assert _case(engine, placed.case_no).id == stored.case_id
    for photo in (("a.exe", "image/jpeg", b"MZ" + b"\x00" * 100),
                  ("big.jpg", "image/jpeg", b"\xff\xd8\xff" + b"\x00" * (9 * 1024 * 1024))):
        with pytest.raises(AttachmentError):
            _place(engine, public_ids["G001"], photo=photo, address="198.51.100.5")
    with transaction(engine) as session:
        assert session.query(PublicRequest).count() == 1 and session.query(Case).count() == 1


def test_a_supervisor_hides_an_abusive_order_with_the_reason_in_history(world):
    engine, _, public_ids, v = world
    placed = _place(engine, public_ids["G001"], text="辱骂内容")
    case = _case(engine, placed.case_no)
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        hide_request(session, v["leader1"], case.id, expected_version=case.version, reason="abuse")
    with transaction(engine) as session, pytest.raises(ValidationError):
        hide_request(session, v["supervisor"], case.id, expected_version=case.version, reason="  ")
    with transaction(engine) as session:
        hide_request(session, v["supervisor"], case.id, expected_version=case.version, reason="辱骂，非诉求",
                     now=NOW + timedelta(hours=1))
    action, _, to_state, note, details = _history(engine, placed.case_no)[-1]
    assert (action, to_state, note) == ("hide", "closed", "辱骂，非诉求")
    view = _view(engine, placed.token)
    assert view.hidden and not view.can_rate


def test_a_lost_link_is_found_again_with_the_short_code_and_phone(world):
    engine, _, public_ids, _ = world
    placed = _place(engine, public_ids["G001"], phone="13800002222")
    with transaction(engine) as session, pytest.raises(PublicRefusal):
        recover_link(session, short_code=placed.short_code, phone="13800009999")
    with transaction(engine) as session:
        token = recover_link(session, short_code=placed.short_code.lower(), phone="138-0000-2222")
    assert token != placed.token and _view(engine, token).state == "warning"
    assert _view(engine, placed.token) is None


def test_a_closed_shop_takes_no_orders(world):
    engine, _, public_ids, _ = world
    with transaction(engine) as session:
        session.scalar(select(Shop).where(Shop.public_id == public_ids["G002"])).closed_at = NOW
    with pytest.raises(NotFoundError):
        _place(engine, public_ids["G002"])


def test_phones_are_forgotten_after_the_keep_days_once_the_request_is_closed(world):
    engine, _, public_ids, v = world
    old = _place(engine, public_ids["G001"], phone="13800003333")
    still_open = _place(engine, public_ids["G001"], phone="13800004444", address="198.51.100.8")
    for action, hours in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        _step(engine, v["leader1"], old.case_no, action, NOW + timedelta(hours=hours))
    keep = Settings(public_keep_days=30)
    with transaction(engine) as session:
        assert forget_phones(session, now=NOW + timedelta(days=29), settings=keep) == 0
    with transaction(engine) as session:
        assert forget_phones(session, now=NOW + timedelta(days=31), settings=keep) == 1
    with transaction(engine) as session:
        phones = dict(session.execute(select(PublicRequest.short_code, PublicRequest.phone)).all())
    assert phones == {old.short_code: None, still_open.short_code: "13800004444"}


@pytest.mark.parametrize(("fields", "key"), [
    ({"kind": "complaint", "topic": "legal_advice"}, "public.error.topic"),
    ({"kind": "praise"}, "public.error.kind"),
    ({"text": "   "}, "public.error.text_empty"),
    ({"text": "长" * 2001}, "public.error.text_long"),
    ({"phone": "call me"}, "public.error.phone"),
])
def test_a_bad_form_is_refused_with_the_words_to_show_and_nothing_is_written(world, fields, key):
    engine, _, public_ids, _ = world
    with pytest.raises(PublicRefusal) as refused:
        _place(engine, public_ids["G001"], **fields)
    assert refused.value.key == key
    with transaction(engine) as session:
        assert session.query(Case).count() == 0 and session.query(PublicRequest).count() == 0


def test_the_grids_public_figures_count_the_last_90_days_and_the_leader_is_masked(world):
    from governance.phones import mask_phone
    from governance.public_view import grid_figures, grid_page

    engine, district, public_ids, v = world
    old = _place(engine, public_ids["G001"], text="旧", at=NOW - timedelta(days=100), address="198.51.100.20")
    late = _place(engine, public_ids["G001"], text="晚")
    on_time = _place(engine, public_ids["G001"], text="准", address="198.51.100.21")
    _place(engine, public_ids["G002"], text="别的网格", address="198.51.100.22")
    for action, hours in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        _step(engine, v["leader1"], on_time.case_no, action, NOW + timedelta(hours=hours))
    late_case = _case(engine, late.case_no)
    for action, at in (("take_on", 1), ("resolve", 2), ("confirm", 3)):
        _step(engine, v["leader1"], late.case_no, action, late_case.due_at + timedelta(hours=at))
    with transaction(engine) as session:
        rate_request(session, token=on_time.token, rating=5, now=NOW + timedelta(hours=4))
        rate_request(session, token=late.token, rating=4, now=late_case.due_at + timedelta(hours=4))
    now = late_case.due_at + timedelta(days=1)
    with transaction(engine) as session:
        figures = grid_figures(session, district.grid_ids["G001"], now=now)
        page = grid_page(session, "G001", now=now)
    assert (figures.raised, figures.closed, figures.on_time_share, figures.mean_rating) == (2, 2, 0.5, 4.5)
    assert old.case_no  # raised 100 days before: outside the window
    assert page.leader_name == "Leader1" and page.team_roles == ("fire",)
    assert [s.public_id for s in page.shops] == [public_ids["G001"]]
    assert mask_phone("138-0000-0000") == "138****0000" and "Fire G001" not in repr(page)


def test_the_migration_gives_every_existing_shop_its_own_random_public_id(empty_engine):
    from sqlalchemy import text

    from governance.migrate import downgrade, upgrade

    upgrade(empty_engine, "0009")
    with empty_engine.begin() as connection:
        for n in range(3):
            connection.execute(text(
                "INSERT INTO shops (shop_code, name, street, party_member_operator, geometry, opened_at) "
                "VALUES (:code, :name, '', false, :geom, :opened)"
            ), {"code": f"OLD{n}", "name": f"老店{n}", "geom": _point_wkb(empty_engine),
                "opened": NOW.isoformat() if empty_engine.dialect.name == "sqlite" else NOW})
    upgrade(empty_engine)
    with transaction(empty_engine) as session:
        ids = session.scalars(select(Shop.public_id)).all()
    assert len(ids) == len(set(ids)) == 3 and all(len(i) == 12 and not i.startswith("OLD") for i in ids)
    downgrade(empty_engine, "0009")
    upgrade(empty_engine)


def _point_wkb(engine):
    import shapely

    from governance.spatial import Geometry

    return Geometry("POINT").bind_processor(engine.dialect)(shapely.Point(118.905, 25.105))
