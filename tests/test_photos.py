"""Before and after photos: photos at every step, no GPS in a stored photo, the safety cases' after photo."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from governance.attachments import attachment_path
from governance.db import make_engine, transaction
from governance.errors import AttachmentError, ValidationError
from governance.models import Attachment, Case, CaseHistory, Grid, Shop
from governance.permissions import viewer_for
from governance.photos import case_photos, no_photo_reasons
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case, transition
from tests.test_dashboard import app, markdown_text, no_exceptions, use_database, writable_demo  # noqa: F401

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _photo(fmt: str, *, gps: bool = True, size=(40, 20), colour="red") -> bytes:
    """A photo as a phone writes it: EXIF with the phone's make, a rotation and (``gps``) where it stood."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Orientation] = 6  # taken turned: shown rotated 90°
    if gps:
        exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (24.0, 54.0, 18.5),
                                      ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (118.0, 54.0, 3.0)}
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, exif=exif)
    return out.getvalue()


def _clean_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3, 3), "blue").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def world(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    from governance.settings import get_settings  # noqa: PLC0415 (cleared after the variable is set)

    get_settings.cache_clear()
    district = seed_small_district(engine, now=NOW - timedelta(days=30))
    yield engine, {n: district.viewer(engine, n) for n in ("leader1", "supervisor")}
    get_settings.cache_clear()


def _file(engine, viewer, *, category="fire_exit", attachments=()):
    with transaction(engine) as session:
        return file_case(session, viewer, kind="patrol", category=category, severity="high", title="消防通道堵塞",
                         lon=IN_G001[0], lat=IN_G001[1], attachments=attachments, now=NOW).id


def _step(engine, viewer, case_id, action, version, **kw):
    with transaction(engine) as session:
        return transition(session, viewer, case_id, action, expected_version=version,
                          now=NOW + timedelta(hours=version), **kw).state


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_stored_photo_has_no_gps_nor_exif_and_stands_upright(world, fmt):
    engine, v = world
    case_id = _file(engine, v["leader1"], attachments=[(f"p.{fmt.lower()}", "", _photo(fmt))])
    with transaction(engine) as session:
        row = session.scalar(select(Attachment).where(Attachment.case_id == case_id))
        stored = Image.open(attachment_path(row))
        stored.load()
        assert not stored.getexif() and "exif" not in stored.info
        assert stored.size == (20, 40)  # the rotation was applied before the tag went
        assert row.size == attachment_path(row).stat().st_size
        assert row.content_type == f"image/{fmt.lower()}"


def test_a_photo_without_metadata_is_stored_byte_for_byte(world):
    engine, v = world
    clean = _clean_png()
    case_id = _file(engine, v["leader1"], attachments=[("clean.png", "image/png", clean)])
    with transaction(engine) as session:
        row = session.scalar(select(Attachment).where(Attachment.case_id == case_id))
        assert attachment_path(row).read_bytes() == clean


def test_a_file_that_only_starts_like_a_photo_is_refused_and_nothing_written(world):
    engine, v = world
    with pytest.raises(AttachmentError, match="fake.jpg: not a readable photo") as refused:
        _file(engine, v["leader1"], attachments=[("fake.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(200))])
    assert refused.value.name == "fake.jpg"
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_photos_at_every_step_and_a_safety_resolve_needs_an_after_photo_or_a_reason(world):
    engine, v = world
    case_id = _file(engine, v["leader1"], attachments=[("before.jpg", "", _photo("JPEG", colour="red"))])
    assert _step(engine, v["leader1"], case_id, "take_on", 1,
                 attachments=[("boxes.png", "", _photo("PNG", colour="orange"))]) == "in_progress"
    # The page asks (after_photo_reason given): neither photo nor reason is refused, nothing written.
    with pytest.raises(ValidationError, match=r"fire_exit case: resolving it needs an 'after' photo"):
        _step(engine, v["leader1"], case_id, "resolve", 2, after_photo_reason="  ")
    assert _step(engine, v["leader1"], case_id, "resolve", 2, after_photo_reason="",
                 attachments=[("after.jpg", "", _photo("JPEG", colour="green"))]) == "follow_up"
    assert _step(engine, v["leader1"], case_id, "confirm", 3,
                 attachments=[("visit.webp", "", _photo("WEBP", colour="green"))]) == "closed"
    with transaction(engine) as session:
        photos = case_photos(session, v["supervisor"], case_id)
        steps = dict(session.execute(select(CaseHistory.id, CaseHistory.action)
                                     .where(CaseHistory.case_id == case_id)).all())
        by_row = session.execute(select(Attachment.history_id).where(Attachment.case_id == case_id)
                                 .order_by(Attachment.id)).scalars().all()
    assert [steps[h] for h in by_row] == ["raise", "take_on", "resolve", "confirm"]
    assert photos[["action", "phase"]].values.tolist() == [
        ["raise", "before"], ["take_on", "before"], ["resolve", "after"], ["confirm", "after"]]


def test_a_stated_reason_is_kept_and_other_categories_need_no_after_photo(world):
    engine, v = world
    case_id = _file(engine, v["leader1"], category="gas")
    _step(engine, v["leader1"], case_id, "take_on", 1)
    _step(engine, v["leader1"], case_id, "resolve", 2, after_photo_reason="阀门在店内，商户不允许拍照")
    noise = _file(engine, v["leader1"], category="noise")
    _step(engine, v["leader1"], noise, "take_on", 1)
    assert _step(engine, v["leader1"], noise, "resolve", 2, after_photo_reason="") == "follow_up"
    with transaction(engine) as session:
        assert no_photo_reasons(session, v["leader1"], case_id) == ["阀门在店内，商户不允许拍照"]
        assert no_photo_reasons(session, v["leader1"], noise) == []


def test_the_leader_resolving_a_safety_case_is_asked_for_the_after_photo_and_sees_before_and_after(
        use_database, writable_demo, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LINPU_VAR_DIR", str(tmp_path / "var"))
    use_database(writable_demo)
    engine = make_engine(writable_demo)
    with transaction(engine) as session:
        shop = session.scalar(select(Shop).join(Grid, Grid.id == Shop.grid_id).where(Grid.code == "G001")
                              .order_by(Shop.shop_code))
        leader = viewer_for(session, "leader01")
        case = file_case(session, leader, kind="patrol", category="fire_exit", severity="high", title="通道堆放纸箱",
                         lon=shop.geometry.x, lat=shop.geometry.y, shop_code=shop.shop_code,
                         attachments=[("before.jpg", "", _photo("JPEG"))])
        transition(session, leader, case.id, "take_on", expected_version=1)
        case_no, case_id = case.case_no, case.id
    at = app("leader01", lang="en")
    at.query_params["case"] = case_no
    at.run()
    no_exceptions(at)
    at.radio(key="leader-action-choice").set_value("resolve")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert any("safety case" in e.value for e in at.error)
    with transaction(engine) as session:
        assert str(session.get(Case, case_id).state) == "in_progress"
    at.radio(key="leader-action-choice").set_value("resolve")
    at.text_input(key="leader-no-photo").input("shop closed, photo tomorrow")
    next(b for b in at.button if b.label == "Apply").click().run()
    no_exceptions(at)
    with transaction(engine) as session:
        assert str(session.get(Case, case_id).state) == "follow_up"
    assert "**Before / After**" in markdown_text(at)
    assert [i.captions for i in at.image] == [["Before · Raised"]]
    assert any("No after photo: shop closed, photo tomorrow" in c.value for c in at.caption)
    engine.dispose()
