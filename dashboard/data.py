"""The one place pages get data from and send changes to.

Each function opens a session, calls the governance (or geo, pipelines)
function that does the work, and returns plain frames.  Reads are cached
with ``st.cache_data`` keyed on the viewer, the filters and a *data epoch*
that every write through this module bumps, so a user sees their own change
at once and everybody else within the cache's time-to-live.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial

import geopandas as gpd
import pandas as pd
import streamlit as st

from dashboard.context import engine, route_base
from dashboard.day_walk import walk_stops
from dashboard.deck import CASE_POINT_LIMIT, district_deck
from dashboard.hotspot_cache import hotspots_of
from dashboard.hotspot_cache import settle as settle_hotspots
from dashboard.layer_routes import layer_urls
from geo.walk import walking_route
from governance import (
    check_due,
    compact,
    departments,
    duplicates,
    evaluation,
    loop_summary,
    orders,
    photos,
    public_requests,
    queries,
    sub_tasks,
    trends,
    workflow,
    working_time,
)
from governance import early_warnings as warning_reads
from governance import grids as grid_reads
from governance.adoption import adopt_generation
from governance.catalog import MEMBER_KIND_CATEGORIES, OPEN_STATES
from governance.clock import clock, district_zone
from governance.db import session_factory, transaction
from governance.facts import CaseFactsCache, read_in_subprocess
from governance.filters import CaseFilter
from governance.models import Case
from governance.permissions import require_admin, require_district_supervising
from governance.rollups import level_rollup
from governance.rules import RULES

CACHE_TTL_S = 60
#: The supervisor is warned this many days before deadlines start counting weekends only.
CALENDAR_WARNING_DAYS = 60


@st.cache_resource(show_spinner=False)
def _epoch_box() -> list[int]:
    return [0]


def epoch() -> int:
    return _epoch_box()[0]


def bump_epoch() -> None:
    """Call after every write so cached reads are refreshed."""
    _epoch_box()[0] += 1


def _session():
    return session_factory(engine())()


# --- reads -----------------------------------------------------------------


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def grid_view(_viewer, viewer_key: tuple, data_epoch: int) -> dict:
    """Grids, loop summary, shops, streets and the compact's zones and service points in the viewer's scope."""

    with _session() as session:
        return {
            "grids": grid_reads.current_grids(session, _viewer),
            "summary": loop_summary.grid_loop_summary(session, _viewer),
            "shops": queries.open_shops(session, _viewer),
            "features": queries.district_features(session),
            "compact": compact.compact_layer(session, _viewer),
        }


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def leader_work(_viewer, viewer_key: tuple, data_epoch: int) -> dict:
    """A grid leader's cases and due checks."""

    with _session() as session:
        return {
            "cases": queries.cases_frame(session, _viewer),
            "checks_due": check_due.checks_due(session, _viewer),
        }


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def grid_codes(_viewer, viewer_key: tuple, data_epoch: int) -> list[str]:
    """The codes of the grids in the viewer's scope (for pickers)."""

    with _session() as session:
        return grid_reads.grid_codes(session, _viewer)


def _case_facts_cache():
    return _case_facts_cache_for(engine().url.render_as_string(hide_password=False))


@st.cache_resource(show_spinner=False)
def _case_facts_cache_for(database_url: str):
    """One copy per database, kept for the life of the server process."""


    return CaseFactsCache(session_factory(engine()), read_all=partial(read_in_subprocess, database_url))


def warm_case_facts() -> None:
    """Read the district's case facts in the background (in a child process) if not yet
    read: the first filter change then finds them ready instead of reading a million cases."""
    _case_facts_cache().warm()


def viewer_key(viewer) -> tuple:
    """What identifies a viewer's scope, for cache keys."""
    return (viewer.username, str(viewer.role), tuple(sorted(viewer.grid_ids)),
            getattr(viewer, "member_kind", None), getattr(viewer, "department_id", None), viewer.scope)


