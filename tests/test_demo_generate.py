"""The synthetic demo district: reproducible to the byte, and plausible where a user looks."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from governance.catalog import (
    Badge,
    CaseKind,
    CaseState,
    Category,
    MemberRole,
    Outcome,
    Role,
    Severity,
    StreetClass,
    Trade,
    resolve_limit,
)
from governance.checklists import (
    CHECK_INTERVALS,
    GAS_TRADES,
    checklist_for,
    evaluate,
)
from governance.rules import REQUESTER, HistoryRow, check_history
from pipelines.demo_generate import DEMO_NOW, generate_demo

COMMITTED = Path(__file__).resolve().parents[1] / "data" / "demo"
FILES = (
    "boundary.geojson", "streets.geojson", "shops.csv", "users.csv", "members.csv",
    "cases.csv", "case_history.csv", "checks.csv", "stalls.geojson", "service_points.geojson", "org.csv",
    "public_requests.csv", "public_history.csv", "departments.csv", "services.csv", "service_history.csv",
    "split_cases.csv", "split_history.csv", "sub_tasks.csv",
)

# (from_state, action) -> to_state: the closed loop of DESIGN.md
LOOP = {
    ("", "raise"): "warning",
    ("warning", "take_on"): "in_progress",
    ("warning", "dismiss"): "closed",
    ("in_progress", "resolve"): "follow_up",
    ("follow_up", "confirm"): "closed",
    ("follow_up", "reopen"): "in_progress",
    ("warning", "dispatch"): "in_progress",
    ("warning", "close_not_responsible"): "closed",
    ("in_progress", "close_not_responsible"): "closed",
    ("closed", "reopen"): "in_progress",  # a poor rating of a closed request
    ("warning", "merge"): "closed",  # a planted duplicate merged into the first case
    **{(s.value, "merged_in"): s.value for s in CaseState},
}


def _read(directory: Path, name: str) -> list[dict]:
    with (directory / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _when(stamp: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", stamp), stamp
    return datetime.fromisoformat(stamp)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, seed=2026)
    return out


@pytest.fixture(scope="module")
def tables(demo) -> dict[str, list[dict]]:
    return {name.removesuffix(".csv"): _read(demo, name) for name in FILES if name.endswith(".csv")}


# --- determinism -------------------------------------------------------------

def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_identical_bytes(tmp_path):
    generate_demo(tmp_path / "a", seed=11)
    generate_demo(tmp_path / "b", seed=11)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")


def test_committed_demo_is_seed_2026(demo):
    committed = _snapshot(COMMITTED)
    fresh = _snapshot(demo)
    assert set(FILES) <= set(committed)
    assert {name: committed[name] for name in FILES} == fresh


def test_another_seed_differs(tmp_path, demo):
    generate_demo(tmp_path, seed=2027)
    other, base = _snapshot(tmp_path), _snapshot(demo)
    assert all(other[name] != base[name] for name in ("shops.csv", "cases.csv", "checks.csv"))


def test_counts_returned_match_files(tmp_path):
    counts = generate_demo(tmp_path, seed=3)
    assert counts["shops"] == len(_read(tmp_path, "shops.csv"))
    assert counts["cases"] == len(_read(tmp_path, "cases.csv"))
    assert counts["checks"] == len(_read(tmp_path, "checks.csv"))
    assert sum(counts[f"cases_{s.value}"] for s in CaseState) == counts["cases"]


def test_text_is_plain_utf8_with_unix_newlines(demo):
    for name in FILES:
        raw = (demo / name).read_bytes()
        assert b"\r" not in raw, name
        text = raw.decode("utf-8")
        assert "<" not in text and ">" not in text, f"{name} holds markup"


# --- layout and shops ---------------------------------------------------------

def _boundary(demo: Path):
    fc = json.loads((demo / "boundary.geojson").read_text(encoding="utf-8"))
    assert len(fc["features"]) == 1
    feature = fc["features"][0]
    assert feature["properties"] == {
        "name": "永嘉国潮街区", "street_office": "山腰街道", "district": "泉港区", "city": "泉州市",
    }
    return shape(feature["geometry"])


def test_boundary_is_a_shaped_polygon_near_quanzhou(demo):
    polygon = _boundary(demo)
    assert polygon.geom_type == "Polygon" and polygon.is_valid
    assert len(polygon.exterior.coords) > 6  # not a plain rectangle
    assert polygon.area < polygon.minimum_rotated_rectangle.area * 0.97
    lon, lat = polygon.centroid.x, polygon.centroid.y
    assert abs(lon - 118.90) < 0.01 and abs(lat - 25.12) < 0.01
    minx, miny, maxx, maxy = polygon.bounds
    width_km = (maxx - minx) * 111.32 * math.cos(math.radians(lat))
    height_km = (maxy - miny) * 110.57
    assert 0.8 < width_km < 1.5 and 0.7 < height_km < 1.3


def test_streets_have_classes_and_matching_names(demo):
    fc = json.loads((demo / "streets.geojson").read_text(encoding="utf-8"))
    suffix = {StreetClass.MAIN: "路", StreetClass.STREET: "街", StreetClass.LANE: "巷"}
    classes = []
    for feature in fc["features"]:
        props = feature["properties"]
        assert set(props) == {"name", "class"}
        assert feature["geometry"]["type"] == "LineString"
        assert props["name"].endswith(suffix[StreetClass(props["class"])])
        classes.append(props["class"])
    assert 1 <= classes.count("main") <= 2
    assert classes.count("street") >= 3 and classes.count("lane") >= 10
    assert len({f["properties"]["name"] for f in fc["features"]}) == len(fc["features"])


def test_about_350_shops_all_inside_the_district(demo, tables):
    shops = tables["shops"]
    assert 330 <= len(shops) <= 370
    assert [s["shop_id"] for s in shops] == [f"YJ{i:04d}" for i in range(1, len(shops) + 1)]
    polygon = _boundary(demo)
    lon = [float(s["lon"]) for s in shops]
    lat = [float(s["lat"]) for s in shops]
    assert shapely.contains_xy(polygon, lon, lat).all()
    streets = {f["properties"]["name"] for f in json.loads((demo / "streets.geojson").read_text("utf-8"))["features"]}
    assert {s["street"] for s in shops} <= streets


def test_shop_fields_use_the_catalog(tables):
    shops = tables["shops"]
    badges = {b.value for b in Badge}
    for shop in shops:
        Trade(shop["trade"])
        assert shop["party_member_operator"] in ("true", "false")
        assert shop["badges"] == "" or set(shop["badges"].split(";")) <= badges
        assert re.search(r"[\u4e00-\u9fff]", shop["name"])
    party = sum(s["party_member_operator"] == "true" for s in shops) / len(shops)
    badged = sum(bool(s["badges"]) for s in shops) / len(shops)
    assert 0.03 < party < 0.15 and 0.08 < badged < 0.25
    assert len({s["name"] for s in shops}) == len(shops)


def test_market_buildings_share_a_point_but_stay_small(tables):
    at_point: dict[tuple[str, str], int] = {}
    for shop in tables["shops"]:
        key = (shop["lon"], shop["lat"])
        at_point[key] = at_point.get(key, 0) + 1
    shared = sorted(n for n in at_point.values() if n > 1)
    assert shared and max(shared) <= 12 and max(shared) >= 6


def test_shops_do_not_overlap_outside_markets(tables):
    from pyproj import Transformer

    to_metric = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    points = {(s["lon"], s["lat"]) for s in tables["shops"]}
    x, y = to_metric.transform([float(p[0]) for p in points], [float(p[1]) for p in points])
    xy = np.column_stack([x, y])
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 4.5


# --- people --------------------------------------------------------------------

def test_users_and_grid_members(tables):
    users, members = tables["users"], tables["members"]
    n_grids = math.ceil(len(tables["shops"]) / 10)
    codes = [f"G{k:03d}" for k in range(1, n_grids + 1)]
    leaders = [u for u in users if u["role"] == Role.GRID_LEADER]
    assert sorted(u["grids"] for u in leaders) == codes  # one grid each
    supervisors = {u["username"]: u["scope"] for u in users if u["role"] == Role.SUPERVISOR}
    # Two district-wide supervisors and two branch secretaries, each scoped to one branch of org.csv.
    branches = {r["node_id"] for r in tables["org"] if r["level"] == "branch"}
    assert sorted(supervisors) == ["secretary1", "secretary2", "supervisor1", "supervisor2"]
    assert supervisors["supervisor1"] == supervisors["supervisor2"] == ""
    assert sorted(supervisors[s] for s in ("secretary1", "secretary2")) == sorted(branches)
    assert all(u["scope"] == "" for u in users if u["role"] != Role.SUPERVISOR)
    assert {u["username"] for u in users if u["role"] in (Role.ANALYST, Role.ADMIN)} == {"analyst1", "admin"}
    assert all(u["grids"] == "" for u in users if u["role"] not in (Role.GRID_LEADER, Role.MEMBER))
    assert "password" not in ",".join(users[0])
    # Each grid has one person of each kind: a member account holding it, or a member without an account.
    people = [(code, m["member_kind"]) for m in users if m["role"] == Role.MEMBER for code in m["grids"].split(";")]
    people += [(codes[int(m["grid_index"]) - 1], m["member_role"]) for m in members]
    expected = {MemberRole.PROPERTY, MemberRole.SECURITY, MemberRole.FIRE}
    assert sorted(people) == sorted((code, r.value) for code in codes for r in expected)
    assert all(re.fullmatch(r"138-0000-\d{4}", m["phone"]) for m in members)


def test_member_and_department_accounts_are_rows_the_users_import_accepts(tables):
    from governance.catalog import DEFAULT_SERVICE_DEPARTMENTS, SERVICE_CATEGORIES

    users = tables["users"]
    assert list(users[0]) == ["username", "display_name", "role", "grids", "member_kind", "department", "scope",
                              "phone"]
    members = [u for u in users if u["role"] == Role.MEMBER]
    kinds = {u["member_kind"] for u in members}
    assert kinds == {"property", "security", "fire"}
    assert all(re.fullmatch(rf"{u['member_kind']}\d\d", u["username"]) and u["department"] == "" for u in members)
    assert max(len(u["grids"].split(";")) for u in members) > 1  # a member may hold several grids
    departments = {d["name"]: d for d in tables["departments"]}
    for category in SERVICE_CATEGORIES:  # each service answered by its practice's department
        assert departments[DEFAULT_SERVICE_DEPARTMENTS[category]]["default_for"] == category.value
    staff = [u for u in users if u["role"] == Role.DEPARTMENT]
    assert {u["department"] for u in staff} == set(departments)
    assert all(u["username"].startswith("dept_") and u["member_kind"] == "" for u in staff)
    assert all(re.fullmatch(r"[0-9-]+", u["phone"]) for u in members + staff)
    assert len({u["display_name"] for u in users}) == len(users)


def test_org_tree_splits_the_grids_between_two_branches_by_code(tables):
    org = tables["org"]
    n_grids = math.ceil(len(tables["shops"]) / 10)
    assert [r["level"] for r in org] == ["street_committee", "district_committee", "branch", "branch"]
    assert org[1]["parent_id"] == org[0]["node_id"]
    assert all(r["parent_id"] == org[1]["node_id"] for r in org[2:])
    first, second = (r["grids"].split(";") for r in org[2:])
    assert first + second == [f"G{k:03d}" for k in range(1, n_grids + 1)]
    assert abs(len(first) - len(second)) <= 1


# --- cases and the loop ----------------------------------------------------------

def test_cases_cover_every_state_and_some_are_overdue(tables):
    cases = tables["cases"]
    assert 600 <= len(cases) <= 900
    states = {c["state"] for c in cases}
    assert states == {s.value for s in CaseState}
    overdue = [
        c for c in cases
        if c["state"] in ("warning", "in_progress") and _when(c["due_at"]) < DEMO_NOW
    ]
    assert len(overdue) >= 5


def test_case_fields_are_consistent(tables):
    users = {u["username"]: u["role"] for u in tables["users"]}
    shop_ids = {s["shop_id"] for s in tables["shops"]}
    kinds = {k: 0 for k in CaseKind}
    for case in tables["cases"]:
        kind, category, severity = CaseKind(case["kind"]), Category(case["category"]), Severity(case["severity"])
        kinds[kind] += 1
        created = _when(case["created_at"])
        assert _when(case["due_at"]) - created == resolve_limit(category, severity)
        assert created <= DEMO_NOW
        assert users[case["reporter"]] == Role.GRID_LEADER
        assert case["shop_id"] == "" or case["shop_id"] in shop_ids
        assert (case["outcome"] != "") == (case["state"] == "closed")
        if case["outcome"]:
            Outcome(case["outcome"])
        if kind is CaseKind.SERVICE_REQUEST:
            assert case["department"]
            assert (case["rating"] != "") == (case["state"] == "closed")
            assert case["rating"] == "" or 1 <= int(case["rating"]) <= 5
        else:
            assert case["department"] == "" and case["rating"] == ""
        if kind is CaseKind.HAZARD_CHECK:
            assert case["shop_id"]
        assert case["title"] and case["description"]
    assert 20 <= kinds[CaseKind.SERVICE_REQUEST] <= 40
    assert kinds[CaseKind.PATROL] > 0 and kinds[CaseKind.HAZARD_CHECK] > 0


def test_histories_follow_the_loop(tables):
    roles = {u["username"]: u["role"] for u in tables["users"]}
    history: dict[str, list[dict]] = {}
    for row in tables["case_history"]:
        history.setdefault(row["case_id"], []).append(row)
    cases = {c["case_id"]: c for c in tables["cases"]}
    assert set(history) == set(cases)
    reopened = 0
    for case_id, rows in history.items():
        assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
        times = [_when(r["at"]) for r in rows]
        assert all(a < b for a, b in zip(times, times[1:], strict=False)), case_id
        assert times[0] == _when(cases[case_id]["created_at"]) and times[-1] <= DEMO_NOW
        state = ""
        for row in rows:
            assert row["from_state"] == state, case_id
            assert LOOP[(state, row["action"])] == row["to_state"], case_id
            state = row["to_state"]
            # The requester who reopens by a poor rating has no account; everyone else is a user.
            assert row["actor"] in roles or (row["actor"] == "" and row["from_state"] == "closed"
                                             and row["rating"] in ("1", "2")), case_id
        assert state == cases[case_id]["state"]
        closing = rows[-1]
        if closing["action"] in ("dismiss", "close_not_responsible") or (
                state == "closed" and cases[case_id]["outcome"] == "not_responsible"):
            assert roles[closing["actor"]] == Role.SUPERVISOR, case_id
        reopened += any(r["action"] == "reopen" for r in rows)
    assert 0.02 < reopened / len(cases) < 0.12


def test_some_grids_are_worse_than_others(tables):
    # Open cases concentrate on a few streets (the food street hotspot) rather than spreading evenly.
    street_of = {s["shop_id"]: s["street"] for s in tables["shops"]}
    per_street: dict[str, int] = {}
    for case in tables["cases"]:
        if case["shop_id"] and case["state"] != "closed":
            street = street_of[case["shop_id"]]
            per_street[street] = per_street.get(street, 0) + 1
    shops_per_street: dict[str, int] = {}
    for street in street_of.values():
        shops_per_street[street] = shops_per_street.get(street, 0) + 1
    rates = sorted(per_street.get(s, 0) / n for s, n in shops_per_street.items() if n >= 20)
    assert rates[-1] > 2 * rates[0]


# --- hazard checks -----------------------------------------------------------------

def test_checks_fit_the_trades_and_raise_cases(tables):
    trade = {s["shop_id"]: Trade(s["trade"]) for s in tables["shops"]}
    cases = {c["case_id"]: c for c in tables["cases"]}
    construction_shops = set()
    for check in tables["checks"]:
        category = Category(check["category"])
        shop_trade = trade[check["shop_id"]]
        if category is Category.GAS:
            assert shop_trade in GAS_TRADES
        if category is Category.AMUSEMENT_RIDE:
            assert shop_trade is Trade.AMUSEMENT
        if category is Category.CONSTRUCTION:
            construction_shops.add(check["shop_id"])
        assert _when(check["performed_at"]) <= DEMO_NOW
        codes = {item.code for item in checklist_for(category)}
        failed = check["failed_items"].split(";") if check["failed_items"] else []
        assert set(failed) <= codes
        assert check["result"] == ("fail" if failed else "pass")
        if failed:
            case = cases[check["case_id"]]
            assert case["kind"] == "hazard_check" and case["category"] == category.value
            assert case["shop_id"] == check["shop_id"]
            assert _when(case["created_at"]) > _when(check["performed_at"])
        else:
            assert check["case_id"] == ""
    every_shop = {c["shop_id"] for c in tables["checks"] if c["category"] == "electricity"}
    assert every_shop == set(trade)
    assert 0.02 < len(construction_shops) / len(trade) < 0.1
    hazard_cases = {c["case_id"] for c in cases.values() if c["kind"] == "hazard_check"}
    assert hazard_cases == {c["case_id"] for c in tables["checks"] if c["case_id"]}


def test_some_shops_are_overdue_for_a_check(tables):
    last: dict[tuple[str, str], datetime] = {}
    for check in tables["checks"]:
        key = (check["shop_id"], check["category"])
        last[key] = max(last.get(key, DEMO_NOW.replace(year=2000)), _when(check["performed_at"]))
    overdue = {shop for (shop, cat), t in last.items()
               if cat != "construction" and DEMO_NOW - t > CHECK_INTERVALS[Category(cat)]}
    assert 5 <= len(overdue) <= 0.3 * len(tables["shops"])


# --- checklists ------------------------------------------------------------------------

def test_checklists_evaluate_answers():
    for category in (Category.ELECTRICITY, Category.GAS, Category.CONSTRUCTION, Category.AMUSEMENT_RIDE):
        items = checklist_for(category)
        assert 5 <= len(items) <= 7
        assert len({i.code for i in items}) == len(items)
        all_ok = evaluate(category, {i.code: True for i in items})
        assert all_ok.passed and all_ok.result == "pass" and all_ok.failed == ()
        answers = {i.code: True for i in items} | {items[1].code: False}
        one_bad = evaluate(category, answers)
        assert one_bad.result == "fail" and one_bad.failed == (items[1].code,)
        assert one_bad.severity == items[1].severity
    with pytest.raises(ValueError, match="unanswered"):
        evaluate(Category.GAS, {"gas.alarm": True})
    with pytest.raises(ValueError, match="unknown"):
        evaluate(Category.GAS, {i.code: True for i in checklist_for("gas")} | {"elec.rcd": True})
    with pytest.raises(ValueError, match="not a hazard-check"):
        checklist_for(Category.NOISE)


# --- the rules table -----------------------------------------------------------

def _demo_histories(directory: Path) -> dict[str, list[HistoryRow]]:
    """Every case's history in ``directory`` as rules-table rows: the closing row carries the case's
    outcome, a requester's row (no actor) its rating, and the case's rating follows as a ``rate`` row."""
    roles = {u["username"]: u["role"] for u in _read(directory, "users.csv")}
    cases = {c["case_id"]: c for c in _read(directory, "cases.csv")}
    histories: dict[str, list[HistoryRow]] = {case_id: [] for case_id in cases}
    rows = _read(directory, "case_history.csv")
    last = {row["case_id"]: row["seq"] for row in rows}
    for row in rows:
        case = cases[row["case_id"]]
        closing = row["seq"] == last[row["case_id"]] and case["state"] == "closed"
        histories[row["case_id"]].append(HistoryRow(
            action=row["action"], from_state=CaseState(row["from_state"]) if row["from_state"] else None,
            to_state=CaseState(row["to_state"]), outcome=Outcome(case["outcome"]) if closing else None,
            role=roles[row["actor"]] if row["actor"] else REQUESTER,
            rating=int(row["rating"]) if row.get("rating") else None,
        ))
    for case_id, case in cases.items():
        if case["rating"]:
            state = CaseState(case["state"])
            histories[case_id].append(HistoryRow("rate", state, state, role=REQUESTER, rating=int(case["rating"])))
    return histories


def test_every_committed_demo_history_is_allowed_by_the_rules_table():
    refused = {case_id: refusal for case_id, rows in _demo_histories(COMMITTED).items()
               if (refusal := check_history(rows)) is not None}
    examples = [f"{case_id} row {r.position + 1}: {r.reason}" for case_id, r in list(refused.items())[:5]]
    assert not refused, f"{len(refused)} demo histories refused, e.g. " + "; ".join(examples)


def _replayed(name: str, key: str) -> dict[str, list[HistoryRow]]:
    roles = {u["username"]: u["role"] for u in _read(COMMITTED, "users.csv")}
    histories: dict[str, list[HistoryRow]] = {}
    for row in _read(COMMITTED, name):
        histories.setdefault(row[key], []).append(HistoryRow(
            action=row["action"], from_state=CaseState(row["from_state"]) if row["from_state"] else None,
            to_state=CaseState(row["to_state"]), role=roles[row["actor"]] if row["actor"] else REQUESTER,
            rating=int(row["rating"]) if row.get("rating") else None))
        assert _when(row["at"]) <= DEMO_NOW
    return histories


def test_committed_service_orders_follow_the_rules_table_in_every_state_of_the_four_orders():
    from governance.catalog import SERVICE_CATEGORIES

    histories = _replayed("service_history.csv", "request_id")
    requests = {r["request_id"]: r for r in _read(COMMITTED, "services.csv")}
    assert set(histories) == set(requests)
    refused = {k: r.reason for k, rows in histories.items() if (r := check_history(rows)) is not None}
    assert refused == {}
    assert {r["topic"] for r in requests.values()} == {c.value for c in SERVICE_CATEGORIES}

    def ends(rows: list[HistoryRow]) -> str:
        last = rows[-1]
        if last.action == "dispatch" and last.to_state is CaseState.WARNING:
            return "awaiting acceptance"
        if last.action == "return":
            return "returned"
        if last.action == "accept":
            return "accepted"
        return "rated" if any(r.rating for r in rows) else last.to_state.value

    seen = sorted(ends(rows) for rows in histories.values())
    assert {"awaiting acceptance", "accepted", "returned", "rated", "follow_up"} <= set(seen)
    assert seen.count("awaiting acceptance") >= 2 and seen.count("rated") >= 3
    # Acceptance and return are the department's: every accept, return and resolve is a department account's.
    department_steps = [r for rows in histories.values() for r in rows if r.action in ("accept", "return", "resolve")]
    assert department_steps and all(r.role == Role.DEPARTMENT for r in department_steps)


def test_committed_split_cases_follow_the_rules_table_with_sub_tasks_done_open_and_returned():
    histories = _replayed("split_history.csv", "case_id")
    assert len(histories) >= 2
    assert all(check_history(rows) is None for rows in histories.values())
    users = {u["username"]: u for u in _read(COMMITTED, "users.csv")}
    tasks: dict[tuple[str, str], list[dict]] = {}
    for row in _read(COMMITTED, "sub_tasks.csv"):
        tasks.setdefault((row["case_id"], row["task"]), []).append(row)
    ends = {key: rows[-1]["action"] for key, rows in tasks.items()}
    assert {"give", "done", "return"} <= set(ends.values())  # open, done, returned
    owners = {(bool(rows[0]["assignee"]), bool(rows[0]["department"])) for rows in tasks.values()}
    assert owners == {(True, False), (False, True)}  # to a member, to a department
    cases = {c["case_id"]: c for c in _read(COMMITTED, "split_cases.csv")}
    for (case_id, _), rows in tasks.items():
        assignee = rows[0]["assignee"]
        if assignee:  # given within the team of the case's grid
            assert cases[case_id]["grid"] in users[assignee]["grids"].split(";")
    # A case whose sub-tasks are all done was resolved by the last one done (the server's step).
    for case_id, rows in histories.items():
        done = all(ends[key] == "done" for key in ends if key[0] == case_id)
        assert (rows[-1].action == "resolve") == done, case_id


def test_committed_public_requests_follow_the_rules_table_and_one_is_reopened_by_its_rating():
    requests = {r["request_id"]: r for r in _read(COMMITTED, "public_requests.csv")}
    roles = {u["username"]: u["role"] for u in _read(COMMITTED, "users.csv")}
    shops = {s["shop_id"] for s in _read(COMMITTED, "shops.csv")}
    histories: dict[str, list[HistoryRow]] = {}
    for row in _read(COMMITTED, "public_history.csv"):
        histories.setdefault(row["request_id"], []).append(HistoryRow(
            action=row["action"], from_state=CaseState(row["from_state"]) if row["from_state"] else None,
            to_state=CaseState(row["to_state"]), role=roles[row["actor"]] if row["actor"] else REQUESTER,
            rating=int(row["rating"]) if row["rating"] else None))
        assert _when(row["at"]) <= DEMO_NOW
    assert set(histories) == set(requests) and len(requests) >= 4
    assert {r["kind"] for r in requests.values()} == {"order", "complaint"}
    assert {r["shop_id"] for r in requests.values()} <= shops
    for request_id, rows in histories.items():
        assert rows[0].action == "raise" and rows[0].role == REQUESTER, request_id
        assert check_history(rows) is None, request_id
    reopened = [rows for rows in histories.values()
                if any(r.action == "reopen" and r.from_state is CaseState.CLOSED for r in rows)]
    assert len(reopened) == 1
    assert sum(r.rating is not None for rows in histories.values() for r in rows) >= 3


def _metres(a: dict, b: dict) -> float:
    from pyproj import Geod

    return Geod(ellps="WGS84").inv(float(a["lon"]), float(a["lat"]), float(b["lon"]), float(b["lat"]))[2]


def test_planted_duplicates_repeat_an_open_case_nearby_and_most_are_merged(tables):
    cases = {c["case_id"]: c for c in tables["cases"]}
    history: dict[str, list[dict]] = {}
    for row in tables["case_history"]:
        history.setdefault(row["case_id"], []).append(row)
    planted = [c for c in cases.values() if c["duplicate_of"]]
    assert len(planted) >= 4
    merged = 0
    for case in planted:
        first = cases[case["duplicate_of"]]
        assert (first["category"], first["shop_id"]) == (case["category"], case["shop_id"])
        assert first["case_id"] < case["case_id"] and _metres(first, case) <= 50
        assert (_when(case["created_at"]) - _when(first["created_at"])).days < 7
        assert first["state"] != "closed"  # the first case is still open
        if case["state"] == "closed":
            merged += 1
            assert case["outcome"] == "duplicate" and history[case["case_id"]][-1]["action"] == "merge"
            assert history[first["case_id"]][-1]["action"] == "merged_in"
            assert history[first["case_id"]][-1]["at"] == history[case["case_id"]][-1]["at"]
        else:
            assert case["state"] == "warning"
    assert 0 < merged < len(planted)


def test_every_safety_resolve_has_an_after_photo_or_a_reason(tables):
    safety = {c["case_id"] for c in tables["cases"]
              if c["category"] in ("electricity", "gas", "fire_exit", "amusement_ride")}
    resolves = [r for r in tables["case_history"] if r["action"] == "resolve" and r["case_id"] in safety]
    assert resolves and all(bool(r["after_photo"]) != bool(r["no_photo_reason"]) for r in resolves)
    assert 0.5 < sum(bool(r["after_photo"]) for r in resolves) / len(resolves) < 1
    others = [r for r in tables["case_history"] if r not in resolves]
    assert not any(r["after_photo"] or r["no_photo_reason"] for r in others)
