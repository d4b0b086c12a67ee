"""grid_quality finds the faults a reviewer of a gridding looks for."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.gridding import grid_quality

CRS = "EPSG:4549"
X0, Y0 = 400_000.0, 2_777_000.0


def boxes(*specs, codes=None):
    geoms = [shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d) for a, b, c, d in specs]
    codes = codes or [f"G{i + 1:03d}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=CRS)


def shops_in(*cells, per=10):
    rng = np.random.default_rng(0)
    pts = []
    for a, b, c, d in cells:
        pts.append(rng.uniform([a + 1, b + 1], [c - 1, d - 1], size=(per, 2)) + [X0, Y0])
    return gpd.GeoDataFrame(geometry=shapely.points(np.vstack(pts)), crs=CRS)


def test_clean_tiling_scores_clean():
    cells = [(0, 0, 100, 100), (100, 0, 200, 100)]
    grids, shops = boxes(*cells), shops_in(*cells)
    boundary = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 200, Y0 + 100)], crs=CRS)
    report = grid_quality(grids, shops, boundary=boundary)
    assert report["gap_area_m2"] == 0 and report["overlap_area_m2"] == 0
    assert report["shops_outside_own_grid"] == 0
    assert report["size"] == {
        "min": 10.0,
        "median": 10.0,
        "max": 10.0,
        "share_within_bounds": 1.0,
        "out_of_bounds": [],
        "bounds": [8, 12],
    }
    assert abs(report["polsby_popper"]["mean"] - np.pi / 4) < 1e-9  # a square
    assert report["walking_span_m"]["max"] < 100 * np.sqrt(2)


def test_gap_overlap_parts_and_strays_are_measured():
    grids = boxes((0, 0, 100, 100), (90, 0, 190, 100))  # 10 m overlap
    two_parts = shapely.MultiPolygon(
        [shapely.box(X0 + 300, Y0, X0 + 350, Y0 + 50), shapely.box(X0 + 400, Y0, X0 + 450, Y0 + 50)]
    )
    grids = pd.concat(
        [grids, gpd.GeoDataFrame({"code": ["G003"]}, geometry=[two_parts], crs=CRS)],
        ignore_index=True,
    )
    shops = shops_in((0, 0, 90, 100), (100, 0, 190, 100), (300, 0, 350, 50))
    stray = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 250, Y0 + 50)], crs=CRS)
    shops = pd.concat([shops, stray], ignore_index=True)
    boundary = gpd.GeoSeries([shapely.box(X0, Y0, X0 + 450, Y0 + 100)], crs=CRS)

    report = grid_quality(grids, shops, boundary=boundary)
    assert abs(report["overlap_area_m2"] - 10 * 100) < 1e-6
    assert report["gap_area_m2"] > 0
    assert report["parts_per_polygon"] == {"max": 2, "multi_part_grids": 1}
    assert report["shops_outside_own_grid"] == 1


def test_main_road_straddling_share():
    cells = [(0, 0, 100, 100), (100, 0, 200, 100)]
    grids, shops = boxes(*cells), shops_in(*cells)
    road = gpd.GeoDataFrame(
        {"class": ["main", "lane"]},
        geometry=[
            shapely.LineString([(X0 + 50, Y0 - 10), (X0 + 50, Y0 + 110)]),
            shapely.LineString([(X0 + 150, Y0 - 10), (X0 + 150, Y0 + 110)]),
        ],
        crs=CRS,
    )
    report = grid_quality(grids, shops, streets=road)
    assert report["straddling_main_road_share"] == 0.5


def test_mall_grids_are_counted_apart():
    grids = boxes((0, 0, 100, 100), (100, 0, 200, 100)).assign(building=[False, True])
    shops = shops_in((0, 0, 100, 100))
    mall = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 150, Y0 + 50)] * 40, crs=CRS)
    report = grid_quality(grids, pd.concat([shops, mall], ignore_index=True))
    assert report["building_grids"] == 1 and report["shops_in_building_grids"] == 40
    assert report["size"]["max"] == 10 and report["size"]["share_within_bounds"] == 1.0