def _read_in_parallel(jobs: dict) -> dict:
    """Run ``{name: work(session)}`` each in its own session and thread; the database driver
    releases the GIL while a query runs, so the reads overlap."""

    factory = session_factory(engine())  # outside the worker threads (no Streamlit context there)

    def read(work):
        with factory() as session:
            return work(session)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(read, work) for name, work in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def district_base(_viewer, viewer_key: tuple, data_epoch: int) -> dict:
    """What the supervisor's filters do not change: the grids, their routine checks due
    and the district's features, read side by side once per data epoch."""

    return _read_in_parallel({
        "grids": lambda s: grid_reads.current_grids(s, _viewer),
        "checks": lambda s: check_due.checks_due_counts(s, _viewer),
        "features": lambda s: queries.district_features(s),
    })


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def supervisor_view(_viewer, viewer_key: tuple, filters: CaseFilter, data_epoch: int, min_cases: int,
                    with_cases: bool = True) -> dict:
    """The map and the ranking of the supervisor page for one set of filters.

    The loop summary and the open cases (the map shows open cases only, at
    most ``CASE_POINT_LIMIT`` of them, overdue and newest first, chosen by
    the database) are read in parallel; the grids, checks due and features
    come from :func:`district_base`, which the filters do not change.
    ``with_cases`` False skips the case points (switched off).
    The trend series is :func:`supervisor_series`, read only when its tab is
    open.
    """

    case_filter = filters
    open_states = tuple(s for s in (filters.states or [s.value for s in OPEN_STATES])
                        if s in {s.value for s in OPEN_STATES})
    open_filter = replace(filters, states=open_states)
    base = district_base(_viewer, viewer_key, data_epoch)
    # Looked up here: the reads below run in worker threads, outside Streamlit's context.
    facts = _case_facts_cache() if loop_summary.needs_counting(case_filter) else None
    result = _read_in_parallel({
        "summary": lambda s: loop_summary.grid_loop_summary(
            s, _viewer, filters=case_filter, min_cases_for_rank=min_cases, checks=base["checks"],
            facts=facts.current(s) if facts is not None else None),
        # Only "closed" chosen: no open case to draw.
        "cases": (lambda s: queries.cases_frame(s, _viewer, filters=open_filter,
                                                limit=CASE_POINT_LIMIT, urgent_first=True))
        if open_states and with_cases else (lambda s: pd.DataFrame()),
    })
    grids, summary = base["grids"], result["summary"]
    layer = loop_summary.with_loop_figures(grids, summary)
    layer["warning"] = layer["warning"].fillna(0)
    return {
        "grids": layer,
        "summary": summary,
        "cases": result["cases"],
        "features": base["features"],
    }


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=32)
def rollup_view(_viewer, viewer_key: tuple, filters: CaseFilter, data_epoch: int, min_cases: int) -> pd.DataFrame:
    """The loop figures per level of the organisation tree for the filters (today's tree)."""

    summary = supervisor_view(_viewer, viewer_key, filters, data_epoch, min_cases, with_cases=False)["summary"]
    with _session() as session:
        return level_rollup(session, summary)


