"""geo.coords: GCJ-02 / BD-09 conversions round-trip within 0.5 m in China."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo.coords import (
    bd09_to_wgs84,
    convert,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def china_sample(n: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    return rng.uniform(73.7, 135.0, n), rng.uniform(18.2, 53.5, n)


def test_gcj02_round_trip_is_within_half_a_metre_across_china():
    lon, lat = china_sample()
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.5


def test_bd09_round_trip_is_within_half_a_metre_across_china():
    lon, lat = china_sample()
    back_lon, back_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(lon, lat, back_lon, back_lat).max() < 0.5


def test_offset_in_quanzhou_is_a_few_hundred_metres():
    # The district lies near 118.90 E, 25.12 N; GCJ-02 moves it by roughly 500 m.
    lon, lat = wgs84_to_gcj02([118.9], [25.12])
    shift = metres(118.9, 25.12, lon[0], lat[0])
    assert 200 < shift < 900
    bd_lon, bd_lat = wgs84_to_bd09([118.9], [25.12])
    assert 500 < metres(118.9, 25.12, bd_lon[0], bd_lat[0]) < 2000


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (139.7, 35.7), (0.0, 0.0)],
)
def test_points_outside_china_are_unchanged_by_gcj02(lon, lat):
    assert wgs84_to_gcj02([lon], [lat]) == ([lon], [lat])
    out_lon, out_lat = gcj02_to_wgs84([lon], [lat])
    assert (out_lon[0], out_lat[0]) == (lon, lat)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=73.7, max_value=135.0),
    st.floats(min_value=18.2, max_value=53.5),
    st.sampled_from(["gcj02", "bd09"]),
)
def test_any_system_round_trips(lon, lat, system):
    there = convert([lon], [lat], source="wgs84", target=system)
    back = convert(*there, source=system, target="wgs84")
    assert metres(lon, lat, back[0][0], back[1][0]) < 0.5


def test_convert_rejects_unknown_system():
    with pytest.raises(ValueError, match="unknown coordinate system 'mars'"):
        convert([1.0], [2.0], source="mars", target="wgs84")


def test_to_wgs84_returns_a_new_frame_and_leaves_the_input_alone():
    gcj_lon, gcj_lat = wgs84_to_gcj02([118.9, 118.91], [25.12, 25.13])
    frame = gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=gpd.points_from_xy(gcj_lon, gcj_lat), crs=4326
    )
    before = frame.copy()
    result = to_wgs84(frame, source="gcj02")
    assert frame.geom_equals(before).all()
    assert result["name"].tolist() == ["a", "b"]
    assert metres(result.geometry.x.to_numpy(), result.geometry.y.to_numpy(),
                  [118.9, 118.91], [25.12, 25.13]).max() < 0.5


def test_to_wgs84_refuses_projected_points():
    projected = gpd.GeoSeries([shapely.Point(500000, 2780000)], crs=4549)
    with pytest.raises(ValueError, match="EPSG:4326"):
        to_wgs84(projected, source="gcj02")
