"""No duplicate cases: nearby open cases are offered, a finding is added to one, two cases merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from governance.db import transaction
from governance.duplicates import add_finding, duplicate_candidates, merge_cases
from governance.errors import IllegalTransition, PermissionDenied, ValidationError
from governance.models import Attachment, CaseHistory
from governance.rules import HistoryRow, check_history
from governance.testing import IN_G001, seed_small_district
from governance.workflow import file_case

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
#: A real 1×1 PNG: stored photos are read with Pillow (governance.attachments).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
       b"\x0cIDATx\x9cc8!'\x07\x00\x02\xb6\x01\x054\xa6u\xaa\x00\x00\x00\x00IEND\xaeB`\x82")
#: About 30 m east and about 80 m east of IN_G001 (0.0003° and 0.0008° of longitude at 24.9° N).
NEAR = (IN_G001[0] + 0.0003, IN_G001[1])
FAR = (IN_G001[0] + 0.0008, IN_G001[1])


@pytest.fixture
def world(engine):
    district = seed_small_district(engine, now=NOW - timedelta(days=30))
    return engine, {n: district.viewer(engine, n) for n in ("leader1", "leader2", "supervisor")}


def _file(engine, viewer, point, *, category="fire_exit", at=NOW):
    with transaction(engine) as session:
        return file_case(session, viewer, kind="patrol", category=category, severity="high", title="消防通道堵塞",
                         lon=point[0], lat=point[1], now=at).id


def _candidates(engine, viewer, point, category="fire_exit", at=NOW + timedelta(hours=1)):
    with transaction(engine) as session:
        return duplicate_candidates(session, viewer, category=category, lon=point[0], lat=point[1], now=at)


def _history(engine, case_id):
    with transaction(engine) as session:
        return session.scalars(select(CaseHistory).where(CaseHistory.case_id == case_id)
                               .order_by(CaseHistory.seq)).all()


def test_an_open_case_of_the_category_within_50_m_and_7_days_is_offered_nearest_first(world):
    engine, v = world
    near = _file(engine, v["leader1"], NEAR)
    _file(engine, v["leader1"], FAR)  # 80 m: too far
    _file(engine, v["leader1"], NEAR, category="noise")  # another category
    _file(engine, v["leader1"], IN_G001, at=NOW - timedelta(days=8))  # too old
    here = _file(engine, v["leader1"], IN_G001)
    found = _candidates(engine, v["leader1"], IN_G001)
    assert found["case_id"].tolist() == [here, near]
    assert found["distance_m"].iloc[0] == 0 and 25 < found["distance_m"].iloc[1] < 35
    assert _candidates(engine, v["leader1"], IN_G001, category="gas").empty
    # A leader is not shown the cases of grids they do not see.
    assert _candidates(engine, v["leader2"], IN_G001).empty


def test_a_finding_added_to_a_case_is_a_history_row_with_its_photo_and_no_new_case(world):
    engine, v = world
    case_id = _file(engine, v["leader1"], IN_G001)
    with transaction(engine) as session:
        add_finding(session, v["leader1"], case_id, expected_version=1, note="又被堵上了",
                    attachments=[("again.png", "image/png", PNG)], now=NOW + timedelta(hours=2))
    rows = _history(engine, case_id)
    assert [(r.action, r.note) for r in rows] == [("raise", ""), ("add_finding", "又被堵上了")]
    assert rows[1].from_state == rows[1].to_state == "warning"
    with transaction(engine) as session:
        assert session.scalars(select(Attachment.history_id).where(Attachment.case_id == case_id)).all() == [rows[1].id]
        with pytest.raises(ValidationError, match="note is empty"):
            add_finding(session, v["leader1"], case_id, expected_version=2, note=" ")


def test_a_supervisor_merges_the_later_case_into_the_first_with_history_on_both(world):
    engine, v = world
    first = _file(engine, v["leader1"], IN_G001)
    later = _file(engine, v["leader1"], NEAR, at=NOW + timedelta(hours=3))
    with transaction(engine) as session, pytest.raises(PermissionDenied):
        merge_cases(session, v["leader1"], keep_id=first, keep_version=1, duplicate_id=later,
                    duplicate_version=1)
    with transaction(engine) as session, pytest.raises(ValidationError, match="raised before"):
        merge_cases(session, v["supervisor"], keep_id=later, keep_version=1, duplicate_id=first,
                    duplicate_version=1)
    with transaction(engine) as session:
        keep, duplicate = merge_cases(session, v["supervisor"], keep_id=first, keep_version=1, duplicate_id=later,
                                      duplicate_version=1, note="同一处消防通道", now=NOW + timedelta(hours=4))
        assert (keep.state, duplicate.state, duplicate.outcome) == ("warning", "closed", "duplicate")
        kept_no, duplicate_no = keep.case_no, duplicate.case_no
    merged, absorbed = _history(engine, later)[-1], _history(engine, first)[-1]
    assert (merged.action, merged.details["duplicate_of"]) == ("merge", kept_no)
    assert (absorbed.action, absorbed.details["merged"]) == ("merged_in", duplicate_no)
    for case_id in (first, later):
        assert check_history(HistoryRow(r.action, r.from_state, r.to_state) for r in _history(engine, case_id)) is None
    with transaction(engine) as session, pytest.raises(IllegalTransition):
        add_finding(session, v["leader1"], later, expected_version=2, note="x")