def hotspot_view(_viewer, viewer_key: tuple, period: CaseFilter, data_epoch: int) -> dict:
    """The hotspots of the period's cases: computed in the background once per data change
    and period (the states, the grids picked, the layers shown and the grid selected do
    not redo it); until the new ones are ready the previous ones come with ``current`` False
    and their ``as_of`` time, or none with ``pending`` True (see ``dashboard.hotspot_cache``)."""

    grids = district_base(_viewer, viewer_key, data_epoch)["grids"]
    return hotspots_of(_viewer, viewer_key, period, data_epoch, grids)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def supervisor_map(_viewer, viewer_key: tuple, filters: CaseFilter, data_epoch: int, min_cases: int, *,
                   with_cases: bool, show_heat: bool, show_hotspots: bool, selected_code: str | None,
                   language: str, hotspots_as_of: str | None = None, _hotspots: pd.DataFrame | None = None,
                   layers_by_url: bool = False):
    """The supervisor's deck for one set of filters and layers, built and serialised once
    (at city scale building it takes longer than the rest of a rerun).  The page passes the
    hotspots it shows with their ``as_of`` time (which keys the cache); without them they
    are looked up here.  ``layers_by_url``: the district's stored map is loaded by the
    browser from the app's routes (it must hold the sign-in cookie), else carried in the deck."""

    bundle = supervisor_view(_viewer, viewer_key, filters, data_epoch, min_cases, with_cases=with_cases)
    if _hotspots is None:  # a caller with no page to rerun (benchmarks) waits for them
        if hotspot_view(_viewer, viewer_key, filters.period(), data_epoch)["pending"]:
            settle_hotspots()
        _hotspots = hotspot_view(_viewer, viewer_key, filters.period(), data_epoch)["grids"]
    grids = bundle["grids"]
    shown = grids[grids["code"].isin(filters.grid_codes)] if filters.grid_codes else grids
    urls = static_layer_urls(data_epoch, route_base(), bundle["features"]) if layers_by_url else None
    return district_deck(shown, bundle["cases"], _hotspots, bundle["features"], language=language,
                         show_cases=with_cases, show_heat=show_heat, show_hotspots=show_hotspots,
                         selected_code=selected_code, layer_urls=urls).frozen()


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def static_layer_urls(data_epoch: int, base: str, _features: gpd.GeoDataFrame) -> dict[str, str]:
    """The versioned URLs of the district's stored map layers, once per data epoch (the
    features are every viewer's alike; a filter change does not hash them again)."""
    return layer_urls(_features, base=base)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def supervisor_series(_viewer, viewer_key: tuple, filters: CaseFilter, data_epoch: int) -> pd.DataFrame:
    """Cases raised and closed per category and week, counted from the case facts."""

    with _session() as session:
        return trends.category_series(session, _viewer, filters=filters, freq="W",
                                       facts=_case_facts_cache().current(session))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def early_warnings(_viewer, viewer_key: tuple, data_epoch: int) -> pd.DataFrame:

    with _session() as session:
        return warning_reads.early_warnings(session, _viewer)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def calendar_notice(data_epoch: int) -> dict:
    """The holiday calendar's reach for the supervisor's page: its last known year and the weekends-only date."""
    with _session() as session:
        coverage = working_time.calendar_coverage(session)
    return {"last_year": coverage.last_known_year, "from": coverage.weekends_only_from.isoformat(),
            "soon": coverage.ends_within(clock().astimezone(district_zone()).date(), CALENDAR_WARNING_DAYS)}


def grid_detail(viewer, grid_code: str, filters: CaseFilter) -> dict:

    with _session() as session:
        team = queries.grid_team(session, viewer, grid_code)
        shops = queries.open_shops(session, viewer, grid_codes=(grid_code,))
        cases = queries.cases_frame(
            session, viewer, filters=filters.with_grid(grid_code)
        )
    return {"team": team, "shops": shops, "cases": cases}


def case_timeline(viewer, case_id: int) -> pd.DataFrame:

    with _session() as session:
        return queries.case_timeline(session, viewer, case_id)


def duplicate_candidates(viewer, *, category: str, lon: float, lat: float) -> pd.DataFrame:
    """Open cases of the category near a point (the set distance and days), nearest first."""
    with _session() as session:
        return pd.DataFrame(duplicates.duplicate_candidates(session, viewer, category=category, lon=lon, lat=lat)
                            .drop(columns="geometry"))


def case_photos(viewer, case_id: int) -> dict:
    """The photos of a case with their step and phase (before, after, other), and the reasons
    given for resolving it without an after photo."""
    with _session() as session:
        return {"photos": photos.case_photos(session, viewer, case_id),
                "reasons": photos.no_photo_reasons(session, viewer, case_id)}


