"""``linpu demo load``: put the bundled demo district into the database.

The demo files are written relative to a fixed demo day (see
``pipelines.demo_generate.DEMO_DAY``) so that they are byte-for-byte
reproducible.  Loading shifts every time by whole days so that the demo's
last event falls within the last day before now: the dashboard then shows
open cases that are due soon, some overdue, and checks that fall due this
week, whatever the date, and nothing happens in the future.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
from PIL import Image, ImageDraw
from sqlalchemy import Engine, bindparam, func, select, update

from geo.gridding import build_grids, grid_quality
from geo.placement import place_points
from governance.adoption import adopt_generation
from governance.attachments import store_attachment
from governance.auth import hash_password
from governance.catalog import CaseState, Category, MemberRole
from governance.check_due import refresh_check_due
from governance.checklists import CHECK_INTERVALS, checklist_for
from governance.compact import occupation_checks
from governance.db import transaction
from governance.district import replace_layer
from governance.duplicates import merge_cases
from governance.figures import refresh_grid_stats
from governance.models import (
    Case,
    CaseHistory,
    CheckSchedule,
    Grid,
    GridMember,
    HazardCheck,
    Rating,
    Shop,
    ShopBadge,
)
from governance.org import NodeRow, check_tree, replace_tree
from governance.permissions import system_viewer, viewer_for
from governance.public_requests import place_request, rate_request
from governance.public_view import TRACK_PATH, public_address
from governance.sla import follow_up_limit
from governance.workflow import transition
from pipelines.demo_files import DemoDataError, read_demo_csv, shifted_times
from pipelines.demo_generate import DEMO_PASSWORD
from pipelines.demo_guard import refuse_unless_demo
from pipelines.demo_load_services import load_service_orders, load_split_cases, time_columns
from pipelines.demo_load_team import load_accounts, load_departments

DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"


#: Steps replayed through ``governance.duplicates`` rather than written as they stand.
MERGE_ACTIONS = ("merge", "merged_in")


@dataclass(frozen=True)
class DemoLoadResult:
    loaded: bool
    shops: int = 0
    grids: int = 0
    users: int = 0
    cases: int = 0
    checks: int = 0
    day_shift: int = 0
    #: The tracking links of the public's requests, shown once as to the public who placed them.
    tracking_links: tuple[str, ...] = ()

    def summary(self) -> str:
        if not self.loaded:
            return "demo district already loaded; nothing changed"
        return (
            f"demo district loaded: {self.shops} shops, {self.grids} grids, "
            f"{self.users} users, {self.cases} cases, {self.checks} checks, "
            f"{len(self.tracking_links)} public requests "
            f"(times shifted by {self.day_shift} days to end just before now)"
            + "".join(f"\n  tracking link: {link}" for link in self.tracking_links)
        )


def _points(frame: pd.DataFrame) -> gpd.GeoSeries:
    return gpd.GeoSeries.from_xy(
        frame["lon"].astype(float), frame["lat"].astype(float), crs=4326, index=frame.index
    )


def demo_shift(columns: list[pd.Series], *, now: datetime) -> timedelta:
    """Whole days that bring the demo's last event as close to ``now`` as possible, not past it."""
    latest = max(pd.to_datetime(column.replace("", None), utc=True).max() for column in columns)
    return timedelta(days=(now - latest.to_pydatetime()) // timedelta(days=1))


def load_demo(engine: Engine, *, folder: Path = DEMO_DIR, now: datetime | None = None) -> DemoLoadResult:
    # Long: the demo's files read and written in one transaction, file by file in order.
    """Load the demo district in one transaction, unless it is already there.

    Refuses (:class:`~pipelines.demo_guard.NotADemoDatabase`) a database holding anything but the demo.
    """
    shops = read_demo_csv(folder, "shops.csv")
    with transaction(engine) as session:
        refuse_unless_demo(session, folder)
        already = session.scalar(
            select(func.count()).select_from(Shop).where(Shop.shop_code.in_(shops["shop_id"].head(50).tolist()))
        )
        if already:
            return DemoLoadResult(loaded=False)

    users = read_demo_csv(folder, "users.csv")
    members = read_demo_csv(folder, "members.csv")
    cases = read_demo_csv(folder, "cases.csv")
    history = read_demo_csv(folder, "case_history.csv")
    checks = read_demo_csv(folder, "checks.csv")
    public = read_demo_csv(folder, "public_requests.csv")
    public_history = read_demo_csv(folder, "public_history.csv")
    boundary = gpd.read_file(folder / "boundary.geojson")
    streets = gpd.read_file(folder / "streets.geojson")
    stalls = gpd.read_file(folder / "stalls.geojson")
    service_points = gpd.read_file(folder / "service_points.geojson")

    shift = demo_shift(
        [cases["created_at"], history["at"], checks["performed_at"], public_history["at"], *time_columns(folder)],
        now=now or datetime.now(UTC),
    )

    shop_points = gpd.GeoDataFrame(shops, geometry=_points(shops), crs=4326)
    grids, shop_codes = build_grids(shop_points, boundary=boundary, streets=streets)
    quality = grid_quality(grids, shop_points.assign(grid_code=shop_codes))

    with transaction(engine) as session:
        now = datetime.now(UTC)
        replace_layer(session, "boundary", boundary)
        replace_layer(session, "streets", streets)
        replace_layer(session, "stalls", stalls)
        replace_layer(session, "service_points", service_points)
        # The one adopt path (as `linpu grids save` and the analyst's page): keeps the mall flag.
        adopted = adopt_generation(
            session, grids, {}, method="linpu-gridding",
            params={"target": 10, "min_size": 8, "max_size": 12, "source": "demo"},
            quality=quality, note="demo district", now=now,
        )
        grid_rows = {grid.code: grid for grid in session.scalars(
            select(Grid).where(Grid.generation_id == adopted.generation_id))}
        grid_by_index = {i + 1: grid_rows[code] for i, code in enumerate(sorted(grid_rows))}

        for row in members.itertuples():
            if int(row.grid_index) in grid_by_index:
                session.add(
                    GridMember(
                        grid_id=grid_by_index[int(row.grid_index)].id,
                        role=MemberRole(row.member_role),
                        name=row.name,
                        phone=row.phone,
                    )
                )

        opened = now - timedelta(days=365)
        shop_rows = {}
        for row, geometry, code in zip(shops.itertuples(), shop_points.geometry, shop_codes, strict=True):
            shop = Shop(
                shop_code=row.shop_id,
                name=row.name,
                trade=row.trade,
                street=row.street,
                party_member_operator=row.party_member_operator == "true",
                geometry=geometry,
                grid_id=grid_rows[code].id,
                opened_at=opened,
            )
            session.add(shop)
            shop_rows[row.shop_id] = shop
        session.flush()
        for row in shops.itertuples():
            for badge in filter(None, row.badges.split(";")):
                session.add(ShopBadge(shop_id=shop_rows[row.shop_id].id, badge=badge, awarded_at=opened))
        _load_org(session, read_demo_csv(folder, "org.csv"), shops.assign(grid_code=shop_codes))
        # Accounts after the grids, the tree and the departments their rows name (as `linpu users import`).
        load_departments(session, folder)
        user_rows = load_accounts(session, folder, hash_password(DEMO_PASSWORD))

        placed = place_points(_points(cases), grids)
        if placed["code"].isna().any():
            bad = cases.loc[placed["code"].isna(), "case_id"].tolist()
            raise DemoDataError(f"cases.csv: cases {bad[:5]} lie outside every demo grid")
        created = shifted_times(cases["created_at"], shift)
        due = shifted_times(cases["due_at"], shift)
        history = history.assign(seq=history["seq"].astype(int)).sort_values(["case_id", "seq"])
        history_at = dict(zip(history.index, shifted_times(history["at"], shift), strict=True))
        by_case = {case_id: rows for case_id, rows in history.groupby("case_id", sort=False)}

        # Road-occupation findings are checked against the demo's stall zones (stored above) as filing does.
        road = (cases["category"] == Category.ROAD_OCCUPATION.value).to_numpy().nonzero()[0]
        points = _points(cases).iloc[road]
        occupation = [None] * len(cases)
        checks_of_road = occupation_checks(session, points.x.to_numpy(), points.y.to_numpy(),
                                           [created[i] for i in road])
        for i, check in zip(road, checks_of_road, strict=True):
            occupation[i] = check
        case_rows = {}
        for i, (row, geometry, code) in enumerate(
            zip(cases.itertuples(), _points(cases), placed["code"], strict=True)
        ):
            steps = by_case.get(row.case_id)
            if steps is None:
                raise DemoDataError(f"case_history.csv: no history for case {row.case_id}")
            # A merge is replayed through governance.duplicates below: the case stands as it was before it.
            steps = steps[~steps["action"].isin(MERGE_ACTIONS)]
            last_resolve = steps.index[steps["action"] == "resolve"]
            closed = steps.index[steps["to_state"] == CaseState.CLOSED]
            case = Case(
                case_no=row.case_id,
                kind=row.kind,
                category=row.category,
                severity=row.severity,
                title=row.title,
                description=row.description,
                geometry=geometry,
                grid_id=grid_rows[code].id,
                shop_id=shop_rows[row.shop_id].id if row.shop_id else None,
                reporter_id=user_rows[row.reporter].id if row.reporter in user_rows else None,
                state=CaseState(steps["to_state"].iloc[-1]),
                outcome=(row.outcome or None) if steps["to_state"].iloc[-1] == CaseState.CLOSED else None,
                created_at=created[i],
                due_at=due[i],
                follow_up_due_at=(
                    history_at[last_resolve[-1]] + follow_up_limit()
                    # A reopen after the last resolve ends that follow-up, as in the workflow.
                    if len(last_resolve) and row.state != CaseState.IN_PROGRESS
                    else None
                ),
                resolved_at=history_at[last_resolve[-1]] if len(last_resolve) else None,
                reopen_count=int((steps["action"] == "reopen").sum()),
                closed_at=history_at[closed[-1]] if len(closed) else None,
                department=row.department or None,
                occupation=occupation[i],
            )
            session.add(case)
            case_rows[row.case_id] = (case, steps)
        session.flush()
        # The history's last seq is the case's version, so the next transition
        # continues it.  A Core update: the ORM's version counter starts every
        # inserted row at 1 whatever it is given.
        session.execute(
            update(Case.__table__).where(Case.__table__.c.id == bindparam("case_id")),
            [{"case_id": case.id, "version": int(steps["seq"].max())} for case, steps in case_rows.values()],
        )
        after_photos = []
        for case, steps in case_rows.values():
            for index, step in steps.iterrows():
                reason = step.get("no_photo_reason", "")
                written = CaseHistory(
                    case_id=case.id,
                    seq=int(step["seq"]),
                    at=history_at[index],
                    actor_id=user_rows[step["actor"]].id if step["actor"] in user_rows else None,
                    action=step["action"],
                    from_state=step["from_state"] or None,
                    to_state=step["to_state"],
                    note=step["note"],
                    details={"no_photo_reason": reason} if reason else None,
                )
                session.add(written)
                if step.get("after_photo", ""):
                    after_photos.append((case, written, step["after_photo"]))
                if step.get("rating", ""):  # a poor rating that reopened the request
                    session.add(Rating(case_id=case.id, rating=int(step["rating"]), rated_at=history_at[index]))
        for row in cases.itertuples():
            if row.rating:
                case, steps = case_rows[row.case_id]
                session.add(
                    Rating(case_id=case.id, rating=int(row.rating), rated_at=case.closed_at or case.created_at)
                )

        session.flush()
        for case, written, name in after_photos:
            store_attachment(session, system_viewer(), case.id, filename=name, content_type="image/png",
                             data=after_photo(case.category), history_id=written.id)
        _merge_duplicates(session, cases, by_case, history_at)

        performed = shifted_times(checks["performed_at"], shift)
        for i, row in enumerate(checks.itertuples()):
            failed = set(filter(None, row.failed_items.split(";")))
            answers = {item.code: item.code not in failed for item in checklist_for(row.category)}
            session.add(
                HazardCheck(
                    check_no=row.check_id,
                    shop_id=shop_rows[row.shop_id].id,
                    category=row.category,
                    answers=answers,
                    passed=row.result == "pass",
                    inspector_id=user_rows[row.inspector].id if row.inspector in user_rows else None,
                    performed_at=performed[i],
                    case_id=case_rows[row.case_id][0].id if row.case_id else None,
                )
            )
        for category, trade, days in default_check_schedules():
            session.add(CheckSchedule(category=category, trade=trade, interval_days=days))
        tracking = _load_public(session, public, public_history, shift, shop_rows)
        orders = load_service_orders(session, folder, shift, shop_rows) + load_split_cases(session, folder, shift)
        refresh_grid_stats(session)
        refresh_check_due(session)

    return DemoLoadResult(
        loaded=True,
        shops=len(shops),
        grids=len(grids),
        users=len(users),
        cases=len(cases) + len(public) + orders,
        checks=len(checks),
        day_shift=shift.days,
        tracking_links=tuple(public_address(TRACK_PATH.format(token=token)) for token in tracking),
    )


def _load_org(session, org: pd.DataFrame, shops: pd.DataFrame) -> None:
    """The organisation tree (the secretaries' scopes come with their accounts).  Each party-member shop
    is linked to the node holding its grid, known only now that the load has gridded the shops."""
    party = shops[shops["party_member_operator"] == "true"]
    rows = []
    for i, r in enumerate(org.itertuples(), start=1):
        grids = tuple(filter(None, r.grids.split(";")))
        linked = tuple(party.loc[party["grid_code"].isin(grids), "shop_id"])
        rows.append(NodeRow(row=i, node_id=r.node_id, parent_id=r.parent_id, level=r.level, name=r.name,
                            grids=grids, shops=tuple(filter(None, r.shops.split(";"))) + linked))
    problems = check_tree(session, rows)
    if problems:
        first = problems[0]
        raise DemoDataError(f"org.csv row {first.row} field {first.field}: {first.message}")
    replace_tree(session, rows)


def _merge_duplicates(session, cases: pd.DataFrame, by_case: dict, history_at: dict) -> None:
    """The supervisors' merges of planted duplicates, replayed through governance.duplicates at their times
    (the step is the last of both cases, so the history continues where the load left it)."""
    numbers = dict(session.execute(select(Case.case_no, Case.id)).all())
    for row in cases[cases["duplicate_of"] != ""].itertuples():
        merge = by_case[row.case_id]
        merge = merge[merge["action"] == "merge"]
        if merge.empty:
            continue  # still open: the leader's page offers the first case when it is filed again
        versions = dict(session.execute(select(Case.id, Case.version).where(
            Case.id.in_([numbers[row.case_id], numbers[row.duplicate_of]]))).all())
        keep, duplicate = numbers[row.duplicate_of], numbers[row.case_id]
        merge_cases(session, viewer_for(session, merge["actor"].iloc[0]), keep_id=keep, keep_version=versions[keep],
                    duplicate_id=duplicate, duplicate_version=versions[duplicate], note=merge["note"].iloc[0],
                    now=history_at[merge.index[0]])


@cache
def after_photo(category: str) -> bytes:
    """A small drawn PNG standing for the photo of a fix (a green tick on the category's colour)."""
    colours = {"electricity": (250, 204, 21), "gas": (96, 165, 250), "fire_exit": (248, 113, 113),
               "amusement_ride": (192, 132, 252)}
    image = Image.new("RGB", (160, 120), colours.get(str(category), (203, 213, 225)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 16, 140, 104), outline=(255, 255, 255), width=4)
    draw.line((52, 62, 74, 84, 112, 40), fill=(22, 163, 74), width=10)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _load_public(session, public: pd.DataFrame, history: pd.DataFrame, shift: timedelta,
                 shop_rows: dict) -> list[str]:
    """The public's requests, filed from their shops' pages as the public would, then each later
    step at its time: a staff step through the workflow, a rating through the tracking link."""
    tokens = []
    steps = history.assign(seq=history["seq"].astype(int), at=shifted_times(history["at"], shift))
    for i, row in enumerate(public.itertuples(), start=1):
        own = steps[steps["request_id"] == row.request_id].sort_values("seq")
        if own.empty or own.iloc[0]["action"] != "raise":
            raise DemoDataError(f"public_history.csv: request {row.request_id} does not start with its raise")
        # Documentation addresses (RFC 5737), one per sender, as the per-address limit counts them.
        placed = place_request(session, public_id=shop_rows[row.shop_id].public_id, kind=row.kind, topic=row.topic,
                               text=row.text, phone=row.phone or None, client_address=f"192.0.2.{i}",
                               now=own.iloc[0]["at"])
        case = session.scalar(select(Case).where(Case.case_no == placed.case_no))
        for step in own.iloc[1:].itertuples():
            if step.actor:
                transition(session, viewer_for(session, step.actor), case.id, step.action,
                           expected_version=case.version, note=step.note, now=step.at)
            else:
                rate_request(session, token=placed.token, rating=int(step.rating), comment=step.note, now=step.at)
        tokens.append(placed.token)
    return tokens


def default_check_schedules() -> list[tuple[str, str | None, int]]:
    return [(str(category), None, interval.days) for category, interval in CHECK_INTERVALS.items()]
