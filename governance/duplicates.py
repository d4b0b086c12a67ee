"""No duplicate cases: open cases near a new finding, adding a finding to one, merging two cases.

A finding filed within ``LINPU_DUPLICATE_RADIUS_M`` metres and
``LINPU_DUPLICATE_DAYS`` days of an open case of the same category is shown
that case first (:func:`duplicate_candidates`) and may be added to it
(:func:`add_finding`, the rules table's ``add_finding`` step: a note and
photos on the case's history) instead of raising a second case.  A
supervisor merges two cases (:func:`merge_cases`): the later is closed as a
duplicate (step ``merge``, outcome duplicate) naming the first, and the first
records it (step ``merged_in``); both histories tell it.  Candidates are the
viewer's own scope: a grid leader is not shown cases of grids they do not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import geopandas as gpd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.nearby import distances_m
from governance.catalog import OPEN_STATES, Category
from governance.clock import clock
from governance.errors import NotFoundError, ValidationError
from governance.filters import CaseFilter
from governance.models import Case
from governance.permissions import Viewer
from governance.queries import cases_frame
from governance.settings import Settings, get_settings
from governance.workflow import checked_case, write_step

CANDIDATE_COLUMNS = ["case_id", "case_no", "title", "state", "grid_code", "created_at", "version", "distance_m"]


def duplicate_candidates(session: Session, viewer: Viewer, *, category: Category | str, lon: float, lat: float,
                         now: datetime | None = None, settings: Settings | None = None) -> gpd.GeoDataFrame:
    """Open cases of ``category`` in the viewer's scope within the set distance and days of a point, nearest first."""
    settings = settings or get_settings()
    now = clock(now)
    recent = CaseFilter(start=now - timedelta(days=settings.duplicate_days), end=now,
                        categories=(Category(category).value,), states=tuple(s.value for s in OPEN_STATES))
    frame = cases_frame(session, viewer, filters=recent, now=now)
    frame["distance_m"] = distances_m(frame, shapely.Point(lon, lat), origin_crs=4326).round(1)
    near = frame[frame["distance_m"] <= settings.duplicate_radius_m]
    return near.sort_values(["distance_m", "created_at"])[[*CANDIDATE_COLUMNS, "geometry"]].reset_index(drop=True)


def add_finding(session: Session, viewer: Viewer, case_id: int, *, expected_version: int, note: str,
                attachments: Sequence[tuple[str, str, bytes]] = (), now: datetime | None = None) -> Case:
    """Add a new finding (its note and photos) to an open case instead of raising a second one."""
    note = (note or "").strip()
    if not note and not attachments:
        raise ValidationError("note is empty and no photo is attached; say what was found again")
    case = checked_case(session, viewer, case_id, "add_finding", expected_version=expected_version)
    write_step(session, viewer, case, "add_finding", note=note, now=clock(now), attachments=attachments)
    return case


def merge_cases(session: Session, viewer: Viewer, *, keep_id: int, keep_version: int, duplicate_id: int,
                duplicate_version: int, note: str = "", now: datetime | None = None) -> tuple[Case, Case]:
    """Close ``duplicate_id`` as a duplicate of ``keep_id`` (the earlier case), with a history row on both."""
    if keep_id == duplicate_id:
        raise ValidationError("a case cannot be merged into itself")
    now = clock(now)
    keep = checked_case(session, viewer, keep_id, "merged_in", expected_version=keep_version)
    duplicate = checked_case(session, viewer, duplicate_id, "merge", expected_version=duplicate_version)
    if duplicate.created_at < keep.created_at:
        raise ValidationError(
            f"case {duplicate.case_no} was raised before {keep.case_no}: the later case is closed, "
            f"so merge {keep.case_no} into {duplicate.case_no}"
        )
    if duplicate.category != keep.category:
        raise ValidationError(
            f"case {duplicate.case_no} is {duplicate.category.value}, {keep.case_no} is {keep.category.value}: "
            "only cases of one category are duplicates"
        )
    write_step(session, viewer, duplicate, "merge", note=note, now=now,
               details={"outcome": "duplicate", "duplicate_of": keep.case_no})
    write_step(session, viewer, keep, "merged_in", note=note, now=now, details={"merged": duplicate.case_no})
    return keep, duplicate


def merge_later_into_first(session: Session, viewer: Viewer, one: tuple[int, int], other: tuple[int, int], *,
                           note: str = "", now: datetime | None = None) -> tuple[Case, Case]:
    """Merge two cases given as ``(case_id, version)`` in either order: the later raised is closed into the first."""
    created = {}
    for case_id, _ in (one, other):
        created[case_id] = session.scalar(select(Case.created_at).where(Case.id == case_id))
        if created[case_id] is None:
            raise NotFoundError(f"no case with id {case_id}")
    first, later = sorted((one, other), key=lambda pair: (created[pair[0]], pair[0]))
    return merge_cases(session, viewer, keep_id=first[0], keep_version=first[1], duplicate_id=later[0],
                       duplicate_version=later[1], note=note, now=now)