def allowed_actions(viewer, case_id: int) -> list[str]:

    with _session() as session:
        case = session.get(Case, case_id)
        return list(workflow.allowed_actions(viewer, case)) if case is not None else []


def may_hide(viewer, case_id: int) -> bool:
    """Whether the viewer may hide this case: an open public order, and a supervising viewer."""
    if not getattr(viewer, "is_supervising", False):
        return False
    with _session() as session:
        case = session.get(Case, case_id)
        return (case is not None and str(case.state) in RULES["hide"].sources
                and public_requests.is_public_request(session, case_id))


def day_walk(items: list[dict], cases: gpd.GeoDataFrame, shops: gpd.GeoDataFrame,
             features: gpd.GeoDataFrame) -> dict:
    """The Today cards as a walking route from the first (most urgent): the stops numbered in walking
    order, the path (WGS84), its length in metres and whether it follows the stored streets."""
    stops = walk_stops(items, cases, shops)
    streets = features[features["kind"] == "street"] if len(features) else None
    route = walking_route(stops, streets=streets if streets is not None and len(streets) else None)
    ordered = stops.iloc[route.order].reset_index(drop=True)
    ordered["stop"] = range(1, len(ordered) + 1)
    return {"stops": ordered, "path": route.path, "length_m": route.length_m, "along_streets": route.along_streets}


# --- writes ----------------------------------------------------------------


def file_case(viewer, **fields):
    """File a patrol finding; returns the new case's number."""

    with transaction(engine()) as session:
        case = workflow.file_case(session, viewer, **fields)
        session.flush()
        case_no = case.case_no
    bump_epoch()
    return case_no


def record_check(viewer, *, shop_code: str, category: str, answers: dict[str, bool], note: str = ""):
    """Record a hazard check; returns (check_no, case_no or None)."""

    with transaction(engine()) as session:
        check, case = workflow.record_check(
            session, viewer, shop_code=shop_code, category=category, answers=answers, note=note
        )
        session.flush()
        result = (check.check_no, case.case_no if case is not None else None)
    bump_epoch()
    return result


def transition(viewer, case_id: int, action: str, *, expected_version: int, note: str = "",
               department: str | None = None, attachments: list[tuple[str, str, bytes]] = (),
               after_photo_reason: str = "") -> str:
    """Move a case (with the step's photos); returns its new state.  The page asks for the
    after photo, so a safety case's resolve needs a photo or ``after_photo_reason``."""

    with transaction(engine()) as session:
        if action == "hide":
            case = public_requests.hide_request(session, viewer, case_id, expected_version=expected_version,
                                                reason=note)
        elif action == "dispatch":
            case = workflow.dispatch(session, viewer, case_id, department=department or "",
                                     expected_version=expected_version, note=note, attachments=attachments)
        else:
            case = workflow.transition(session, viewer, case_id, action, expected_version=expected_version,
                                       note=note, attachments=attachments, after_photo_reason=after_photo_reason)
        state = str(case.state)
    bump_epoch()
    return state


def add_finding(viewer, case_id: int, *, expected_version: int, note: str,
                attachments: list[tuple[str, str, bytes]]) -> str:
    """Add a new finding (note, photos) to an open case; returns its number."""
    with transaction(engine()) as session:
        case_no = duplicates.add_finding(session, viewer, case_id, expected_version=expected_version, note=note,
                                         attachments=attachments).case_no
    bump_epoch()
    return case_no


def merge_cases(viewer, one: tuple[int, int], other: tuple[int, int], *, note: str = "") -> tuple[str, str]:
    """Merge two cases given as (case_id, version): the later is closed as a duplicate of the earlier.
    Returns (kept case_no, closed case_no)."""
    with transaction(engine()) as session:
        keep, duplicate = duplicates.merge_later_into_first(session, viewer, one, other, note=note)
        result = (keep.case_no, duplicate.case_no)
    bump_epoch()
    return result


# --- analyst ---------------------------------------------------------------


