"""README "Your own district": from an empty database to a signed-in grid leader and a supervisor,
by the documented commands, on a generated district that is not the demo (SQLite and PostGIS).

The district: a box in Jinjiang (晋江), an OpenStreetMap extract (.osm.pbf) with its boundary
relation and streets, a register as an office keeps it (GBK CSV, Chinese headers and trade words,
AMap's GCJ-02 coordinates), then accounts, team members and a check schedule from files.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from geo.coords import wgs84_to_gcj02
from governance.db import transaction
from governance.login import change_password, must_change_password, sign_in
from governance.loop_summary import grid_layer
from governance.models import Shop
from governance.permissions import viewer_for
from tests import test_ingest_shops as shop_tests
from tests.test_ingest_shops import database_url

osmium = pytest.importorskip("osmium")
from osmium.osm.mutable import Node, Relation, Way  # noqa: E402 - after the skip

cli = shop_tests.cli
WEST, SOUTH, EAST, NORTH = 118.5500, 24.7900, 118.5600, 24.7980
RELATION = 777
TRADE_WORDS = ["餐饮", "便利店", "小吃", "茶饮", "服装", "理发"]


def write_extract(path) -> None:
    meta = {"version": 1, "changeset": 1, "timestamp": "2026-01-01T00:00:00Z", "uid": 1, "user": "t"}
    writer = osmium.SimpleWriter(str(path))
    mid_x, mid_y = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    points = [(WEST, SOUTH), (EAST, SOUTH), (EAST, NORTH), (WEST, NORTH),
              (WEST - 0.002, mid_y), (EAST + 0.002, mid_y), (mid_x, SOUTH - 0.002), (mid_x, NORTH + 0.002)]
    for number, location in enumerate(points, start=1):
        writer.add_node(Node(id=number, location=location, tags={}, **meta))
    writer.add_way(Way(id=1, nodes=[1, 2, 3, 4, 1], tags={}, **meta))
    writer.add_way(Way(id=2, nodes=[5, 6], tags={"highway": "primary", "name": "世纪大道"}, **meta))
    writer.add_way(Way(id=3, nodes=[7, 8], tags={"highway": "residential", "name": "青阳街"}, **meta))
    writer.add_relation(Relation(id=RELATION, members=[("w", 1, "outer")], **meta, tags={
        "type": "boundary", "boundary": "administrative", "admin_level": "9", "name": "青阳街道"}))
    writer.close()


def write_register(path) -> pd.DataFrame:
    """48 shops on a jittered lattice inside the box, written with GCJ-02 coordinates, GBK, Chinese headers."""
    rng = np.random.default_rng(17)
    lon = np.repeat(np.linspace(WEST + 0.0008, EAST - 0.0008, 8), 6) + rng.normal(0, 0.00005, 48)
    lat = np.tile(np.linspace(SOUTH + 0.0008, NORTH - 0.0008, 6), 8) + rng.normal(0, 0.00005, 48)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    frame = pd.DataFrame({"商户编号": [f"QY{i:03d}" for i in range(1, 49)],
                          "商户名称": [f"青阳第{i}号店" for i in range(1, 49)],
                          "行业": [TRADE_WORDS[i % len(TRADE_WORDS)] for i in range(48)],
                          "经度": gcj_lon.round(7), "纬度": gcj_lat.round(7)})
    frame.to_csv(path, index=False, encoding="gbk")
    return pd.DataFrame({"code": frame["商户编号"], "lon": lon, "lat": lat})


def test_your_own_district_from_an_empty_database_to_a_signed_in_leader_and_supervisor(engine, cli, tmp_path):
    # Long: the README's path, step by step, as one story.
    url = database_url(engine)

    def run(*args):
        result = cli(url, *args)
        assert result.exit_code == 0, (args, result.stderr)
        return result

    extract = tmp_path / "qingyang.osm.pbf"
    write_extract(extract)
    truth = write_register(tmp_path / "商户名册.csv")
    assert cli(url, "status").exit_code == 1  # empty: every gap named
    run("db", "upgrade")
    run("district", "import", extract, "--layer", "boundary", "--osm-relation", RELATION)
    run("district", "import", extract, "--layer", "streets")
    run("ingest", "shops", tmp_path / "商户名册.csv", "--coords", "gcj02")
    run("grids", "save")
    codes = [g["code"] for g in json.loads(run("grids", "list", "--format", "json").stdout)]
    assert len(codes) >= 3

    accounts = tmp_path / "accounts.csv"
    with accounts.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["用户名", "姓名", "角色", "网格", "电话"])
        for i, code in enumerate(codes):
            writer.writerow([f"leader{i + 1}", f"邻铺长{i + 1}", "邻铺长", code, f"1380000{i:04d}"])
        writer.writerow(["supervisor", "街道督办", "督办员", "", ""])
    run("users", "import", accounts, "--passwords-out", tmp_path / "passwords.csv")
    team = tmp_path / "team.csv"
    team.write_text("网格,成员类别,姓名,电话\n" + "".join(
        f"{code},{kind},{kind}{code},\n" for code in codes for kind in ("物业", "治安", "消防")), encoding="utf-8")
    run("members", "import", team)
    run("schedules", "set", "gas", "30")
    status = json.loads(cli(url, "status", "--json").stdout)
    assert [i["key"] for i in status if not i["ok"]] == []

    with open(tmp_path / "passwords.csv", encoding="utf-8") as handle:
        passwords = {row["username"]: row["one_time_password"] for row in csv.DictReader(handle)}
    with transaction(engine) as session:
        assert sign_in(session, "leader1", passwords["leader1"])
        assert must_change_password(session, "leader1")
        change_password(session, "leader1", passwords["leader1"], "qingyang-leader-1")
        assert sign_in(session, "leader1", "qingyang-leader-1")
        leader = grid_layer(session, viewer_for(session, "leader1"))
        supervisor = grid_layer(session, viewer_for(session, "supervisor"))
        stored = pd.DataFrame(session.execute(select(Shop.shop_code, Shop.geometry)).all(),
                              columns=["code", "geometry"])
    assert list(leader["code"]) == [codes[0]]
    assert sorted(supervisor["code"]) == sorted(codes)
    assert int(supervisor["n_shops"].sum()) == 48
    # Stored in WGS84: AMap's offset (hundreds of metres here) was taken off on the way in.
    merged = stored.merge(truth, on="code")
    off = np.hypot(merged["geometry"].map(lambda p: p.x) - merged["lon"],
                   merged["geometry"].map(lambda p: p.y) - merged["lat"]) * 111_000
    assert off.max() < 1.0
