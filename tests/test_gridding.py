"""Behaviour of the gridding engine on small synthetic layouts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from geo.gridding import GriddingError, build_grids, grid_quality, update_grids

TO_LONLAT = Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)
ORIGIN = (400_000.0, 2_777_000.0)  # near Quangang, in EPSG:4549 metres


def lonlat_frame(xy, **columns) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float) + ORIGIN
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def metric_polygon(coords, holes=()) -> gpd.GeoSeries:
    poly = shapely.Polygon(np.asarray(coords) + ORIGIN, [np.asarray(h) + ORIGIN for h in holes])
    return gpd.GeoSeries([poly], crs="EPSG:4549").to_crs("EPSG:4326")


def metric_lines(lines, classes) -> gpd.GeoDataFrame:
    geoms = [shapely.LineString(np.asarray(line) + ORIGIN) for line in lines]
    return gpd.GeoDataFrame({"class": classes}, geometry=geoms, crs="EPSG:4549").to_crs("EPSG:4326")


def straight_street(n=40, spacing=8.0):
    # Shops on both sides of one east-west street.
    x = np.arange(n) // 2 * spacing
    y = np.where(np.arange(n) % 2 == 0, 8.0, -8.0)
    return lonlat_frame(np.c_[x, y], name=[f"shop {i}" for i in range(n)])


def crossroads():
    rng = np.random.default_rng(3)
    along = rng.uniform(12, 200, size=(4, 30))
    side = rng.choice([-9.0, 9.0], size=(4, 30))
    arms = [
        np.c_[along[0], side[0]],
        np.c_[-along[1], side[1]],
        np.c_[side[2], along[2]],
        np.c_[side[3], -along[3]],
    ]
    return lonlat_frame(np.vstack(arms))


def river_district():
    """Two banks of shops; a 40 m wide river runs north-south through the middle."""
    rng = np.random.default_rng(5)
    west = np.c_[rng.uniform(5, 175, 60), rng.uniform(5, 395, 60)]
    east = np.c_[rng.uniform(225, 395, 60), rng.uniform(5, 395, 60)]
    shops = lonlat_frame(np.vstack([west, east]), bank=["west"] * 60 + ["east"] * 60)
    boundary = metric_polygon(
        [(0, 0), (400, 0), (400, 400), (0, 400)],
        holes=[[(180, -10 + 10.001), (220, 0.001), (220, 399.999), (180, 399.999)]],
    )
    return shops, boundary


def assert_sound(grids, shops, codes, boundary=None):
    """The properties every gridding must have, as a user would check them."""
    metric = grids.to_crs(4549)
    assert metric.geometry.is_valid.all()
    assert (metric.geometry.geom_type == "Polygon").all(), "every grid is a single polygon"
    # Neighbours share their border vertex for vertex, in the output CRS too.
    assert shapely.coverage_is_valid(grids.geometry.values)
    report = grid_quality(grids, shops, shop_codes=codes, boundary=boundary)
    assert report["overlap_area_m2"] < 1e-3
    assert report["gap_area_m2"] < 1e-3
    assert report["shops_outside_own_grid"] == 0
    assert codes.index.equals(shops.index)
    counts = codes.value_counts()
    assert dict(zip(grids.code, grids.n_shops, strict=True)) == counts.reindex(grids.code).to_dict()
    return report


def test_straight_street_gives_balanced_single_part_grids():
    shops = straight_street(40)
    grids, codes = build_grids(shops)
    assert_sound(grids, shops, codes)
    assert sorted(grids.n_shops) == [10, 10, 10, 10]


def test_codes_run_north_to_south_then_west_to_east():
    # Four clusters of ten shops: north-west, north-east, south-west, south-east.
    rng = np.random.default_rng(1)
    centres = {"NW": (0, 300), "NE": (300, 300), "SW": (0, 0), "SE": (300, 0)}
    xy = np.vstack([np.asarray(c) + rng.uniform(-20, 20, size=(10, 2)) for c in centres.values()])
    shops = lonlat_frame(xy, cluster=np.repeat(list(centres), 10))
    grids, codes = build_grids(shops)
    by_cluster = shops.assign(code=codes).groupby("cluster")["code"].agg(set)
    assert by_cluster.to_dict() == {"NW": {"G001"}, "NE": {"G002"}, "SW": {"G003"}, "SE": {"G004"}}
    named, _ = build_grids(shops, prefix="QG-")
    assert list(named.code) == ["QG-001", "QG-002", "QG-003", "QG-004"]


def test_sizes_stay_within_bounds_for_awkward_totals():
    for n in (8, 16, 17, 23, 61):
        shops = straight_street(n)
        grids, codes = build_grids(shops)
        assert grids.n_shops.between(8, 12).all(), (n, list(grids.n_shops))
        assert grids.n_shops.sum() == n


def test_impossible_total_is_reported_not_silent():
    # 13 shops cannot make grids of 8 to 12.
    shops = straight_street(13)
    with pytest.warns(UserWarning, match="outside"):
        grids, codes = build_grids(shops)
    report = grid_quality(grids, shops, shop_codes=codes)
    assert report["size"]["out_of_bounds"] == ["G001"]
    assert report["size"]["share_within_bounds"] == 0.0


def test_crossroads_grids_do_not_straddle_the_main_roads():
    shops = crossroads()
    streets = metric_lines([[(-250, 0), (250, 0)], [(0, -250), (0, 250)]], ["main", "main"])
    grids, codes = build_grids(shops, streets=streets)
    report = assert_sound(grids, shops, codes)
    report = grid_quality(grids, shops, shop_codes=codes, streets=streets)
    assert report["straddling_main_road_share"] == 0.0
    assert report["size"]["share_within_bounds"] == 1.0


def test_mall_becomes_one_flagged_building_grid():
    street = straight_street(40)
    mall = lonlat_frame(np.tile([[80.0, 40.0]], (35, 1)), name=[f"mall {i}" for i in range(35)])
    shops = gpd.GeoDataFrame(gpd.pd.concat([street, mall], ignore_index=True), crs="EPSG:4326")
    grids, codes = build_grids(shops)
    assert_sound(grids, shops, codes)
    building = grids[grids.building]
    assert len(building) == 1 and building.n_shops.iloc[0] == 35
    assert codes.iloc[-35:].nunique() == 1
    assert grids[~grids.building].n_shops.between(8, 12).all()
    report = grid_quality(grids, shops, shop_codes=codes)
    assert report["building_grids"] == 1 and report["size"]["share_within_bounds"] == 1.0


def test_river_hole_is_left_out_and_no_grid_crosses_it():
    shops, boundary = river_district()
    grids, codes = build_grids(shops, boundary=boundary)
    assert_sound(grids, shops, codes, boundary=boundary)
    river = shapely.box(185, 5, 215, 395)
    river = (
        gpd.GeoSeries([shapely.affinity.translate(river, *ORIGIN)], crs=4549).to_crs(4326).iloc[0]
    )
    assert not grids.intersects(river).any()
    banks = shops.assign(code=codes).groupby("code")["bank"].nunique()
    assert (banks == 1).all(), "a grid holds shops of both banks"


def test_same_input_and_seed_give_same_grids():
    shops = crossroads()
    a, codes_a = build_grids(shops, seed=4)
    b, codes_b = build_grids(shops, seed=4)
    assert codes_a.equals(codes_b)
    assert a.geom_equals(b).all()


def test_inputs_are_not_modified():
    shops = crossroads()
    streets = metric_lines([[(-250, 0), (250, 0)]], ["main"])
    boundary = metric_polygon([(-300, -300), (300, -300), (300, 300), (-300, 300)])
    before = (shops.copy(), streets.copy(), boundary.copy())
    grids, codes = build_grids(shops, streets=streets, boundary=boundary)
    update_grids(grids, shops.iloc[5:])
    for frame, copy in zip((shops, streets, boundary), before, strict=True):
        assert frame.equals(copy)
        assert frame.crs == copy.crs


def test_result_is_in_the_input_crs():
    shops = crossroads().to_crs(3857)
    grids, _ = build_grids(shops)
    assert grids.crs == shops.crs


@pytest.mark.parametrize(
    ("make", "found"),
    [
        (lambda s: s.iloc[:0], "empty"),
        (lambda s: s.iloc[:5], "found 5 shops"),
        (
            lambda s: s.set_geometry(
                gpd.GeoSeries(shapely.buffer(s.geometry.values, 1e-5), index=s.index, crs=s.crs)
            ),
            "not points",
        ),
        (lambda s: s.set_crs(None, allow_override=True), "no CRS"),
        (
            lambda s: s.set_geometry(
                gpd.GeoSeries(
                    [shapely.Point(np.nan, 25.0)] + list(s.geometry[1:]), index=s.index, crs=s.crs
                )
            ),
            "NaN or infinite",
        ),
        (
            lambda s: s.set_geometry(
                gpd.GeoSeries(
                    [shapely.Point(np.inf, 25.0), *s.geometry[1:]], index=s.index, crs=s.crs
                )
            ),
            "NaN or infinite",
        ),
    ],
)
def test_bad_shops_are_rejected_with_what_was_found(make, found):
    with pytest.raises(GriddingError, match=found):
        build_grids(make(crossroads()))


def test_bad_sizes_are_rejected():
    with pytest.raises(GriddingError, match="min_size <= target <= max_size"):
        build_grids(crossroads(), min_size=11, target=10, max_size=12)


def test_shops_outside_the_boundary_are_rejected():
    boundary = metric_polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    with pytest.raises(GriddingError, match="outside the boundary"):
        build_grids(crossroads(), boundary=boundary)


def test_grid_errors_are_value_errors():
    assert issubclass(GriddingError, ValueError)