def export_files(viewer, *, layers: tuple[str, ...], fmt: str, filters: CaseFilter, crs: str | None = None,
                 coords: str = "wgs84") -> tuple[list[tuple[str, bytes]], list[str], dict[str, int]]:
    """The analyst's download: `linpu export`'s own code path, the files' bytes as it writes them.

    Returns (name, bytes) per file, the exporter's notes and features per layer.
    """
    # Late: the export writers (pyogrio, pyarrow) load only when an analyst downloads.
    from pipelines.export import export_download

    basename = f"linpu-{layers[0]}" if len(layers) == 1 else "linpu-layers"
    download = export_download(engine(), layers=layers, fmt=fmt, filters=filters, crs=crs or None,
                               coords=coords, viewer=viewer, basename=basename)
    return [(download.name, download.content)], list(download.notes), dict(download.features)


QUALITY_FIGURES = (
    ("n_grids", lambda q: q["n_grids"]),
    ("size min / median / max", lambda q: f"{q['size']['min']} / {q['size']['median']} / {q['size']['max']}"),
    ("share within size bounds", lambda q: f"{q['size']['share_within_bounds']:.0%}"),
    ("Polsby-Popper mean / min", lambda q: f"{q['polsby_popper']['mean']:.2f} / {q['polsby_popper']['min']:.2f}"),
    ("walking span max (m)", lambda q: f"{q['walking_span_m']['max']:.0f}"),
    ("shops outside own grid", lambda q: q["shops_outside_own_grid"]),
    ("straddling a main road", lambda q: "—" if q.get("straddling_main_road_share") is None
     else f"{q['straddling_main_road_share']:.0%}"),
    ("gap / overlap (m²)", lambda q: f"{q['gap_area_m2']} / {q['overlap_area_m2']}"),
)


def quality_table(current: dict, proposed: dict, labels: tuple[str, str]) -> pd.DataFrame:
    rows = []
    for name, get in QUALITY_FIGURES:
        row = {"": name}
        for label, quality in zip(labels, (current, proposed), strict=True):
            try:
                row[label] = str(get(quality))
            except (KeyError, TypeError, ValueError):
                row[label] = "—"
        rows.append(row)
    return pd.DataFrame(rows)


@st.cache_data(ttl=600, show_spinner=False, max_entries=8)
def regrid_preview(_viewer, viewer_key: tuple, data_epoch: int, target: int, min_size: int,
                   max_size: int, seed: int) -> dict:
    """Current grids and a proposed re-gridding, each with its quality figures; saves nothing."""
    # Late: the gridding engine (pymetis, scipy) loads only for the analyst's preview.
    from geo.gridding import build_grids, grid_quality
    from governance.district import stored_layers  # late, with the gridding engine

    with _session() as session:
        current = grid_reads.current_grids(session, _viewer)
        shops = queries.open_shops(session, _viewer)
        features = queries.district_features(session)
        boundary, streets = stored_layers(session)
    kwargs = {"boundary": boundary, "streets": streets}
    proposed, shop_codes = build_grids(shops, target=target, min_size=min_size, max_size=max_size,
                                       seed=seed, **kwargs)
    proposed = proposed.to_crs(4326)
    current_quality = grid_quality(current.rename(columns={"is_building": "building"}), shops,
                                   shop_codes=shops["grid_code"], min_size=min_size, max_size=max_size,
                                   **kwargs)
    proposed_quality = grid_quality(proposed, shops, shop_codes=shop_codes, min_size=min_size,
                                    max_size=max_size, **kwargs)
    return {
        "current": current,
        "proposed": proposed,
        "shops": shops,
        "features": features,
        "shop_codes": pd.Series(shop_codes.to_numpy(), index=shops["shop_code"].to_numpy()),
        "current_quality": current_quality,
        "proposed_quality": proposed_quality,
        "params": {"target": target, "min_size": min_size, "max_size": max_size, "seed": seed},
    }


