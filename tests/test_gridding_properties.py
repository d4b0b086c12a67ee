"""Property-based tests of the gridding engine (issue 7).

Random shop sets (clustered, collinear, with duplicate points, tiny and
large) go through ``geo.gridding.build_grids``; every invariant the engine
promises must hold for each of them:

- polygons valid, single-part, pairwise disjoint, and together covering the
  district (here the shops' buffered hull, so the gap is holes in the union);
- every shop lies inside its own grid's polygon, and grid sizes agree with
  the shop assignment;
- every non-building grid has between ``min_size`` and ``max_size`` shops
  whenever the input allows it (distinct points and a count that can be
  split), and otherwise the out-of-bounds grids are named in a warning
  (never a silent overflow); building grids are single locations above
  ``max_size``;
- the input frame is not modified and the result is deterministic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.gridding import build_grids, grid_quality

LON0, LAT0 = 118.90, 25.10
# About 1 m in degrees at this latitude.
M = 1e-5

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _feasible(n: int, lo: int, hi: int) -> bool:
    """Some number k of grids makes every size fit: k*lo <= n <= k*hi."""
    return any(k * lo <= n <= k * hi for k in range(1, n // lo + 1))


@st.composite
def shop_sets(draw):
    """(points in metres relative to the origin, layout name)."""
    layout = draw(st.sampled_from(["uniform", "clustered", "collinear", "duplicates", "street_grid"]))
    n = draw(st.one_of(st.integers(8, 40), st.integers(40, 400)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if layout == "uniform":
        xy = rng.uniform(0, draw(st.sampled_from([50.0, 500.0, 3000.0])), size=(n, 2))
    elif layout == "clustered":
        k = draw(st.integers(1, 6))
        centres = rng.uniform(0, 2000, size=(k, 2))
        spread = draw(st.sampled_from([2.0, 20.0, 100.0]))
        xy = centres[rng.integers(0, k, n)] + rng.normal(0, spread, size=(n, 2))
    elif layout == "collinear":
        t = rng.uniform(0, draw(st.sampled_from([100.0, 1000.0])), n)
        angle = draw(st.sampled_from([0.0, 0.5, np.pi / 2, 1.0]))
        xy = np.c_[t * np.cos(angle), t * np.sin(angle)]
    elif layout == "duplicates":
        # A few spots carry several shops each (upper floors, a market hall).
        k = draw(st.integers(2, max(2, n // 3)))
        spots = rng.uniform(0, 800, size=(k, 2))
        xy = spots[rng.integers(0, k, n)]
    else:
        side = int(np.ceil(np.sqrt(n)))
        gx, gy = np.meshgrid(np.arange(side), np.arange(side))
        xy = (np.c_[gx.ravel(), gy.ravel()][:n] * 15.0).astype(float)
    return np.round(xy, 3), layout


def _frame(xy: np.ndarray) -> gpd.GeoDataFrame:
    lon = LON0 + xy[:, 0] * M
    lat = LAT0 + xy[:, 1] * M
    # A non-default index proves results are aligned to the input's own index.
    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(xy))]},
                            geometry=shapely.points(lon, lat), crs=4326,
                            index=np.arange(len(xy)) * 7 + 3)


def _check_invariants(shops: gpd.GeoDataFrame, grids, codes, caught, *, lo: int, hi: int,
                      counts_decide_sizes: bool = True) -> None:
    """Every invariant of a built layer.  With ``counts_decide_sizes``, sizes must be in bounds
    whenever the shop count allows it; without (clusters far apart), a cluster joined to the others
    through a single shop can make a count that fits impossible for grids in one piece each, and
    only the warning naming every out-of-bounds grid is required."""
    quality = grid_quality(grids, shops, shop_codes=codes, min_size=lo, max_size=hi)
    assert quality["invalid_polygons"] == 0, quality
    assert quality["parts_per_polygon"]["multi_part_grids"] == 0, quality
    assert quality["overlap_area_m2"] <= 0.01, quality
    assert quality["gap_area_m2"] <= 0.01, quality
    assert quality["shops_outside_own_grid"] == 0, quality

    # Independent checks with shapely in the metric CRS.
    metric = grids.to_crs(quality["crs"])
    geoms = metric.geometry.values
    assert shapely.is_valid(geoms).all()
    assert (shapely.get_type_id(geoms) == 3).all(), "every grid is one Polygon"
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j:
            assert shapely.intersection(geoms[i], geoms[j]).area < 1e-3, (grids.code[i], grids.code[j])
    assert codes.index.equals(shops.index)
    assert set(codes) == set(grids.code)
    counts = codes.value_counts()
    assert (grids.set_index("code").n_shops == counts.reindex(grids.code).to_numpy()).all()
    assert int(grids.n_shops.sum()) == len(shops)
    assert grids.code.is_unique

    xy = shapely.get_coordinates(shops.to_crs(quality["crs"]).geometry.values)
    distinct = len(np.unique(np.round(xy, 1), axis=0))
    building = grids["building"].to_numpy(dtype=bool)
    sizes = grids.n_shops.to_numpy()
    out = ~building & ((sizes < lo) | (sizes > hi))
    # Building grids hold a single location with more than max_size shops.
    for code in grids.code[building]:
        members = np.round(xy[(codes == code).to_numpy()], 1)
        assert len(np.unique(members, axis=0)) == 1 and len(members) > hi, code
    if counts_decide_sizes and distinct == len(shops) and _feasible(len(shops), lo, hi):
        assert not out.any(), f"sizes out of bounds though the input allows it: {sizes[out]}"
    if out.any():
        text = " ".join(str(w.message) for w in caught)
        for code in grids.code[out]:
            assert code in text, f"{code} is out of bounds without a warning naming it"


@SETTINGS
@given(data=shop_sets(), bounds=st.sampled_from([(10, 8, 12), (6, 4, 8), (10, 5, 15)]))
def test_random_shop_sets_keep_every_gridding_invariant(data, bounds):
    xy, layout = data
    target, lo, hi = bounds
    shops = _frame(xy)
    before = shops.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grids, codes = build_grids(shops, target=target, min_size=lo, max_size=hi)
    assert shops.equals(before), "build_grids modified its input"
    _check_invariants(shops, grids, codes, caught, lo=lo, hi=hi, counts_decide_sizes=layout != "clustered")


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=shop_sets())
def test_gridding_is_deterministic(data):
    xy, _ = data
    shops = _frame(xy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = build_grids(shops)
        second = build_grids(shops.copy())
    assert first[1].equals(second[1])
    assert first[0].geometry.geom_equals_exact(second[0].geometry, 1e-9).all()


@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(13, 60), seed=st.integers(0, 1000))
def test_malls_at_one_coordinate_become_flagged_building_grids(n, seed):
    """A mall (more than max_size shops at one point) among street shops."""
    rng = np.random.default_rng(seed)
    street = np.c_[rng.uniform(0, 600, 40), rng.uniform(0, 30, 40)]
    mall = np.repeat([[300.0, 300.0]], n, axis=0)
    shops = _frame(np.round(np.r_[street, mall], 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grids, codes = build_grids(shops)
    _check_invariants(shops, grids, codes, caught, lo=8, hi=12)
    assert grids["building"].sum() == 1
    assert int(grids.loc[grids.building, "n_shops"].iloc[0]) == n


FUZZ = Path(__file__).with_name("data") / "fuzz"


@pytest.mark.parametrize(("seed_file", "bounds"), [
    ("gridding_collinear_shop_outside.csv", (10, 8, 12)),  # 276 shops on one straight line
    ("gridding_clustered_shop_outside.csv", (10, 5, 15)),  # 179 shops in tight clusters
    ("gridding_cut_cell_two_parts.csv", (6, 4, 8)),  # 10 shops over 3 km: the hull cuts a cell in two
    # 24 shops in three clusters; the middle one's single shop links both others: 11 + 13 is the only
    # split into grids in one piece, and the 13 is warned about.
    ("gridding_clusters_joined_by_one_shop.csv", (10, 8, 12)),
])
def test_every_invariant_holds_for_the_layouts_the_property_test_found(seed_file, bounds):
    """Found by the property test above; coordinates in metres from (LON0, LAT0).  The first two put
    a shop centimetres outside its grid (it lay a few cm from its location's point, on the neighbour's
    side of the border); the third made a grid in two pieces (two of its cells touched only through
    the far piece of a cell that the district's outline cut in two); the fourth fits 24 = 12 + 12 by
    count only."""
    xy = np.loadtxt(FUZZ / seed_file, delimiter=",")
    shops = _frame(xy)
    target, lo, hi = bounds
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grids, codes = build_grids(shops, target=target, min_size=lo, max_size=hi)
    _check_invariants(shops, grids, codes, caught, lo=lo, hi=hi, counts_decide_sizes="clusters" not in seed_file)
