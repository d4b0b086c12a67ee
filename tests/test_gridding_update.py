"""update_grids: local repair after shops open and close, keeping codes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geo.gridding import GriddingError, build_grids, grid_quality, update_grids

TO_LONLAT = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
ORIGIN = np.array([400_000.0, 2_777_000.0])


def shops_at(xy, start=0) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float) + ORIGIN
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    index = pd.RangeIndex(start, start + len(xy))
    return gpd.GeoDataFrame(
        {"shop_id": [f"S{i}" for i in index]},
        geometry=gpd.points_from_xy(lon, lat),
        crs="EPSG:4326",
        index=index,
    )


@pytest.fixture(scope="module")
def district():
    rng = np.random.default_rng(11)
    shops = shops_at(rng.uniform(0, [400, 250], size=(100, 2)))
    grids, codes = build_grids(shops)
    return shops, grids, codes


def metric_xy(frame):
    return np.c_[frame.to_crs(4549).geometry.x, frame.to_crs(4549).geometry.y] - ORIGIN


def test_unchanged_shops_change_nothing(district):
    shops, grids, codes = district
    new, new_codes, changes = update_grids(grids, shops)
    assert new_codes.equals(codes)
    assert changes.shops_moved == 0 and changes.reshaped == []
    assert new.geom_equals(grids).all()


def test_closing_shops_repairs_only_the_grids_involved(district):
    shops, grids, codes = district
    victim = grids.code.iloc[3]
    mine = codes.index[codes == victim]
    closed = mine[: len(mine) - 5]  # leaves 5 shops: below min_size
    remaining = shops.drop(closed)
    new, new_codes, changes = update_grids(grids, remaining)

    assert new.n_shops.between(8, 12).all()
    assert set(changes.reshaped) >= {victim} or victim in changes.merged
    untouched = grids[~grids.code.isin(changes.reshaped + changes.retired)]
    after = new.set_index("code").loc[untouched.code]
    assert after.geometry.geom_equals(untouched.set_index("code").geometry).all()
    # Shops of untouched grids keep their code.
    stayed = codes.loc[remaining.index].isin(untouched.code)
    assert (new_codes.loc[remaining.index][stayed] == codes.loc[remaining.index][stayed]).all()
    report = grid_quality(new, remaining, shop_codes=new_codes)
    assert report["shops_outside_own_grid"] == 0
    assert report["overlap_area_m2"] < 1e-2 and report["parts_per_polygon"]["max"] == 1
    assert abs(new.to_crs(4549).area.sum() - grids.to_crs(4549).area.sum()) < 1.0


def test_opening_shops_splits_an_overfull_grid_with_a_new_code(district):
    shops, grids, codes = district
    target = grids.code.iloc[5]
    centre = metric_xy(shops.loc[codes == target]).mean(axis=0)
    rng = np.random.default_rng(2)
    opened = shops_at(centre + rng.normal(0, 3, size=(9, 2)), start=1000)
    new, new_codes, changes = update_grids(grids, pd.concat([shops, opened]))

    assert new.n_shops.between(8, 12).all()
    assert target in new.code.values, "the split grid keeps its code"
    assert changes.appeared == ["G011"] == sorted(set(new.code) - set(grids.code))
    assert set(grids.code) <= set(new.code)
    assert new_codes.loc[opened.index].isin([target, "G011"]).all() or changes.rebalanced


def test_shop_outside_every_grid_is_rejected(district):
    shops, grids, _ = district
    far = shops_at([[5000.0, 5000.0]], start=2000)
    with pytest.raises(GriddingError, match="outside every existing grid"):
        update_grids(grids, pd.concat([shops, far]))


def test_grids_without_code_are_rejected(district):
    shops, grids, _ = district
    with pytest.raises(GriddingError, match="'code' column"):
        update_grids(grids.drop(columns="code"), shops)


def test_update_does_not_modify_inputs(district):
    shops, grids, _ = district
    shops_before, grids_before = shops.copy(), grids.copy()
    update_grids(grids, shops.iloc[10:])
    assert shops.equals(shops_before) and grids.equals(grids_before)


def test_a_new_mall_becomes_its_own_building_grid(district):
    shops, grids, codes = district
    host = grids.code.iloc[4]
    spot = metric_xy(shops.loc[codes == host]).mean(axis=0)
    mall = shops_at(np.tile(spot, (25, 1)), start=3000)
    new, new_codes, changes = update_grids(grids, pd.concat([shops, mall]))

    building = new[new.building]
    assert len(building) == 1 and building.n_shops.iloc[0] == 25
    assert new_codes.loc[mall.index].nunique() == 1
    assert new_codes.loc[mall.index].iloc[0] == building.code.iloc[0] in changes.appeared
    assert new[~new.building].n_shops.between(8, 12).all()
    report = grid_quality(new, pd.concat([shops, mall]), shop_codes=new_codes)
    assert report["shops_outside_own_grid"] == 0 and report["parts_per_polygon"]["max"] == 1


def test_an_emptied_grid_is_retired_and_its_area_taken_over(district):
    shops, grids, codes = district
    gone = grids.code.iloc[2]
    remaining = shops.drop(codes.index[codes == gone])
    new, new_codes, changes = update_grids(grids, remaining)

    assert gone in changes.retired and gone not in set(new.code)
    assert new.n_shops.between(8, 12).all()
    before = grids.to_crs(4549).union_all()
    after = new.to_crs(4549).union_all()
    assert before.symmetric_difference(after).area < 1e-3
    report = grid_quality(new, remaining, shop_codes=new_codes)
    assert report["overlap_area_m2"] < 1e-3 and report["parts_per_polygon"]["max"] == 1
    assert report["shops_outside_own_grid"] == 0


def test_far_from_quanzhou_a_local_utm_zone_is_used():
    from geo.gridding import metric_crs

    rng = np.random.default_rng(4)
    lon = 2.35 + rng.uniform(0, 0.003, 40)
    lat = 48.85 + rng.uniform(0, 0.002, 40)
    shops = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    assert metric_crs(shops).to_epsg() == 32631
    grids, codes = build_grids(shops)
    assert grids.crs == shops.crs and grids.n_shops.sum() == 40
    assert grid_quality(grids, shops, shop_codes=codes)["shops_outside_own_grid"] == 0


def test_repeated_updates_stay_sound(district):
    shops, grids, codes = district
    rng = np.random.default_rng(9)
    current = shops
    for round_ in range(4):
        closed = rng.choice(current.index, size=4, replace=False)
        parents = metric_xy(current.drop(closed).sample(4, random_state=round_))
        opened = shops_at(parents + rng.uniform(-4, 4, size=(4, 2)), start=5000 + 10 * round_)
        current = pd.concat([current.drop(closed), opened])
        grids, codes, _ = update_grids(grids, current)
        assert grids.is_valid.all() and (grids.geom_type == "Polygon").all()
        assert grids.n_shops.between(8, 12).all()
        report = grid_quality(grids, current, shop_codes=codes)
        assert report["shops_outside_own_grid"] == 0
        assert report["overlap_area_m2"] < 0.01 and report["gap_area_m2"] < 0.01


def test_a_shop_opened_beside_a_neighbour_across_a_border_joins_it_and_the_border_moves():
    """Two shops a few centimetres apart share an entrance, hence a grid, even when the new one
    stands on the other side of the old border: both grids are redrawn so that it lies inside."""
    west = [(-40 + 4 * i, 5.0) for i in range(9)] + [(-0.03, 5.0)]
    east = [(4 + 4 * i, 5.0) for i in range(10)]
    shops = shops_at(west + east)
    square = lambda x0, x1: shapely.box(x0, -20, x1, 30)  # noqa: E731
    polygons = gpd.GeoSeries([square(-60, 0), square(0, 60)], crs=4549).translate(*ORIGIN).to_crs(4326)
    grids = gpd.GeoDataFrame({"code": ["G001", "G002"]}, geometry=polygons.values, crs=4326)
    opened = pd.concat([shops, shops_at([(0.03, 5.0)], start=100)])
    assert grids.geometry[1].covers(opened.geometry[100]), "the new shop stands in the eastern grid"

    new, codes, changes = update_grids(grids, opened)

    assert codes[100] == codes[9] == "G001"
    own = new.set_index("code").geometry
    assert own["G001"].covers(opened.geometry[100]) and own["G001"].covers(opened.geometry[9])
    assert sorted(changes.reshaped) == ["G001", "G002"]
    quality = grid_quality(new, opened, shop_codes=codes)
    assert quality["shops_outside_own_grid"] == 0
    assert quality["gap_area_m2"] < 0.01 and quality["overlap_area_m2"] < 0.01