def adopt_preview(viewer, preview: dict) -> None:
    """Save a previewed gridding as the current generation (district-wide supervisors and admins)."""

    require_district_supervising(viewer, "save a new grid generation")
    with transaction(engine()) as session:
        adopt_generation(session, preview["proposed"], preview["shop_codes"], method="metis",
                         params=preview["params"], quality=preview["proposed_quality"],
                         note=f"saved from the dashboard by {viewer.username}", actor=viewer.username)
    bump_epoch()


def ingest_register(viewer, payload: bytes, name: str, *, coords: str, close_missing: bool, dry_run: bool):
    """Validate (``dry_run``, anyone on the page) or apply (the admin only) a shop register."""
    if not dry_run:
        require_admin(viewer, "apply a shop register")
    # Late: the register reader loads only when an admin uploads a register.
    from pipelines.ingest import ingest_shops

    report = ingest_shops(engine(), payload, name=name, coords=coords, dry_run=dry_run,
                          close_missing=close_missing, actor=viewer.username)
    if report.written:
        bump_epoch()
    return report


def problems_frame(report) -> pd.DataFrame:
    """The row problems of an ingest report, in row order."""
    return pd.DataFrame(
        [{"row": p.row, "field": p.field, "message": p.message}
         for p in sorted(report.problems, key=lambda p: p.row)],
        columns=["row", "field", "message"],
    )


# --- team: members and departments (issue 20) ------------------------------------------


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def member_work(_viewer, viewer_key: tuple, data_epoch: int) -> dict:
    """A member's open sub-tasks, the routine checks due of their kind and the open shops, in their grids."""

    with _session() as session:
        checks = check_due.checks_due(session, _viewer)
        kinds = [c.value for c in MEMBER_KIND_CATEGORIES.get(_viewer.member_kind, ())]
        return {"sub_tasks": sub_tasks.sub_tasks_frame(session, _viewer),
                "checks_due": checks[checks["category"].astype(str).isin(kinds)],
                "shops": queries.open_shops(session, _viewer)}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def department_work(_viewer, viewer_key: tuple, data_epoch: int) -> dict:
    """A department's open orders with their clocks, and the sub-tasks given to it."""

    with _session() as session:
        return {"orders": orders.orders_frame(session, _viewer),
                "sub_tasks": sub_tasks.sub_tasks_frame(session, _viewer)}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=64)
def department_evaluation(_viewer, viewer_key: tuple, data_epoch: int, min_orders: int) -> pd.DataFrame:
    """Each department's line (``governance.evaluation``)."""

    with _session() as session:
        return evaluation.department_evaluation(session, _viewer, min_orders_for_rank=min_orders)


def order_step(viewer, case_id: int, step: str, *, expected_version: int, note: str = "") -> str:
    """A department accepts, returns (``note`` is the reason) or resolves an order; returns the new state."""

    with transaction(engine()) as session:
        if step == "accept":
            case = orders.accept_order(session, viewer, case_id, expected_version=expected_version, note=note)
        elif step == "return":
            case = orders.return_order(session, viewer, case_id, expected_version=expected_version, reason=note)
        else:
            case = orders.resolve_order(session, viewer, case_id, expected_version=expected_version, note=note)
        state = str(case.state)
    bump_epoch()
    return state


def sub_task_step(viewer, sub_task_id: int, step: str, *, expected_version: int, note: str = "") -> None:
    """The owner marks a sub-task done or returns it to the leader (``note`` is the reason)."""

    with transaction(engine()) as session:
        if step == "done":
            sub_tasks.complete_sub_task(session, viewer, sub_task_id, expected_version=expected_version, note=note)
        else:
            sub_tasks.return_sub_task(session, viewer, sub_task_id, expected_version=expected_version, reason=note)
    bump_epoch()


def default_department(category: str) -> str:
    """The department prefilled in the dispatch form for ``category`` (empty: none)."""

    with _session() as session:
        return departments.default_department(session, category) or ""
